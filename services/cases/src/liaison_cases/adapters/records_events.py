"""The cases service's own reading of records events: only the fields it uses (the contract
test checks these against records' examples)."""

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


class PersonRead(BaseModel):
    """A person as cases keeps them: enough to name an originator, nothing more."""

    person_id: str
    station_id: str
    name: str
    status: str
    household_id: str | None


class PersonChangedRead(BaseModel):
    """returnee.registered and returnee.updated both carry the whole snapshot."""

    person: PersonRead


class ArchivedRead(BaseModel):
    person_id: str
    status: str
    merged_into: str | None = None


class MemberRead(BaseModel):
    person_id: str


class HouseholdRead(BaseModel):
    household_id: str
    station_id: str
    head_person_id: str | None
    members: list[MemberRead]
    deputy_id: str | None


class AssignmentRead(BaseModel):
    """assignment.changed: a household's responsible deputy, sent apart from household.changed."""

    household_id: str
    station_id: str
    deputy_id: str | None


class DeputyRead(BaseModel):
    """deputy.registered and deputy.updated; the deputy's channels are notify's business."""

    deputy_id: str
    name: str
    level: str
    station_ids: list[str]


class OrgUnitRead(BaseModel):
    """org_unit.registered and org_unit.updated: the unit above a station, district or city."""

    unit_id: str
    parent_id: str | None
