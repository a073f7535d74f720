"""The outbox relay: publishes committed events to Kafka, in commit order.

It follows the outbox through a MongoDB change stream: each outbox insert arrives once its
transaction commits, in commit order and with the stored document, so the relay neither
polls nor rewrites an outbox document to mark it published (on the station's server a poll
fetches every pending event and a mark costs about 1 ms an event). Where it got to is the
stream's resume token, saved in ``relay_state`` after each batch; a restart resumes there.

One relay per service publishes at a time (a lease in MongoDB), so scaling the process out
never reorders events. Events stay in the outbox for the retention window and are published
again from it when the stream cannot resume (a first start, or history pruned past the
token) and when the broker epoch changes (a memory-only broker restarted).

An event the broker can never take (too large) is set aside as a dead letter of the service:
retried, it would hold back every later event. It is kept for an operator (``deadletters
list``); ``redrive`` tries it again, and one over the producer's request limit (1 MiB) stays
waiting. Since ``MAX_EVENT_BYTES``, only an older version stores such an event.
"""

import asyncio
import contextlib
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from liaison_infra.change_feed import ChangeFeed
from liaison_infra.deadletters import DeadLetters
from liaison_infra.kafka import BrokerEpoch, make_producer, provision_topics
from liaison_infra.metrics import Metrics
from liaison_infra.mongo import OUTBOX, Document, ensure_outbox_indexes
from liaison_infra.settings import ServiceSettings

log = logging.getLogger(__name__)

LEASES = "leases"
RELAY_STATE = "relay_state"
LEASE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 10.0
# Fetches are spaced so that under load each brings several events: on the station's server
# a fetch costs about as much as the write of an event, and one per event cost 20% of throughput.
FETCH_INTERVAL_SECONDS = 0.02
# The longest the stream's position goes unsaved while events flow.
SAVE_SECONDS = 1.0
# Transactions commit out of creation order by at most their own duration: a stream that
# cannot resume publishes again from this long before the last event it published.
COMMIT_SKEW = timedelta(minutes=5)
INSERTS: list[Document] = [{"$match": {"operationType": "insert"}}, {"$project": {"fullDocument": 1}}]
SENT_FIELDS = {"topic": 1, "key": 1, "payload": 1, "created_at": 1}


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
        self.deadletters = DeadLetters(db, settings.service_name)
        self.owner = f"{socket.gethostname()}:{uuid4().hex[:8]}"
        self.epoch: str | None = None
        self.producer: AIOKafkaProducer | None = None
        self.stream: ChangeFeed | None = None
        self.published_until: datetime | None = None
        # Events published from the outbox itself that the stream may deliver again.
        self._sent_from_outbox: set[str] = set()
        self._stopping = asyncio.Event()
        self._lease_renewed_at = float("-inf")
        self._saved_at = float("-inf")
        self._fetched_at = float("-inf")
        self._unsaved = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await ensure_outbox_indexes(self.db)
        await self.deadletters.ensure_indexes()
        backoff = 0.1
        next_check = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    if not await self._hold_lease():
                        await self._close_stream()
                        await self._sleep(LEASE_SECONDS / 2)
                        continue
                    loop_time = asyncio.get_running_loop().time()
                    if self.producer is None or loop_time >= next_check:
                        await self._check_broker()
                        await self.observe_backlog()
                        next_check = loop_time + self.settings.broker_check_seconds
                    if self.stream is None:
                        await self._open_stream()
                    await self.publish_batch()
                    backoff = 0.1
                except (KafkaError, PyMongoError, OSError) as exc:
                    log.warning("relay retrying", extra={"fields": {"error": repr(exc), "backoff": backoff}})
                    await self._close_stream()
                    await self._restart_producer()
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
        finally:
            await self._release()

    async def publish_batch(self) -> int:
        """Publish the events committed since the last batch; returns how many.

        A batch's sends are confirmed together. The stream's position is saved when it falls
        quiet and at least every ``SAVE_SECONDS``, so a crash repeats events (consumers keep
        an inbox) but never skips one.
        """
        assert self.stream is not None
        pause = self._fetched_at + FETCH_INTERVAL_SECONDS - asyncio.get_running_loop().time()
        if pause > 0:
            await asyncio.sleep(pause)
        self._fetched_at = asyncio.get_running_loop().time()
        changes = await self.stream.next_batch(self.settings.outbox_batch_size, self.settings.outbox_wait_seconds)
        events = [change["fullDocument"] for change in changes]
        fresh = [event for event in events if event["_id"] not in self._sent_from_outbox]
        await self._send_all(fresh)
        if events:
            self._note_published(events)
        else:
            self._sent_from_outbox.clear()  # caught up: whatever the stream could repeat has passed
        clock = asyncio.get_running_loop().time()
        if self._unsaved and (not events or clock >= self._saved_at + SAVE_SECONDS):
            await self._save_position()
        return len(fresh)

    async def _send_all(self, events: list[Document]) -> None:
        """Hand ``events`` to the producer in order, then wait until the broker has them all;
        those it refuses for good are set aside, any other failure is raised (to retry them all)."""
        sends = [await self._send(event) for event in events]
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, MessageSizeTooLargeError):
                raise outcome
        refused = [(e, o) for e, o in zip(events, outcomes, strict=True) if isinstance(o, MessageSizeTooLargeError)]
        for event, error in refused:
            letter = await self.deadletters.record_unpublished(event, error)
            log.error("event set aside", extra={"fields": {"letter": letter["_id"], "error": letter["error"]}})
        self.metrics.outbox_deadlettered.inc(len(refused))
        self.metrics.outbox_published.inc(len(events) - len(refused))

    async def _send(self, event: Document) -> asyncio.Future[Any]:
        """The broker's answer to come; the producer refuses a message over its size limit at once."""
        assert self.producer is not None
        try:
            sent: asyncio.Future[Any] = await self.producer.send(
                event["topic"], event["payload"], key=event["key"].encode()
            )
        except MessageSizeTooLargeError as refused:
            sent = asyncio.get_running_loop().create_future()
            sent.set_exception(refused)
        return sent

    def _note_published(self, events: list[Document]) -> None:
        newest = max(event["created_at"] for event in events)
        self.published_until = max(self.published_until or newest, newest)
        self._unsaved = True

    async def _save_position(self) -> None:
        assert self.stream is not None
        await self.db[RELAY_STATE].update_one(
            {"_id": self.settings.service_name},
            {"$set": {"resume_token": self.stream.resume_token, "published_until": self.published_until}},
            upsert=True,
        )
        self._saved_at = asyncio.get_running_loop().time()
        self._unsaved = False

    async def _open_stream(self) -> None:
        """Resume where the last saved batch ended; failing that, publish again from the outbox."""
        state = await self.db[RELAY_STATE].find_one({"_id": self.settings.service_name}) or {}
        self.published_until = state.get("published_until")
        token = state.get("resume_token")
        if token is not None:
            try:
                self.stream = await ChangeFeed.open(self.db, OUTBOX, token, stages=INSERTS)
                return
            except OperationFailure as exc:
                log.warning("outbox stream cannot resume", extra={"fields": {"error": str(exc)}})
        # Opened before the outbox is read, so nothing committed in between is missed.
        self.stream = await ChangeFeed.open(self.db, OUTBOX, None, stages=INSERTS)
        await self._publish_retained(self.published_until - COMMIT_SKEW if self.published_until else None)
        await self._save_position()

    async def _publish_retained(self, since: datetime | None) -> None:
        """Publish the retained events created since ``since`` (all if None), in creation order."""
        query = {} if since is None else {"created_at": {"$gte": since}}
        cursor = self.db[OUTBOX].find(query, SENT_FIELDS).sort([("created_at", ASCENDING), ("order", ASCENDING)])
        chunk: list[Document] = []
        published = 0
        async for event in cursor:
            if event["_id"] not in self._sent_from_outbox:
                chunk.append(event)
            if len(chunk) == self.settings.outbox_batch_size:
                published += await self._publish_chunk(chunk)
                chunk = []
        published += await self._publish_chunk(chunk)
        log.info("published retained events", extra={"fields": {"events": published, "since": str(since)}})

    async def _publish_chunk(self, events: list[Document]) -> int:
        await self._send_all(events)
        self._sent_from_outbox.update(event["_id"] for event in events)
        if events:
            self._note_published(events)
        return len(events)

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
        await self._restart_producer()
        if known is not None and fresh != known:
            await self._replay_retained()
        await self.db[RELAY_STATE].update_one(
            {"_id": self.settings.service_name}, {"$set": {"epoch": fresh}}, upsert=True
        )
        self.epoch = fresh

    async def _stored_epoch(self) -> str | None:
        state = await self.db[RELAY_STATE].find_one({"_id": self.settings.service_name})
        return state.get("epoch") if state else None

    async def _replay_retained(self) -> None:
        log.warning("broker lost its data; replaying the retained outbox")
        await self._publish_retained(datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours))
        self.metrics.outbox_replays.inc()

    async def observe_backlog(self) -> None:
        """Set the backlog gauges from the saved position, and purge what the retention window let go.

        The backlog is the events created after the newest one published (commit order may
        differ from creation order by a transaction's duration); reading the saved position
        rather than this relay's own keeps every instance's gauges alike.
        """
        state = await self.db[RELAY_STATE].find_one({"_id": self.settings.service_name}) or {}
        published_until: datetime | None = state.get("published_until")
        outbox = self.db[OUTBOX]
        after = {} if published_until is None else {"created_at": {"$gt": published_until}}
        self.metrics.outbox_backlog.set(await outbox.count_documents(after))
        oldest = await outbox.find_one(after, {"created_at": 1}, sort=[("created_at", ASCENDING)])
        age = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        self.metrics.outbox_oldest_age.set(age)
        if published_until is not None:
            cutoff = datetime.now(UTC) - timedelta(hours=self.settings.outbox_retention_hours)
            await outbox.delete_many({"created_at": {"$lt": min(cutoff, published_until)}})

    async def _restart_producer(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        producer = make_producer(self.settings)
        await producer.start()
        self.producer = producer

    async def _close_stream(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await stream.close()

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
        """Save how far the stream got (so a restart repeats nothing), then let go of it all."""
        if self._unsaved and self.stream is not None:
            with contextlib.suppress(PyMongoError):
                await self._save_position()
        await self._close_stream()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        try:
            await self.db[LEASES].delete_one({"_id": f"relay:{self.settings.service_name}", "owner": self.owner})
        except PyMongoError:
            log.warning("relay lease not released; it expires by itself")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
