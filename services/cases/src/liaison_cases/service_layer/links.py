"""The people, households and deputies cases come from: kept from records' events (each applied
once by the consumer, older ones ignored) and resolved when a case is read."""

import asyncio

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Document, Transaction
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters import links_store
from liaison_cases.adapters.records_events import (
    ArchivedRead,
    AssignmentRead,
    DeputyRead,
    HouseholdRead,
    PersonChangedRead,
)
from liaison_cases.adapters.store import DEPUTIES, HOUSEHOLDS, PEOPLE
from liaison_cases.domain.cases import Case
from liaison_cases.domain.links import MERGE_CHAIN, CaseLinks, case_links, ids_to_resolve


async def on_person_changed(changed: PersonChangedRead, envelope: Envelope, tx: Transaction) -> None:
    """returnee.registered and returnee.updated: the whole snapshot replaces what we knew."""
    person = changed.person
    fields = person.model_dump(exclude={"person_id"})
    await links_store.save_if_newer(tx, PEOPLE, person.person_id, fields, envelope.time)


async def on_person_archived(archived: ArchivedRead, envelope: Envelope, tx: Transaction) -> None:
    """A closed file keeps its name; a merged one also points to the file that survived."""
    fields = archived.model_dump(exclude={"person_id"})
    await links_store.save_if_newer(tx, PEOPLE, archived.person_id, fields, envelope.time)


async def on_deputy_changed(deputy: DeputyRead, envelope: Envelope, tx: Transaction) -> None:
    fields = deputy.model_dump(exclude={"deputy_id"})
    await links_store.save_if_newer(tx, DEPUTIES, deputy.deputy_id, fields, envelope.time)


async def on_household_changed(household: HouseholdRead, envelope: Envelope, tx: Transaction) -> None:
    members = {
        "station_id": household.station_id,
        "head_person_id": household.head_person_id,
        "member_ids": [member.person_id for member in household.members],
    }
    await links_store.save_if_newer(tx, HOUSEHOLDS, household.household_id, members, envelope.time, part="members")
    await _save_deputy(household.household_id, household.deputy_id, envelope, tx)


async def on_assignment_changed(assignment: AssignmentRead, envelope: Envelope, tx: Transaction) -> None:
    await _save_deputy(assignment.household_id, assignment.deputy_id, envelope, tx)


async def _save_deputy(household_id: str, deputy_id: str | None, envelope: Envelope, tx: Transaction) -> None:
    fields = {"deputy_id": deputy_id}
    await links_store.save_if_newer(tx, HOUSEHOLDS, household_id, fields, envelope.time, part="deputy")


async def links_of(db: AsyncDatabase[Document], case: Case) -> CaseLinks:
    """The case's links resolved against the read model, merged files followed to the survivor."""
    households = await links_store.households(db, [case.household_id] if case.household_id else [])
    person_ids, deputy_ids = ids_to_resolve(case, households)
    people, deputies = await asyncio.gather(links_store.people(db, person_ids), links_store.deputies(db, deputy_ids))
    for _ in range(MERGE_CHAIN):
        survivors = {p.merged_into for p in people.values() if p.merged_into and p.merged_into not in people}
        if not survivors:
            break
        people |= await links_store.people(db, survivors)
    return case_links(case, people, deputies, households)
