"""A tiny probe service for exercising the backbone: notes counted per key."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

from liaison_infra.envelope import Envelope, Event
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import Transaction
from liaison_infra.runtime import Worker
from liaison_infra.service import EventHandler, ServiceSpec, Subscription
from liaison_infra.settings import ServiceSettings
from pydantic import BaseModel


class ProbeSettings(ServiceSettings):
    pass


class Noted(Event):
    event_type = "probe.noted"
    topic = "probe.note.v1"
    key: str
    n: int

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls(key="k1", n=1)]


def probe_settings(endpoints: Endpoints, unique: str, **overrides: object) -> ProbeSettings:
    values: dict[str, object] = {
        "service_name": f"probe-{unique}",
        "mongodb_url": endpoints.mongodb_url,
        "mongodb_database": f"probe_{unique}",
        "kafka_bootstrap_servers": endpoints.kafka_bootstrap_servers,
        "redis_url": endpoints.redis_url,
        "jwt_public_key_file": Path("unused.pem"),
        "broker_check_seconds": 0.5,
        "consumer_retry_backoff_seconds": 0.01,
        **overrides,
    }
    return ProbeSettings.model_validate(values)


def noted_on(topic: str) -> type[Noted]:
    """A Noted event bound to a topic of the test's own."""
    bound: type[Noted] = type("Noted", (Noted,), {"topic": topic})
    return bound


def probe_spec(noted: type[Noted], handler: EventHandler | None = None) -> ServiceSpec:
    """Publishes ``noted`` and consumes it with ``handler`` (counting notes by default)."""
    subscription = Subscription(noted.event_type, noted.topic, NoteReader, handler if handler else count_note)
    return ServiceSpec(published=(noted,), subscriptions=(subscription,))


class NoteReader(BaseModel):
    """The consumer's own view of a note: only what it uses."""

    key: str
    n: int


async def count_note(note: NoteReader, envelope: Envelope, tx: Transaction) -> None:
    """The probe's effect: one increment per applied note, plus the order seen per key."""
    await tx.db["effects"].update_one(
        {"_id": note.key},
        {"$inc": {"count": 1}, "$push": {"seen": note.n}},
        upsert=True,
        session=tx.session,
    )


async def wait_until(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll ``predicate`` until it holds; fail the test with a clear message after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached within {within}s")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run a relay or consumer in the background for the duration of the block."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)
