"""Handlers for cases: open, act (each transition), read (with its supervision colour, and for a
merged case the answer of the case it was merged into). Search is in search.py, overdue lists in
supervision.py."""

import asyncio
from typing import Any

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction
from liaison_infra.versioning import check_version

from liaison_cases.adapters.case_keys import department_ids
from liaison_cases.adapters.org_store import district_of
from liaison_cases.adapters.store import CASES, DEPARTMENTS, to_case, to_document
from liaison_cases.domain import cases as rules
from liaison_cases.domain.announcements import announcements
from liaison_cases.domain.cases import Actor, Case, Category, Kind
from liaison_cases.domain.lifecycle import Action, State
from liaison_cases.domain.limits import is_id
from liaison_cases.domain.merging import absorb
from liaison_cases.domain.supervision import Supervisor
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.links import links_of
from liaison_cases.service_layer.search import can_see
from liaison_cases.service_layer.statistics import count_change

OPENERS = (Role.STATION_STAFF, Role.DEPUTY)
MERGE_TARGETS = (State.COLLECTED, State.SUBMITTED, State.ASSIGNED, State.IN_PROGRESS)
MERGE_CHAIN = 10  # a merged case's survivor may itself have been merged; follow that far
# Deadlines (assign, extend) and the hand-back window count working days; no other action does.
DECIDED_BY_CALENDAR = frozenset({Action.ASSIGN, Action.EXTEND, Action.HAND_BACK})


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, roles=principal.roles, department_id=principal.department)


def view(case: Case, supervisor: Supervisor) -> Document:
    return {**case.model_dump(mode="json"), "supervision": supervisor.of(case)}


async def _store_new(cases: Cases, case: Case) -> None:
    async def write(tx: Transaction) -> None:
        await tx.insert(CASES, to_document(case))
        await count_change(tx, None, case)
        for event in announcements(case):
            tx.publish(event, subject=case.id, station_id=case.station_id, district_id=case.district_id)

    await cases.runtime.transaction(write)


async def open_case(
    cases: Cases,
    principal: Principal,
    *,
    station_id: str,
    district_id: str | None,
    kind: Kind,
    category: Category,
    title: str,
    content: str,
    originators: list[str],
    case_id: str,
) -> Document:
    if not principal.has_any(*OPENERS):
        raise Forbidden("forbidden", "your role may not open cases")
    # A case counts in the district records placed its station in, once cases has heard of it
    # (before, the one given is kept, as notify keeps a station head's).
    placed = await district_of(cases.db, station_id)
    if not principal.can_see(station_id, placed or district_id):
        raise NotFound("station_not_found", f"no station {station_id}", field="station_id")
    if placed is not None and district_id not in (None, placed):
        raise InvalidInput("district_mismatch", f"station {station_id} is in district {placed}", field="district_id")
    case = Case(
        id=case_id,
        station_id=station_id,
        district_id=placed or district_id,
        kind=kind,
        category=category,
        title=title,
        content=content,
        origin={"source": "direct", "ref_id": None},
        originators=originators,
    )
    case = rules.collected(case, actor_of(principal), cases.clock())
    await _store_new(cases, case)
    return view(case.model_copy(update={"version": 1}), await cases.supervisor())


async def load_case(cases: Cases, principal: Principal, case_id: str) -> Case:
    """The case if the caller may see it (see search.visible_keys), else not found."""
    document = await cases.db[CASES].find_one({"_id": case_id})
    if document is None or not can_see(principal, case := to_case(document)):
        raise NotFound("case_not_found", f"no case {case_id}")
    return case


async def read_case(cases: Cases, principal: Principal, case_id: str) -> Document:
    """The case with the people, household and deputies it came from resolved (``links``); a
    merged one also shows the answer of the case that answers for it (并案)."""
    case = await load_case(cases, principal, case_id)
    document = view(case, await cases.supervisor())
    document["links"] = (await links_of(cases.db, case)).model_dump(mode="json")
    if case.merged_into is not None:
        survivor = case
        for _ in range(MERGE_CHAIN):
            found = await cases.db[CASES].find_one({"_id": survivor.merged_into}, {"timeline": 0})
            if found is None:
                break
            survivor = to_case(found)
            if survivor.merged_into is None:
                break
        document["answered_by"] = survivor.model_dump(
            mode="json", include={"id", "state", "reply", "follow_ups", "satisfaction"}
        )
    return document


async def _check_departments(cases: Cases, case: Case) -> None:
    """Cases go only to departments of the directory that are active."""
    wanted = department_ids(case)
    found = {d["_id"] async for d in cases.db[DEPARTMENTS].find({"_id": {"$in": wanted}, "active": True}, {"_id": 1})}
    unknown = [d for d in wanted if d not in found]
    if unknown:
        field = "lead_department_id" if unknown[0] == wanted[0] else "co_department_ids"
        raise InvalidInput("unknown_department", f"no active department {unknown[0]} in the directory", field=field)


async def act(
    cases: Cases, principal: Principal, case_id: str, action: Action, payload: dict[str, Any], *, expected_version: int
) -> Document:
    """One transition, stored with its timeline step and its events, or refused with the reason.

    An action the working calendar decides reads it as stored now, at once with the case (an
    administrator may have loaded a schedule in another process); the others only show colours."""
    read_calendar = cases.calendar() if action in DECIDED_BY_CALENDAR else cases.recent_calendar()
    case, calendar = await asyncio.gather(load_case(cases, principal, case_id), read_calendar)
    check_version(case_id, case.version, expected_version)
    target: Case | None = None
    into = payload.get("into_case_id") if action is Action.MERGE else None
    if isinstance(into, str) and is_id(into.strip()):  # anything else: the domain rules say what is wrong
        target = await load_case(cases, principal, into.strip())
        if target.state not in MERGE_TARGETS:
            raise Conflict("merge_target_closed", "merge into a case that is still being handled")
    now, actor = cases.clock(), actor_of(principal)
    after = rules.handle(case, action, actor, payload, now=now, calendar=calendar)
    if action is Action.ASSIGN:
        await _check_departments(cases, after)
    survivor = absorb(target, case, actor, now) if target is not None else None
    stored = [after] if survivor is None else [after, survivor]

    async def write(tx: Transaction) -> int:
        version = await tx.replace(CASES, to_document(after), expected_version=expected_version)
        await count_change(tx, case, after)
        if target is not None and survivor is not None:
            await tx.replace(CASES, to_document(survivor), expected_version=target.version)
            await count_change(tx, target, survivor)
        for changed in stored:
            for event in announcements(changed):
                tx.publish(event, subject=changed.id, station_id=changed.station_id, district_id=changed.district_id)
        return version

    version = await cases.runtime.transaction(write)
    return view(after.model_copy(update={"version": version}), await cases.supervisor(calendar))
