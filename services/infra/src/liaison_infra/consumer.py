"""The consumer runner: applies events exactly once, however often Kafka delivers them.

Each event's effects and its inbox mark (group + event id) commit in one MongoDB
transaction; offsets are committed only after that, so a crash in between means a
redelivery that the inbox turns into a no-op. A failing event is retried a bounded number
of times, then dead-lettered (MongoDB first, then the dead-letter topic) and the partition
moves on. Partitions of one batch are applied concurrently, each in order.
"""

import asyncio
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import BaseModel, ValidationError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from liaison_infra.deadletters import DeadLetters, deadletter_topic
from liaison_infra.envelope import Envelope
from liaison_infra.kafka import BrokerEpoch, make_consumer, make_producer, provision_topics
from liaison_infra.logs import correlation_id
from liaison_infra.metrics import Metrics
from liaison_infra.mongo import Document, Transaction, ensure_outbox_indexes, run_in_transaction
from liaison_infra.service import EventHandler, ServiceSpec
from liaison_infra.settings import ServiceSettings

log = logging.getLogger(__name__)

INBOX = "inbox"


class AlreadyApplied(Exception):
    """The event's inbox mark exists: its effects are already committed. Aborts the transaction."""


class ConsumerRunner:
    def __init__(
        self,
        settings: ServiceSettings,
        client: AsyncMongoClient[Document],
        db: AsyncDatabase[Document],
        metrics: Metrics,
        spec: ServiceSpec,
        group_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.db = db
        self.metrics = metrics
        self.spec = spec
        self.topics = spec.consumed_topics
        self.group_id = group_id or settings.service_name
        self.deadletters = DeadLetters(db, self.group_id)
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.epoch: str | None = None
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        if not self.topics:
            await self._stopping.wait()
            return
        await self.deadletters.ensure_indexes()
        await ensure_outbox_indexes(self.db)
        next_check = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    now = asyncio.get_running_loop().time()
                    if self.consumer is None or now >= next_check:
                        await self._check_broker()
                        next_check = now + self.settings.broker_check_seconds
                    await self.poll_once()
                except (KafkaError, PyMongoError, OSError) as exc:
                    log.warning("consumer restarting", extra={"fields": {"error": repr(exc)}})
                    await self._close_clients()
                    await asyncio.sleep(0.5)
        finally:
            await self._close_clients()

    async def poll_once(self) -> None:
        assert self.consumer is not None
        batches = await self.consumer.getmany(timeout_ms=200)
        if not batches:
            return
        await asyncio.gather(*(self._apply_in_order(records) for records in batches.values()))
        try:
            await self.consumer.commit()
        except CommitFailedError:
            log.info("commit lost to a rebalance; the inbox absorbs the redelivery")
        for tp in batches:
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = highwater - await self.consumer.position(tp)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    async def _apply_in_order(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            await self.apply(record)

    async def apply(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Apply one delivered record, retrying and finally dead-lettering it."""
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, None, exc, attempts=1)
            return
        subscription = self.spec.subscription_for(envelope.type)
        if subscription is None:
            return
        try:
            event = subscription.reader.model_validate(envelope.data)
        except ValidationError as exc:
            await self._dead_letter(record, envelope, exc, attempts=1)
            return
        token = correlation_id.set(envelope.correlationid)
        try:
            for attempt in range(1, self.settings.consumer_max_attempts + 1):
                try:
                    await run_in_transaction(
                        self.client,
                        self.db,
                        self.settings.service_name,
                        lambda tx: self._apply(tx, event, envelope, subscription.handler),
                    )
                except AlreadyApplied:
                    self.metrics.consumer_duplicates.inc()
                    return
                except Exception as exc:
                    if attempt == self.settings.consumer_max_attempts:
                        await self._dead_letter(record, envelope, exc, attempts=attempt)
                        return
                    log.warning("event failed; retrying", extra={"fields": {"event": envelope.id, "error": repr(exc)}})
                    await asyncio.sleep(self.settings.consumer_retry_backoff_seconds * 2 ** (attempt - 1))
                else:
                    self.metrics.consumer_applied.labels(envelope.type).inc()
                    return
        finally:
            correlation_id.reset(token)

    async def _apply(self, tx: Transaction, event: BaseModel, envelope: Envelope, handler: EventHandler) -> None:
        """The inbox mark goes first: a duplicate fails on its key before any effect is tried."""
        try:
            await tx.db[INBOX].insert_one(
                {"_id": f"{self.group_id}:{envelope.id}", "type": envelope.type, "applied_at": datetime.now(UTC)},
                session=tx.session,
            )
        except DuplicateKeyError as exc:
            raise AlreadyApplied from exc
        await handler(event, envelope, tx)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope | None, error: Exception, *, attempts: int
    ) -> None:
        assert self.producer is not None
        letter = await self.deadletters.record(record, envelope, error, attempts)
        await self.producer.send_and_wait(
            deadletter_topic(self.group_id),
            record.value,
            key=record.key,
            headers=[
                (name, str(letter[name]).encode()) for name in ("topic", "partition", "offset", "error", "attempts")
            ],
        )
        self.metrics.consumer_deadlettered.inc()
        log.error("event dead-lettered", extra={"fields": {"letter": letter["_id"], "error": letter["error"]}})

    async def _check_broker(self) -> None:
        """(Re)start the clients; on a new broker epoch start again from the beginning."""
        reader = BrokerEpoch(self.settings)
        current = await reader.current()
        if current is not None and current == self.epoch and self.consumer is not None:
            return
        if self.epoch is not None:
            log.warning("broker epoch changed; re-reading every partition from the start")
        await self._close_clients()
        await provision_topics(self.settings, [*self.topics, deadletter_topic(self.group_id)])
        self.epoch = await reader.ensure()
        self.producer = make_producer(self.settings)
        await self.producer.start()
        self.consumer = make_consumer(self.settings, self.group_id, *self.topics)
        await self.consumer.start()

    async def _close_clients(self) -> None:
        for client in (self.consumer, self.producer):
            if client is not None:
                await client.stop()
        self.consumer = None
        self.producer = None
