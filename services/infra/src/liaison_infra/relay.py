"""The outbox relay: publishes committed events to Kafka, in order per aggregate key.

One relay per service publishes at a time (a lease in MongoDB), so scaling the process out
never reorders events. Published events stay for the retention window; when the broker
epoch changes (a memory-only broker restarted) they are marked pending again and replayed.
"""

import asyncio
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from liaison_infra.kafka import BrokerEpoch, make_producer, provision_topics
from liaison_infra.metrics import Metrics
from liaison_infra.mongo import OUTBOX, Document
from liaison_infra.settings import ServiceSettings

log = logging.getLogger(__name__)

LEASES = "leases"
RELAY_STATE = "relay_state"
LEASE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 10.0
MAX_IDLE_POLL_SECONDS = 0.2
# Large $in lists cost more than linearly on the station's server: mark published in chunks.
MARK_CHUNK = 100


async def ensure_outbox_indexes(db: AsyncDatabase[Document]) -> None:
    """One index serves the poll, the replay and the retention purge; each more costs every write."""
    await db[OUTBOX].create_index([("pending", ASCENDING), ("created_at", ASCENDING), ("order", ASCENDING)])


class OutboxRelay:
    def __init__(
        self,
        settings: ServiceSettings,
        db: AsyncDatabase[Document],
        topics: list[str],
        metrics: Metrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.topics = topics
        self.metrics = metrics
        self.owner = f"{socket.gethostname()}:{uuid4().hex[:8]}"
        self.epoch: str | None = None
        self.producer: AIOKafkaProducer | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._lease_renewed_at = float("-inf")

    def stop(self) -> None:
        self._stopping.set()

    def wake(self) -> None:
        """Tell the relay new events are committed, to skip the poll wait (same process only)."""
        self._wake.set()

    async def run(self) -> None:
        await ensure_outbox_indexes(self.db)
        backoff = 0.1
        idle = self.settings.outbox_poll_seconds
        next_check = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    if not await self._hold_lease():
                        await self._sleep(LEASE_SECONDS / 2)
                        continue
                    loop_time = asyncio.get_running_loop().time()
                    if self.producer is None or loop_time >= next_check:
                        await self._check_broker()
                        await self._observe_backlog()
                        next_check = loop_time + self.settings.broker_check_seconds
                    published = await self.publish_batch()
                    backoff = 0.1
                    # An idle relay polls less and less often, up to MAX_IDLE_POLL_SECONDS.
                    idle = self.settings.outbox_poll_seconds if published else min(idle * 2, MAX_IDLE_POLL_SECONDS)
                    if published < self.settings.outbox_batch_size:
                        await self._sleep(idle)
                except (KafkaError, PyMongoError, OSError) as exc:
                    log.warning("relay retrying", extra={"fields": {"error": repr(exc), "backoff": backoff}})
                    await self._restart_producer()
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        finally:
            await self._release()

    async def publish_batch(self) -> int:
        """Publish the oldest pending events; returns how many."""
        assert self.producer is not None
        batch = (
            await self.db[OUTBOX]
            .find({"pending": True}, {"topic": 1, "key": 1, "payload": 1})
            .sort([("pending", ASCENDING), ("created_at", ASCENDING), ("order", ASCENDING)])
            .limit(self.settings.outbox_batch_size)
            .to_list()
        )
        if not batch:
            return 0
        sends = [await self.producer.send(doc["topic"], doc["payload"], key=doc["key"].encode()) for doc in batch]
        await asyncio.gather(*sends)
        published_at = datetime.now(UTC)
        ids = [doc["_id"] for doc in batch]
        for start in range(0, len(ids), MARK_CHUNK):
            await self.db[OUTBOX].update_many(
                {"_id": {"$in": ids[start : start + MARK_CHUNK]}},
                {"$set": {"pending": False, "published_at": published_at}},
            )
        self.metrics.outbox_published.inc(len(batch))
        return len(batch)

    async def _check_broker(self) -> None:
        """Start the producer, and replay the retained outbox if the broker lost its data.

        The epoch last seen is stored, so a reset that happened while the relay was down is
        noticed at its next start.
        """
        reader = BrokerEpoch(self.settings)
        current = await reader.current()
        known = self.epoch or await self._stored_epoch()
        if current is not None and current == known and self.producer is not None:
            return
        await provision_topics(self.settings, self.topics)
        fresh = await reader.ensure()
        if known is not None and fresh != known:
            await self._replay_retained()
        await self.db[RELAY_STATE].update_one(
            {"_id": self.settings.service_name}, {"$set": {"epoch": fresh}}, upsert=True
        )
        self.epoch = fresh
        await self._restart_producer()

    async def _stored_epoch(self) -> str | None:
        state = await self.db[RELAY_STATE].find_one({"_id": self.settings.service_name})
        return state["epoch"] if state else None

    async def _replay_retained(self) -> None:
        since = datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours)
        result = await self.db[OUTBOX].update_many(
            {"pending": False, "created_at": {"$gte": since}}, {"$set": {"pending": True}}
        )
        self.metrics.outbox_replays.inc()
        log.warning("broker lost its data; replaying outbox", extra={"fields": {"events": result.modified_count}})

    async def _observe_backlog(self) -> None:
        pending = self.db[OUTBOX]
        self.metrics.outbox_backlog.set(await pending.count_documents({"pending": True}))
        oldest = await pending.find_one({"pending": True}, {"created_at": 1}, sort=[("pending", 1), ("created_at", 1)])
        age = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        self.metrics.outbox_oldest_age.set(age)
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours)
        await pending.delete_many({"pending": False, "created_at": {"$lt": cutoff}})

    async def _restart_producer(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        producer = make_producer(self.settings)
        await producer.start()
        self.producer = producer

    async def _hold_lease(self) -> bool:
        """Take or renew the lease; renewing is skipped until a third of it has passed."""
        clock = asyncio.get_running_loop().time()
        if clock - self._lease_renewed_at < LEASE_SECONDS / 3:
            return True
        now = datetime.now(UTC)
        lease_id = f"relay:{self.settings.service_name}"
        try:
            lease: Any = await self.db[LEASES].find_one_and_update(
                {"_id": lease_id, "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "expires_at": now + timedelta(seconds=LEASE_SECONDS)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        held = bool(lease and lease["owner"] == self.owner)
        if held:
            self._lease_renewed_at = clock
        return held

    async def _release(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        try:
            await self.db[LEASES].delete_one({"_id": f"relay:{self.settings.service_name}", "owner": self.owner})
        except PyMongoError:
            log.warning("relay lease not released; it expires by itself")

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        waits = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._wake.wait())]
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
