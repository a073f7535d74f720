"""Events the records service publishes (topics ``records.<aggregate>.v1``).

Consumers read them through their own models; the examples here are what the contract
test feeds those models. Protected values (ID numbers, street addresses) never leave
records; a deputy's reachable channels do, because notify must deliver to them.
"""

from datetime import date
from typing import Self

from liaison_infra.envelope import Event
from pydantic import BaseModel, Field

PERSON_TOPIC = "records.person.v1"


class PersonSnapshot(BaseModel):
    """What other services may know of a person: enough to link and to plan, no secrets."""

    person_id: str
    station_id: str
    district_id: str | None
    category: str
    name: str
    status: str
    household_id: str | None
    hardship: list[str]
    birth_year: int | None


def _person_example() -> dict[str, object]:
    return {
        "person_id": "p-7f3a",
        "station_id": "st-shengli",
        "district_id": "d-yufeng",
        "category": "returnee",
        "name": "陈小明",
        "status": "active",
        "household_id": "h-0012",
        "hardship": ["living_alone"],
        "birth_year": 1948,
    }


class ReturneeRegistered(Event):
    event_type = "returnee.registered"
    topic = PERSON_TOPIC
    person: PersonSnapshot

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls(person=PersonSnapshot.model_validate(_person_example()))]


class ReturneeUpdated(Event):
    event_type = "returnee.updated"
    topic = PERSON_TOPIC
    person: PersonSnapshot
    changed_fields: list[str]

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls(person=PersonSnapshot.model_validate(_person_example()), changed_fields=["hardship"])]


class ReturneeArchived(Event):
    """A file was closed; ``merged_into`` names the file that now holds it after a merge."""

    event_type = "returnee.archived"
    topic = PERSON_TOPIC
    person_id: str
    status: str
    merged_into: str | None = None

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(person_id="p-7f3a", status="deceased"),
            cls(person_id="p-9c1d", status="archived", merged_into="p-7f3a"),
        ]


class ReturneeErased(Event):
    """Every service must purge its copies of this person's personal data."""

    event_type = "returnee.erased"
    topic = PERSON_TOPIC
    person_id: str

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls(person_id="p-7f3a")]


class HouseholdMember(BaseModel):
    person_id: str
    relation_to_head: str


class HouseholdChanged(Event):
    event_type = "household.changed"
    topic = "records.household.v1"
    household_id: str
    station_id: str
    head_person_id: str | None
    members: list[HouseholdMember]
    deputy_id: str | None
    hardship: bool
    elderly: bool

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                household_id="h-0012",
                station_id="st-shengli",
                head_person_id="p-7f3a",
                members=[HouseholdMember(person_id="p-7f3a", relation_to_head="self")],
                deputy_id="dep-li",
                hardship=True,
                elderly=True,
            )
        ]


class AssignmentChanged(Event):
    """A household's responsible deputy changed (a single move or a change of term, 换届)."""

    event_type = "assignment.changed"
    topic = "records.assignment.v1"
    household_id: str
    station_id: str
    previous_deputy_id: str | None
    deputy_id: str | None
    reason: str

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                household_id="h-0012",
                station_id="st-shengli",
                previous_deputy_id="dep-li",
                deputy_id="dep-wang",
                reason="change of term",
            )
        ]


class DeputyChannels(BaseModel):
    mobile: str | None = None
    wecom_id: str | None = None
    dingtalk_id: str | None = None
    email: str | None = None
    preferences: list[str] = []


class DeputyRegistered(Event):
    event_type = "deputy.registered"
    topic = "records.deputy.v1"
    deputy_id: str
    name: str
    level: str
    station_ids: list[str]
    channels: DeputyChannels
    term_start: date | None
    term_end: date | None

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                deputy_id="dep-li",
                name="李华",
                level="district",
                station_ids=["st-shengli"],
                channels=DeputyChannels(mobile="13800000000", wecom_id="lihua", preferences=["wecom", "sms"]),
                term_start=date(2022, 1, 1),
                term_end=date(2026, 12, 31),
            )
        ]


class DeputyUpdated(DeputyRegistered):
    event_type = "deputy.updated"


class Opinion(BaseModel):
    """One opinion, suggestion or request raised; cases opens one case for each, exactly once."""

    opinion_id: str
    kind: str
    text: str
    person_id: str | None
    household_id: str | None


class VisitLogged(Event):
    event_type = "visit.logged"
    topic = "records.visit.v1"
    visit_id: str
    station_id: str
    kind: str
    visited_on: date
    deputy_ids: list[str]
    household_ids: list[str]
    person_ids: list[str]
    attendees: int | None = None
    opinions: list[Opinion]

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                visit_id="v-0001",
                station_id="st-shengli",
                kind="household_visit",
                visited_on=date(2026, 11, 12),
                deputy_ids=["dep-li"],
                household_ids=["h-0012"],
                person_ids=["p-7f3a"],
                opinions=[
                    Opinion(
                        opinion_id="v-0001-1",
                        kind="request",
                        text="楼道灯坏了，希望尽快修好",
                        person_id="p-7f3a",
                        household_id="h-0012",
                    )
                ],
            )
        ]


class ActivityHeld(Event):
    event_type = "activity.held"
    topic = "records.activity.v1"
    activity_id: str
    station_id: str
    kind: str
    held_on: date
    title: str
    deputy_ids: list[str]
    household_ids: list[str] = Field(default_factory=list)
    person_ids: list[str] = Field(default_factory=list)
    attendees: int
    opinions: list[Opinion]

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                activity_id="a-0001",
                station_id="st-shengli",
                kind="lecture",
                held_on=date(2026, 10, 20),
                title="侨法宣讲",
                deputy_ids=["dep-li"],
                attendees=42,
                opinions=[],
            )
        ]


ORG_TOPIC = "records.org.v1"


class OrgUnitRegistered(Event):
    """A station, district, city or region was created: other services keep the hierarchy from
    these events (cases rolls figures up by city, notify names stations). No contacts travel."""

    event_type = "org_unit.registered"
    topic = ORG_TOPIC
    unit_id: str
    level: str
    name: str
    parent_id: str | None

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(unit_id="st-shengli", level="station", name="胜利社区联络站", parent_id="d-yufeng"),
            cls(unit_id="r-guangxi", level="region", name="广西壮族自治区", parent_id=None),
        ]


class OrgUnitUpdated(OrgUnitRegistered):
    """A unit was renamed or moved (a district to another city, a city to another region)."""

    event_type = "org_unit.updated"


PUBLISHED = (
    ReturneeRegistered,
    ReturneeUpdated,
    ReturneeArchived,
    ReturneeErased,
    HouseholdChanged,
    AssignmentChanged,
    DeputyRegistered,
    DeputyUpdated,
    VisitLogged,
    ActivityHeld,
    OrgUnitRegistered,
    OrgUnitUpdated,
)
