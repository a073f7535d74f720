"""Notify's own reading of the records and cases events it follows: only the fields it uses."""

from datetime import date

from pydantic import BaseModel


class HouseholdRead(BaseModel):
    household_id: str
    station_id: str
    deputy_id: str | None
    hardship: bool
    elderly: bool


class AssignmentRead(BaseModel):
    household_id: str
    station_id: str
    deputy_id: str | None


class VisitRead(BaseModel):
    visit_id: str
    station_id: str
    kind: str  # household_visit (走访) or condolence (慰问)
    visited_on: date
    household_ids: list[str]


class ActivityRead(BaseModel):
    activity_id: str
    station_id: str
    kind: str
    held_on: date


class CaseRead(BaseModel):
    case_id: str
    station_id: str
    state: str
    title: str
    due: date | None
    merged_into: str | None = None  # set on the case a merge answers through another
