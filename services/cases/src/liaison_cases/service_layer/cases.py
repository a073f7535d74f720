"""Handlers for cases: open, act (each transition), read, list; and opening a case for every
opinion raised on a visit or at an activity, exactly once."""

from typing import Any

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import Conflict, Forbidden, NotFound
from liaison_infra.mongo import Document, Transaction
from liaison_infra.versioning import check_version

from liaison_cases.adapters.store import CASES, to_case, to_document
from liaison_cases.domain import cases as rules
from liaison_cases.domain.announcements import announcements
from liaison_cases.domain.cases import Actor, Case, Category, Kind
from liaison_cases.domain.lifecycle import Action, State
from liaison_cases.service_layer.context import Cases

OPENERS = (Role.STATION_STAFF, Role.DEPUTY)


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, roles=principal.roles, department_id=principal.department)


def case_scope(principal: Principal) -> dict[str, Any]:
    """A department handler sees the cases of their department; everyone else their stations'."""
    if principal.is_admin:
        return {}
    if principal.roles == {Role.DEPARTMENT_HANDLER}:
        department = principal.department or "-"
        return {"$or": [{"lead_department_id": department}, {"co_handlers.department_id": department}]}
    return principal.scope_filter()


def view(case: Case) -> Document:
    return case.model_dump(mode="json")


async def _store_new(cases: Cases, case: Case) -> None:
    async def write(tx: Transaction) -> None:
        await tx.insert(CASES, to_document(case))
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
    if not principal.can_see(station_id, district_id):
        raise NotFound("station_not_found", f"no station {station_id}", field="station_id")
    case = Case(
        id=case_id,
        station_id=station_id,
        district_id=district_id,
        kind=kind,
        category=category,
        title=title,
        content=content,
        origin={"source": "direct", "ref_id": None},
        originators=originators,
    )
    case = rules.collected(case, actor_of(principal), cases.clock())
    await _store_new(cases, case)
    return view(case.model_copy(update={"version": 1}))


async def load_case(cases: Cases, principal: Principal, case_id: str) -> Case:
    document = await cases.db[CASES].find_one({"_id": case_id, **case_scope(principal)})
    if document is None:
        raise NotFound("case_not_found", f"no case {case_id}")
    return to_case(document)


async def act(
    cases: Cases, principal: Principal, case_id: str, action: Action, payload: dict[str, Any], *, expected_version: int
) -> Document:
    """One transition, stored with its timeline step and its events, or refused with the reason."""
    case = await load_case(cases, principal, case_id)
    check_version(case_id, case.version, expected_version)
    target: Case | None = None
    if action is Action.MERGE:
        target = await load_case(cases, principal, str(payload.get("into_case_id")))
        if target.state not in (State.SUBMITTED, State.ASSIGNED, State.IN_PROGRESS, State.COLLECTED):
            raise Conflict("merge_target_closed", "merge into a case that is still being handled")
    after = rules.handle(case, action, actor_of(principal), payload, now=cases.clock(), calendar=await cases.calendar())

    async def write(tx: Transaction) -> int:
        version = await tx.replace(CASES, to_document(after), expected_version=expected_version)
        if target is not None:
            merged = target.model_copy(
                update={
                    "originators": list(dict.fromkeys([*target.originators, *case.originators])),
                    "merged_from": [*target.merged_from, case.id],
                }
            )
            await tx.replace(CASES, to_document(merged), expected_version=target.version)
        for event in announcements(after):
            tx.publish(event, subject=after.id, station_id=after.station_id, district_id=after.district_id)
        return version

    version = await cases.runtime.transaction(write)
    return view(after.model_copy(update={"version": version}))


async def list_cases(cases: Cases, principal: Principal, filters: dict[str, Any], limit: int) -> list[Document]:
    query = {**case_scope(principal), **{key: value for key, value in filters.items() if value is not None}}
    cursor = cases.db[CASES].find(query, {"timeline": 0}).sort([("station_id", 1), ("_id", 1)]).limit(limit)
    return [{**document, "id": document.pop("_id")} async for document in cursor]
