"""Households: who lives together, who heads them, who abroad they are tied to, and the one
deputy responsible for visiting them every month."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from liaison_infra.auth import Principal, within
from liaison_infra.clock import china_day, utc_now
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction
from liaison_infra.pii import Keyring

from liaison_records.adapters.households_store import sealed_ties, shown_ties
from liaison_records.adapters.people_store import PEOPLE, years_before
from liaison_records.domain.events import AssignmentChanged, HouseholdChanged, HouseholdMember
from liaison_records.domain.households import HouseholdFields, MemberRelation
from liaison_records.domain.people import Hardship, Status
from liaison_records.service_layer.context import (
    READERS,
    REVEALERS,
    WRITERS,
    Records,
    check_version,
    document_view,
    placed,
    require,
)
from liaison_records.service_layer.deputies import HOUSEHOLDS, hold_serving
from liaison_records.service_layer.history import link

ELDERLY_AGE = 70  # festival condolence visits go first to hardship and elderly households
# What household.changed makes of its members' files (its hardship and elderly flags): a change
# of these announces the household again.
ANNOUNCED_FIELDS = frozenset({"hardship", "birth_date"})


def _check_members(person_ids: list[str], people: list[Document], household: Document, previous_ids: list[str]) -> None:
    """Each member must be a file of this station in no other household; one who joins must be
    active (not closed, nor merged into another file). One already listed may stay once closed
    (a member who died is still of the family)."""
    found = {person["_id"]: person for person in people}
    station_id, household_id = household["station_id"], household["_id"]
    for person_id in person_ids:
        person = found.get(person_id)
        if person is None or person["station_id"] != station_id or person["status"] == Status.ERASED:
            raise InvalidInput("unknown_person", f"no person {person_id} at {station_id}", field="members")
        if person_id not in previous_ids and person["status"] != Status.ACTIVE:
            message = f"{person_id}'s file is {person['status']}: only an open file joins a household"
            raise Conflict("closed_file", message, field="members")
        if person.get("household_id") not in (None, household_id):
            raise Conflict("in_another_household", f"{person_id} belongs to {person['household_id']}", field="members")


def elderly_born_by(today: date) -> str:
    """The latest birth date (as stored) of someone ``ELDERLY_AGE`` or older on ``today``."""
    return years_before(today, ELDERLY_AGE).isoformat()


def _changed_event(household: Document, members: list[Document], today: date) -> HouseholdChanged:
    """The household as consumers see it; ``members`` are the members' stored files."""
    elderly_born_before = elderly_born_by(today)
    hardship_flags = {Hardship.HARDSHIP_FAMILY, Hardship.MINIMUM_LIVING, Hardship.EXTREME_POVERTY}
    return HouseholdChanged(
        household_id=household["_id"],
        station_id=household["station_id"],
        head_person_id=household["head_person_id"],
        members=[HouseholdMember(**member) for member in household["members"]],
        deputy_id=household.get("deputy_id"),
        hardship=any(hardship_flags.intersection(m.get("hardship", [])) for m in members),
        elderly=any((m.get("birth_date") or "9999") <= elderly_born_before for m in members),
    )


async def remove_member(tx: Transaction, person_id: str, today: date) -> None:
    """Take an erased person out of every household (as head too), and announce the change. A
    household left with nobody keeps nothing of them: its ties abroad and notes go too."""
    theirs = await households_of(tx, [person_id])
    changed = {"_id": {"$in": theirs}}
    await tx.db[HOUSEHOLDS].update_many(
        changed, {"$pull": {"members": {"person_id": person_id}}, "$inc": {"version": 1}}, session=tx.session
    )
    await tx.db[HOUSEHOLDS].update_many(
        {**changed, "head_person_id": person_id}, {"$set": {"head_person_id": None}}, session=tx.session
    )
    await tx.db[HOUSEHOLDS].update_many(
        {**changed, "members": {"$size": 0}}, {"$set": {"overseas_ties": [], "notes": None}}, session=tx.session
    )
    await announce(tx, theirs, today)


async def replace_member(tx: Transaction, duplicate_id: str, keep_id: str, today: date) -> None:
    """Put the file that survives a merge in the duplicate's place, and announce the change. Where
    both were members the duplicate just leaves, and the survivor heads the household if it did."""
    theirs = await households_of(tx, [duplicate_id])
    changed = {"_id": {"$in": theirs}}
    async for household in tx.db[HOUSEHOLDS].find(changed, {"members": 1, "head_person_id": 1}, session=tx.session):
        members = _members_after_merge(household["members"], duplicate_id, keep_id)
        head = keep_id if household.get("head_person_id") == duplicate_id else household.get("head_person_id")
        merged = {"$set": {"members": members, "head_person_id": head}, "$inc": {"version": 1}}
        await tx.db[HOUSEHOLDS].update_one({"_id": household["_id"]}, merged, session=tx.session)
    await announce(tx, theirs, today)


def _members_after_merge(members: list[Document], duplicate_id: str, keep_id: str) -> list[Document]:
    duplicate = next(member for member in members if member["person_id"] == duplicate_id)
    if not any(member["person_id"] == keep_id for member in members):
        return [{**member, "person_id": keep_id} if member is duplicate else member for member in members]
    heads = duplicate["relation_to_head"] == MemberRelation.SELF
    return [
        {**member, "relation_to_head": MemberRelation.SELF.value}
        if heads and member["person_id"] == keep_id
        else member
        for member in members
        if member is not duplicate
    ]


def reached(changed_files: Iterable[tuple[str | None, Iterable[str]]]) -> list[str]:
    """The households of the changed files (each a household id and the fields it changed) whose
    event a change carries: a member's hardship or birth date (``ANNOUNCED_FIELDS``)."""
    return [household for household, fields in changed_files if household and ANNOUNCED_FIELDS.intersection(fields)]


async def households_of(tx: Transaction, person_ids: list[str]) -> list[str]:
    """The households any of ``person_ids`` is a member of (a scan: erasure and merges are rare)."""
    found = tx.db[HOUSEHOLDS].find({"members.person_id": {"$in": person_ids}}, {"_id": 1}, session=tx.session)
    return [household["_id"] async for household in found]


async def announce(tx: Transaction, household_ids: Iterable[str], today: date) -> None:
    """Publish household.changed for these households as ``tx`` now stores them: consumers keep
    their own copy of the members, and learn of a change made from a person's file this way
    (``reached``: the households such a change reaches).

    Consumers keep the latest event, so each household announced is written too (its version
    kept): a transaction that changes it meanwhile conflicts, and no older view wins."""
    if not (wanted := sorted(set(household_ids))):
        return
    query = {"_id": {"$in": wanted}}
    await tx.db[HOUSEHOLDS].update_many(query, {"$set": {"announced_at": utc_now()}}, session=tx.session)
    households = await tx.db[HOUSEHOLDS].find(query, session=tx.session).to_list()
    person_ids = [member["person_id"] for household in households for member in household["members"]]
    people = await tx.db[PEOPLE].find({"_id": {"$in": person_ids}}, session=tx.session).to_list()
    files = {person["_id"]: person for person in people}
    for household in households:
        members = [files[m["person_id"]] for m in household["members"] if m["person_id"] in files]
        tx.publish(_changed_event(household, members, today), **_routing(household))


def _member_ids(household: Document) -> list[str]:
    return [member["person_id"] for member in household["members"]]


async def _link_members(
    tx: Transaction, principal: Principal, at: datetime, household: Document, previous_ids: list[str]
) -> None:
    """Keep each member's file pointing at its household and deputy (bumping its version, with
    history); those who left point at none."""
    ids = _member_ids(household)
    # Checked in the transaction: another may have taken a member, moved or erased them meanwhile.
    facts = {"household_id": 1, "station_id": 1, "status": 1}
    members = await tx.db[PEOPLE].find({"_id": {"$in": ids}}, facts, session=tx.session).to_list()
    _check_members(ids, members, household, previous_ids)
    left = [person_id for person_id in previous_ids if person_id not in ids]
    await link(tx, principal, at, left, {"household_id": None, "deputy_id": None})
    await link(tx, principal, at, ids, {"household_id": household["_id"], "deputy_id": household.get("deputy_id")})


async def create_household(
    records: Records, principal: Principal, station_id: str, fields: HouseholdFields
) -> Document:
    require(principal, WRITERS, "create households")
    station = await records.station_in_scope(principal, station_id)
    household_id = f"h-{uuid4().hex[:10]}"
    document: Document = {
        "_id": household_id,
        "station_id": station_id,
        "district_id": station.get("district_id"),
        **fields.model_dump(mode="json"),
        "overseas_ties": _sealed_ties(records, fields, []),
        "head_person_id": fields.head_person_id,
        "deputy_id": None,
    }

    async def write(tx: Transaction) -> None:
        await tx.insert(HOUSEHOLDS, document)
        await _link_members(tx, principal, records.clock(), document, [])
        await announce(tx, [household_id], china_day(records.clock()))

    await records.runtime.transaction(write)
    return household_view({**document, "version": 1})


async def load_household(records: Records, principal: Principal, household_id: str) -> Document:
    require(principal, READERS, "read households")
    household = await records.db[HOUSEHOLDS].find_one({"_id": household_id, **principal.scope_filter()})
    if household is None:
        raise NotFound("household_not_found", f"no household {household_id}")
    return household


async def read_household(records: Records, principal: Principal, household_id: str, *, reveal: bool) -> Document:
    """A household, its ways to reach relatives abroad masked; ``reveal`` shows them to roles
    allowed, and is audited."""
    household = await load_household(records, principal, household_id)
    if not reveal:
        return household_view(household)
    require(principal, REVEALERS, "see unmasked personal data")
    await records.audit_each(principal, "reveal_household", [placed(household)])
    return household_view(household, records.codec.keyring)


def household_view(document: Document, revealed_by: Keyring | None = None) -> Document:
    return {**document_view(document), "overseas_ties": shown_ties(document.get("overseas_ties", []), revealed_by)}


def _sealed_ties(records: Records, fields: HouseholdFields, stored: list[Document]) -> list[Document]:
    ties = [tie.model_dump(mode="json") for tie in fields.overseas_ties]
    return sealed_ties(records.codec.keyring, ties, stored)


async def update_household(
    records: Records, principal: Principal, household_id: str, fields: HouseholdFields, *, expected_version: int
) -> Document:
    require(principal, WRITERS, "change households")
    current = await load_household(records, principal, household_id)
    check_version(current, expected_version)
    ties = _sealed_ties(records, fields, current.get("overseas_ties", []))
    document = {
        **current,
        **fields.model_dump(mode="json"),
        "overseas_ties": ties,
        "head_person_id": fields.head_person_id,
    }
    previous_ids = _member_ids(current)

    async def write(tx: Transaction) -> int:
        version = await tx.replace(HOUSEHOLDS, document, expected_version=expected_version)
        await _link_members(tx, principal, records.clock(), document, previous_ids)
        await announce(tx, [household_id], china_day(records.clock()))
        return version

    version = await records.runtime.transaction(write)
    return household_view({**document, "version": version})


async def assign_deputy(
    records: Records,
    principal: Principal,
    household_id: str,
    deputy_id: str | None,
    reason: str,
    *,
    expected_version: int,
) -> Document:
    """Make ``deputy_id`` responsible for the household (None: nobody, until reassigned)."""
    require(principal, WRITERS, "assign deputies")
    current = await load_household(records, principal, household_id)
    check_version(current, expected_version)
    document = {**current, "deputy_id": deputy_id}

    async def write(tx: Transaction) -> int:
        if deputy_id is not None:
            await hold_serving(tx, deputy_id, {current["station_id"]}, field="deputy_id")
        version = await tx.replace(HOUSEHOLDS, document, expected_version=expected_version)
        await _link_members(tx, principal, records.clock(), document, _member_ids(current))
        tx.publish(
            AssignmentChanged(
                household_id=household_id,
                station_id=current["station_id"],
                previous_deputy_id=current.get("deputy_id"),
                deputy_id=deputy_id,
                reason=reason,
            ),
            **_routing(document),
        )
        return version

    version = await records.runtime.transaction(write)
    return household_view({**document, "version": version})


async def list_households(
    records: Records, principal: Principal, station_id: str | None, deputy_id: str | None
) -> list[Document]:
    require(principal, READERS, "read households")
    query = within(principal.scope_filter(), {"station_id": station_id, "deputy_id": deputy_id})
    return [household_view(doc) async for doc in records.db[HOUSEHOLDS].find(query).sort("_id", 1).limit(1000)]


def _routing(household: Document) -> dict[str, Any]:
    return {
        "subject": household["_id"],
        "station_id": household["station_id"],
        "district_id": household.get("district_id"),
    }
