"""Cases made through the domain rules and stored through the service's own adapter, at any
point in time (a case assigned months ago), and a record of the queries the service sends."""

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from liaison_cases.adapters.store import to_document
from liaison_cases.domain.cases import Actor, Case, Category, Kind, collected, handle
from liaison_cases.domain.lifecycle import Action
from liaison_cases.domain.working_days import WorkingCalendar
from liaison_infra.auth import Role
from liaison_infra.mongo import Document
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase

CALENDAR = WorkingCalendar.with_library()
STAFF = Actor(subject="staff-1", roles=frozenset({Role.STATION_STAFF}))


def at(day: date) -> datetime:
    return datetime.combine(day, time(2, 0), tzinfo=UTC)  # 10:00 in China


def new_case(
    case_id: str,
    station_id: str,
    district_id: str | None = None,
    *,
    opened: date,
    title: str = "楼道灯坏了",
    kind: Kind = Kind.REQUEST,
    category: Category = Category.OTHER,
    originators: Sequence[str] = (),
    deputy_ids: Sequence[str] = (),
    household_id: str | None = None,
) -> Case:
    case = Case(
        id=case_id,
        station_id=station_id,
        district_id=district_id,
        kind=kind,
        category=category,
        title=title,
        content=title,
        originators=list(originators),
        deputy_ids=list(deputy_ids),
        household_id=household_id,
    )
    return collected(case, STAFF, at(opened))


def acted(case: Case, day: date, *steps: tuple[Action, Actor, dict[str, Any]]) -> Case:
    for action, actor, payload in steps:
        case = handle(case, action, actor, payload, now=at(day), calendar=CALENDAR)
    return case


def assigned(case: Case, day: date, lead: str, co: Sequence[str] = ()) -> Case:
    payload = {"lead_department_id": lead, "co_department_ids": list(co)}
    return acted(case, day, (Action.SUBMIT, STAFF, {}), (Action.ASSIGN, STAFF, payload))


def handler(department: str) -> Actor:
    return Actor(subject=f"h-{department}", roles=frozenset({Role.DEPARTMENT_HANDLER}), department_id=department)


async def store(db: AsyncDatabase[Document], cases: Iterable[Case]) -> None:
    await db["cases"].insert_many([{**to_document(case), "version": 1} for case in cases])


class QueryLog(monitoring.CommandListener):
    """Every find on one database's cases collection, by every client made after it is registered."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.finds: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.database_name == self.database and event.command["find"] == "cases":
            self.finds.append({key: event.command[key] for key in ("filter", "sort") if key in event.command})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


QUERIES = QueryLog()
monitoring.register(QUERIES)


async def unindexed(db: AsyncDatabase[Document], finds: list[Document]) -> list[Document]:
    """The queries among ``finds`` that the store would answer by scanning the collection."""
    scans = []
    for find in finds:
        explained = await db.command("explain", {"find": "cases", **find})
        if "COLLSCAN" in str(explained["queryPlanner"]["winningPlan"]):
            scans.append(find)
    return scans
