"""Helpers for the duties tests: notify on a database of the test's own, events applied by the
service's real consumer (inbox, reader model, handler, one transaction) without a broker, and a
clock that moves through a month and a quarter scan by scan."""

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from liaison_infra.clock import CHINA
from liaison_infra.envelope import Envelope
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from liaison_notify.adapters.duty_indexes import ensure_duties_indexes
from liaison_notify.adapters.messages_store import MESSAGES
from liaison_notify.bootstrap import SPEC
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import close_windows, release_due_reminders

from tests.apps import consume, service_settings


@asynccontextmanager
async def own_notify(endpoints: Endpoints, keys: tuple[Path, Path], unique: str) -> AsyncIterator[Notify]:
    settings = service_settings("notify", endpoints, keys, mongodb_database=f"notify_{unique}")
    runtime = Runtime(settings, SPEC)
    await ensure_duties_indexes(runtime.db)
    try:
        yield Notify(runtime)
    finally:
        await runtime.close()


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai time, as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=CHINA).astimezone(UTC)


def envelope(event_type: str, data: dict[str, Any], *, at: datetime, district_id: str | None = "d-1") -> Envelope:
    return Envelope(
        source="test",
        type=event_type,
        subject=str(next(v for k, v in data.items() if k.endswith("_id"))),
        time=at,
        dataschema=f"urn:liaison:{event_type}:v1",
        station_id=data.get("station_id"),
        district_id=district_id,
        correlationid=uuid4().hex,
        data=data,
    )


async def apply(notify: Notify, event: Envelope) -> None:
    """Hand ``event`` to notify's consumer as if Kafka had delivered it."""
    await consume(notify.runtime, event)


async def household(
    notify: Notify,
    household_id: str,
    deputy_id: str | None,
    *,
    at: datetime,
    station_id: str = "st-1",
    cared: bool = False,
) -> None:
    data: dict[str, Any] = {
        "household_id": household_id,
        "station_id": station_id,
        "head_person_id": None,
        "members": [],
        "deputy_id": deputy_id,
        "hardship": cared,
        "elderly": False,
    }
    await apply(notify, envelope("household.changed", data, at=at))


async def visit_logged(notify: Notify, visit_id: str, household_id: str, visited_on: str, *, at: datetime) -> None:
    """A routine visit (走访) of one household by its deputy, as records announces it."""
    visit = {
        "visit_id": visit_id,
        "station_id": "st-1",
        "kind": "household_visit",
        "visited_on": visited_on,
        "deputy_ids": ["dep-a"],
        "household_ids": [household_id],
        "person_ids": [],
        "opinions": [],
    }
    await apply(notify, envelope("visit.logged", visit, at=at))


async def scan_at(notify: Notify, moments: Iterable[datetime]) -> list[tuple[datetime, Document]]:
    """Run both scans at each moment, as beat would on that clock; returns each message new since
    the call with the moment it was produced at."""
    produced: list[tuple[datetime, Document]] = []
    seen = {message["_id"] async for message in notify.db[MESSAGES].find({}, {"_id": 1})}
    for moment in moments:
        await release_due_reminders(notify, moment)
        await close_windows(notify, moment)
        async for message in notify.db[MESSAGES].find({"_id": {"$nin": sorted(seen)}}):
            seen.add(message["_id"])
            produced.append((moment, message))
    return produced


def every(step: timedelta, start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += step
