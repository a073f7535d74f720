"""Helpers for the delivery tests: notify on a database of the test's own with its providers
pointed at local receivers, a clock the test moves, and messages and recipients put in place."""

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime
from liaison_notify.adapters import deliveries_store, messages_store, recipients_store
from liaison_notify.bootstrap import SPEC
from liaison_notify.domain.channels import routes
from liaison_notify.domain.messages import Message
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.delivery import deliver, pending_message_ids

from tests.apps import service_settings

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@asynccontextmanager
async def delivering(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, **overrides: Any
) -> AsyncIterator[Notify]:
    values = {"mongodb_database": f"notify_{unique}", "channel_attempts": 2, "retry_base_seconds": 60, **overrides}
    runtime = Runtime(service_settings("notify", endpoints, keys, **values), SPEC)
    try:
        yield Notify(runtime, Clock())
    finally:
        await runtime.close()


def advance(notify: Notify, **delta: float) -> None:
    assert isinstance(notify.clock, Clock)
    notify.clock.advance(**delta)


def reminder(n: int = 1, *, recipient: str = "deputy:dep-1", duty_id: str | None = None) -> Message:
    return Message(
        rule_id="monthly_visit",
        subject_id=f"h-{n:04d}",
        occurrence="2026-11-20T09:00",
        recipient_id=recipient,
        template="visit_reminder",
        variables={"title": "每月一走访", "subject_id": f"h-{n:04d}", "period": "2026-11", "last_day": "2026-11-30"},
        station_id="st-1",
        district_id="d-1",
        duty_id=duty_id,
    )


async def enqueue(notify: Notify, messages: list[Message]) -> None:
    await notify.runtime.transaction(lambda tx: messages_store.enqueue(tx, messages, notify.clock()))


async def reachable(notify: Notify, recipient_id: str, *pairs: tuple[str, str | None]) -> None:
    fields = {
        "kind": recipient_id.partition(":")[0],
        "name": recipient_id,
        "station_id": ["st-1"],
        "district_id": "d-1",
        "routes": recipients_store.routes_document(routes(list(pairs))),
    }
    await recipients_store.store(notify.db, recipient_id, fields, START)


async def scan_and_deliver(notify: Notify) -> list[str]:
    """One beat: what is due, delivered; returns the ids handed out."""
    ids = await pending_message_ids(notify, notify.clock(), 1000)
    await deliver(notify, ids)
    return ids


async def message(notify: Notify, key: str) -> Document:
    document = await notify.db[messages_store.MESSAGES].find_one({"_id": key})
    assert document is not None
    return document


async def delivery_log(notify: Notify, key: str) -> tuple[list[Document], list[Document]]:
    """The message's claims and every attempt, as the API shows them."""
    return await deliveries_store.of_message(notify.db, await message(notify, key))


async def attempts_per_message(notify: Notify, keys: list[str]) -> Counter[str]:
    """Attempts logged per message, over all its claims and its sends."""
    counts: Counter[str] = Counter()
    for key in keys:
        counts[key] = len((await delivery_log(notify, key))[1])
    return counts
