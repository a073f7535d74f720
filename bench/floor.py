"""The floor: only the work that any outbox + inbox design must do for the same events.

Per event: the aggregate and its outbox entry inserted in one transaction (raw PyMongo), the
payload produced with a raw aiokafka producer right after the commit (no outbox polling, no
marking as published), and a raw aiokafka consumer (group, manual offset commit after each
batch, partitions of a batch applied concurrently and each in order, as the runner does)
that inserts the effect and the inbox mark in one transaction. Documents, payload bytes,
partitions and Kafka clients (made by the same ``make_producer``/``make_consumer`` from the
same settings) match the backbone's, so the difference is the backbone's own machinery.
"""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from liaison_infra.harness.servers import Endpoints
from liaison_infra.kafka import make_consumer, make_producer
from liaison_infra.settings import ServiceSettings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError

from bench.workload import Tracker

RETRY_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")


def event_body(key: str, seq: int) -> dict[str, Any]:
    """The event both sides carry: the aggregate's key, a sequence number and a short note."""
    return {"key": key, "seq": seq, "note": f"household visit {seq} logged by deputy d-{seq % 37:02d}"}


class FloorSide:
    name = "floor"

    def __init__(self, endpoints: Endpoints, unique: str, settings: ServiceSettings) -> None:
        self.endpoints = endpoints
        self.settings = settings
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            endpoints.mongodb_url, tz_aware=True, uuidRepresentation="standard"
        )
        self.db = self.client[f"bench_floor_{unique}"]
        self.topic = f"bench.floor.{unique}.v1"
        self.group = f"bench-floor-{unique}"
        self.tracker = Tracker()
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self._consuming: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        await self._create_topic()
        for collection in ("aggregates", "outbox", "effects", "inbox"):
            await self.db.create_collection(collection)
        self.producer = make_producer(self.settings)
        await self.producer.start()
        self.consumer = make_consumer(self.settings, self.group, self.topic)
        await self.consumer.start()
        self._consuming = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        self._stopping.set()
        if self._consuming is not None:
            await self._consuming
        for client in (self.consumer, self.producer):
            if client is not None:
                await client.stop()
        await self.client.drop_database(self.db.name)
        await self.client.close()

    async def effects(self) -> int:
        return await self.db["effects"].count_documents({})

    async def write(self, key: str, seq: int) -> None:
        assert self.producer is not None
        event_id = uuid4().hex
        now = datetime.now(UTC)
        payload = json.dumps(
            {
                "specversion": "1.0",
                "id": event_id,
                "source": "bench-floor",
                "type": "bench.noted",
                "subject": key,
                "time": now.isoformat(),
                "dataschema": "urn:liaison:bench.noted:v1",
                "datacontenttype": "application/json",
                "station_id": "st-bench",
                "district_id": "d-bench",
                "correlationid": uuid4().hex,
                "data": event_body(key, seq),
            }
        ).encode()

        async def aggregate_and_outbox(session: AsyncClientSession) -> None:
            await self.db["aggregates"].insert_one({"_id": key, **event_body(key, seq), "version": 1}, session=session)
            outbox_entry = {
                "_id": event_id,
                "topic": self.topic,
                "key": key,
                "payload": payload,
                "pending": True,
                "created_at": now,
                "order": 0,
                "published_at": None,
            }
            await self.db["outbox"].insert_one(outbox_entry, session=session)

        await self._transaction(aggregate_and_outbox)
        self.tracker.wrote(key)
        await self.producer.send(self.topic, payload, key=key.encode())

    async def _consume(self) -> None:
        assert self.consumer is not None
        while not self._stopping.is_set():
            batches = await self.consumer.getmany(timeout_ms=200)
            if not batches:
                continue
            await asyncio.gather(*(self._apply_in_order(records) for records in batches.values()))
            await self.consumer.commit()

    async def _apply_in_order(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            await self._apply(json.loads(record.value or b"{}"))

    async def _apply(self, event: dict[str, Any]) -> None:
        data = event["data"]

        async def effect_and_inbox(session: AsyncClientSession) -> None:
            await self.db["effects"].insert_one({"_id": data["key"], "seq": data["seq"]}, session=session)
            inbox_mark = {"_id": f"{self.group}:{event['id']}", "type": event["type"], "applied_at": datetime.now(UTC)}
            await self.db["inbox"].insert_one(inbox_mark, session=session)

        with contextlib.suppress(DuplicateKeyError):  # already applied: the inbox mark exists
            await self._transaction(effect_and_inbox)
        self.tracker.apply(data["key"])

    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[None]]) -> None:
        while True:
            async with self.client.start_session() as session:
                try:
                    async with await session.start_transaction():
                        await work(session)
                    return
                except PyMongoError as exc:
                    if not any(exc.has_error_label(label) for label in RETRY_LABELS):
                        raise

    async def _create_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.endpoints.kafka_bootstrap_servers)
        await admin.start()
        try:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(self.topic, self.settings.kafka_partitions, 1)])
        finally:
            await admin.close()
