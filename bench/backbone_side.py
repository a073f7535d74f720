"""The backbone side: the real ``Runtime.transaction`` + ``OutboxRelay`` + ``ConsumerRunner``.

A write inserts the aggregate and ``tx.publish``-es the event (outbox entry in the same
transaction); the relay publishes it and the consumer runner applies it, its handler
inserting the effect (inbox mark in the same transaction). Settings are the production
defaults; one can be changed for an experiment with ``BENCH_BACKBONE_<NAME>`` (for example
``BENCH_BACKBONE_OUTBOX_BATCH_SIZE=100``). The relay learns of new events only from the
outbox's change stream, as in a deployment where it runs in its own process.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Self

from aiokafka import ConsumerRecord
from liaison_infra.consumer import ConsumerRunner
from liaison_infra.envelope import Envelope, Event
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import Transaction
from liaison_infra.relay import OutboxRelay
from liaison_infra.runtime import Runtime
from liaison_infra.service import ServiceSpec, Subscription
from liaison_infra.settings import ServiceSettings
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict

from bench.floor import event_body
from bench.workload import Tracker


class BenchSettings(ServiceSettings):
    """Production defaults, each overridable by ``BENCH_BACKBONE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="BENCH_BACKBONE_", extra="forbid", frozen=True)


def bench_settings(endpoints: Endpoints, unique: str) -> BenchSettings:
    return BenchSettings(
        service_name=f"bench-{unique}",
        mongodb_url=endpoints.mongodb_url,
        mongodb_database=f"bench_backbone_{unique}",
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        redis_url=endpoints.redis_url,
        jwt_public_key_file=Path("unused.pem"),
    )


class Noted(Event):
    event_type = "bench.noted"
    topic = "bench.note.v1"
    key: str
    seq: int
    note: str

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls(**event_body("k1", 1))]


class NoteReader(BaseModel):
    """The consumer's own view of the event."""

    key: str
    seq: int


async def insert_effect(note: NoteReader, envelope: Envelope, tx: Transaction) -> None:
    await tx.db["effects"].insert_one({"_id": note.key, "seq": note.seq}, session=tx.session)


class BackboneSide:
    name = "backbone"

    def __init__(self, endpoints: Endpoints, unique: str) -> None:
        self.tracker = Tracker()
        settings = bench_settings(endpoints, unique)
        self.noted: type[Noted] = type("Noted", (Noted,), {"topic": f"bench.backbone.{unique}.v1"})
        subscription = Subscription(self.noted.event_type, self.noted.topic, NoteReader, insert_effect)
        self.runtime = Runtime(settings, ServiceSpec(published=(self.noted,), subscriptions=(subscription,)))
        self.relay: OutboxRelay = self.runtime.relay()
        self.consumer = TimedConsumer(self.runtime, lambda key: self.tracker.apply(key))
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for collection in ("aggregates", "outbox", "effects", "inbox"):
            await self.runtime.db.create_collection(collection)
        self._tasks = [asyncio.create_task(self.relay.run()), asyncio.create_task(self.consumer.run())]

    async def stop(self) -> None:
        self.relay.stop()
        self.consumer.stop()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=30)
        await self.runtime.client.drop_database(self.runtime.db.name)
        await self.runtime.close()

    async def effects(self) -> int:
        return await self.runtime.db["effects"].count_documents({})

    async def write(self, key: str, seq: int) -> None:
        async def aggregate_and_event(tx: Transaction) -> None:
            await tx.insert("aggregates", {"_id": key, **event_body(key, seq)})
            tx.publish(self.noted(**event_body(key, seq)), subject=key, station_id="st-bench", district_id="d-bench")

        await self.runtime.transaction(aggregate_and_event)
        self.tracker.wrote(key)


class TimedConsumer(ConsumerRunner):
    """The real consumer runner, noting when each record's effect transaction has committed."""

    def __init__(self, runtime: Runtime, on_applied: Callable[[str], None]) -> None:
        super().__init__(runtime.settings, runtime.client, runtime.db, runtime.metrics, runtime.spec)
        self.on_applied = on_applied

    async def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        await super().apply(record)
        self.on_applied((record.key or b"").decode())
