"""A tiny probe service for exercising the backbone: notes counted per key."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

from aiokafka import ConsumerRecord
from liaison_infra.envelope import Envelope, Event
from liaison_infra.harness.servers import Endpoints
from liaison_infra.kafka import make_consumer
from liaison_infra.mongo import OUTBOX, Transaction
from liaison_infra.relay import RELAY_STATE
from liaison_infra.runtime import Runtime, Worker
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


async def relayed_everything(runtime: Runtime) -> bool:
    """Whether the relay has published every event in the outbox (it saves how far it got)."""
    state = await runtime.db[RELAY_STATE].find_one({"_id": runtime.settings.service_name})
    if state is None or "resume_token" not in state:
        return False
    after = {} if state["published_until"] is None else {"created_at": {"$gt": state["published_until"]}}
    return await runtime.db[OUTBOX].count_documents(after) == 0


async def forget_relay_position(runtime: Runtime) -> None:
    """Drop the relay's saved position: when it next starts, it publishes the retained outbox again."""
    await runtime.db[RELAY_STATE].delete_many({})


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run a relay or consumer in the background for the duration of the block."""
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)


async def read_topic(settings: ServiceSettings, topic: str, expected: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` from its start, read until it falls quiet."""
    consumer = make_consumer(settings, None, topic)
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        while True:  # until quiet: 2 s while short of ``expected``, then 0.5 s to catch any extra
            batches = await consumer.getmany(timeout_ms=2000 if len(records) < expected else 500)
            if not batches:
                break
            for batch in batches.values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
