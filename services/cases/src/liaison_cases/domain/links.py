"""Who a case came from, as a reader sees it: the ids a case keeps, resolved against the local
read model of records' people, households and deputies.

A case stores only ids, so it stays valid whatever happens to a file: a merged file points to
the file that survived, an erased person shows as erased with neither id nor name, and a file
records has not told us about yet shows as unknown rather than failing the read.
"""

from collections.abc import Mapping

from pydantic import BaseModel

from liaison_cases.domain.cases import Case

ERASED = "erased"
UNKNOWN = "unknown"
MERGE_CHAIN = 5  # a surviving file may itself have been merged since; follow that far


class KnownPerson(BaseModel):
    """A person in the read model; an erased one keeps only their id and status."""

    person_id: str
    status: str
    station_id: str | None = None
    name: str | None = None
    household_id: str | None = None
    merged_into: str | None = None


class KnownDeputy(BaseModel):
    deputy_id: str
    name: str
    level: str
    station_ids: list[str]


class KnownHousehold(BaseModel):
    """A household in the read model; its members and its deputy come by separate events."""

    household_id: str
    station_id: str | None = None
    head_person_id: str | None = None
    member_ids: list[str] = []
    deputy_id: str | None = None


class PersonLink(BaseModel):
    person_id: str | None
    name: str | None
    status: str
    merged_into: "PersonLink | None" = None
    note: str | None = None


class DeputyLink(BaseModel):
    deputy_id: str
    name: str | None
    level: str | None


class HouseholdLink(BaseModel):
    household_id: str
    known: bool
    head: PersonLink | None = None
    deputy: DeputyLink | None = None
    members: int = 0


class CaseLinks(BaseModel):
    originators: list[PersonLink]
    deputies: list[DeputyLink]
    household: HouseholdLink | None
    origin: dict[str, str | None]


ERASED_LINK = PersonLink(person_id=None, name=None, status=ERASED, note="erased at the person's request (PIPL)")


def person_link(person_id: str, people: Mapping[str, KnownPerson], depth: int = MERGE_CHAIN) -> PersonLink:
    person = people.get(person_id)
    if person is None:
        return PersonLink(person_id=person_id, name=None, status=UNKNOWN, note="not yet received from records")
    if person.status == ERASED:
        return ERASED_LINK
    if person.merged_into is None or depth == 0:
        return PersonLink(person_id=person_id, name=person.name, status=person.status)
    return PersonLink(
        person_id=person_id,
        name=person.name,
        status=person.status,
        merged_into=person_link(person.merged_into, people, depth - 1),
        note=f"file merged into {person.merged_into}",
    )


def deputy_link(deputy_id: str, deputies: Mapping[str, KnownDeputy]) -> DeputyLink:
    deputy = deputies.get(deputy_id)
    if deputy is None:
        return DeputyLink(deputy_id=deputy_id, name=None, level=None)
    return DeputyLink(deputy_id=deputy_id, name=deputy.name, level=deputy.level)


def household_link(
    household_id: str,
    households: Mapping[str, KnownHousehold],
    people: Mapping[str, KnownPerson],
    deputies: Mapping[str, KnownDeputy],
) -> HouseholdLink:
    household = households.get(household_id)
    if household is None:
        return HouseholdLink(household_id=household_id, known=False)
    head, deputy = household.head_person_id, household.deputy_id
    return HouseholdLink(
        household_id=household_id,
        known=True,
        head=person_link(head, people) if head else None,
        deputy=deputy_link(deputy, deputies) if deputy else None,
        members=len(household.member_ids),
    )


def case_links(
    case: Case,
    people: Mapping[str, KnownPerson],
    deputies: Mapping[str, KnownDeputy],
    households: Mapping[str, KnownHousehold],
) -> CaseLinks:
    """Every originator (erased ones as anonymous entries, so they still count), the deputies
    who collected the case, the household and the visit or activity it was raised on."""
    originators = [person_link(person_id, people) for person_id in case.originators]
    return CaseLinks(
        originators=originators + [ERASED_LINK] * case.erased_originators,
        deputies=[deputy_link(deputy_id, deputies) for deputy_id in case.deputy_ids],
        household=household_link(case.household_id, households, people, deputies) if case.household_id else None,
        origin=case.origin,
    )


def ids_to_resolve(case: Case, households: Mapping[str, KnownHousehold]) -> tuple[set[str], set[str]]:
    """The people and deputies a case's view names, its household's head and deputy included."""
    people, deputies = set(case.originators), set(case.deputy_ids)
    household = households.get(case.household_id or "")
    if household is not None:
        people.update([household.head_person_id] if household.head_person_id else [])
        deputies.update([household.deputy_id] if household.deputy_id else [])
    return people, deputies
