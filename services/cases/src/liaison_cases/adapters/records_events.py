"""The cases service's own reading of records events: only the fields it uses."""

from pydantic import BaseModel


class OpinionRead(BaseModel):
    opinion_id: str
    kind: str
    text: str
    person_id: str | None
    household_id: str | None


class VisitRead(BaseModel):
    visit_id: str
    station_id: str
    deputy_ids: list[str]
    opinions: list[OpinionRead]


class ActivityRead(BaseModel):
    activity_id: str
    station_id: str
    deputy_ids: list[str]
    opinions: list[OpinionRead]


class ErasedRead(BaseModel):
    person_id: str
