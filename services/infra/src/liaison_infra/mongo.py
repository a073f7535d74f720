"""MongoDB access shared by the services: one client, transactions with bounded retry,
optimistic concurrency, and the outbox write that rides inside every transaction."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from liaison_infra.domain_errors import InvalidInput
from liaison_infra.envelope import Envelope, Event
from liaison_infra.logs import current_correlation_id

Document = dict[str, Any]
T = TypeVar("T")

OUTBOX = "outbox"
DEADLETTERS = "deadletters"  # events a consumer gave up on or the broker refused (deadletters.py)
TRANSIENT_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")
WRITE_CONFLICT = 112
RETRY_PAUSE = 0.005  # seconds, doubled after each conflict, taken at random up to it
# Half of what Kafka takes by default (a broker's message.max.bytes, the producer's
# max_request_size: 1 MiB). A change whose event would be larger is refused with it: stored, the
# event could never be published.
MAX_EVENT_BYTES = 512 * 1024


class ConcurrencyConflict(Exception):
    """The aggregate changed since it was read; the caller must reload and decide again."""


def connect(url: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(url, tz_aware=True, uuidRepresentation="standard")


@dataclass
class Transaction:
    """What a handler may do inside one MongoDB transaction.

    Events passed to ``publish`` are written to the outbox in the same transaction as the
    state change, so either both are stored or neither is.
    """

    db: AsyncDatabase[Document]
    session: AsyncClientSession
    source: str
    outgoing: list[tuple[str, Envelope]] = field(default_factory=list)

    def publish(self, event: Event, *, subject: str, station_id: str | None, district_id: str | None) -> None:
        """Queue ``event`` about aggregate ``subject``; it is stored when the transaction commits."""
        envelope = Envelope.wrap(
            event,
            source=self.source,
            subject=subject,
            station_id=station_id,
            district_id=district_id,
            correlation_id=current_correlation_id(),
        )
        self.outgoing.append((event.topic, envelope))

    async def insert(self, collection: str, document: Document) -> None:
        """Insert an aggregate at version 1; an existing id is a concurrency conflict."""
        try:
            await self.db[collection].insert_one({**document, "version": 1}, session=self.session)
        except DuplicateKeyError as exc:
            raise ConcurrencyConflict(f"{collection} {document.get('_id')} already exists") from exc

    async def replace(self, collection: str, document: Document, *, expected_version: int) -> int:
        """Store the aggregate only if nobody changed it since ``expected_version``."""
        new_version = expected_version + 1
        try:
            result = await self.db[collection].replace_one(
                {"_id": document["_id"], "version": expected_version},
                {**document, "version": new_version},
                session=self.session,
            )
        except DuplicateKeyError as exc:  # a unique key another document took since it was read
            raise ConcurrencyConflict(f"{collection} {document['_id']} takes a key stored meanwhile") from exc
        if result.matched_count != 1:
            raise ConcurrencyConflict(f"{collection} {document['_id']} is no longer at version {expected_version}")
        return new_version

    async def flush_outbox(self) -> None:
        if not self.outgoing:
            return
        now = datetime.now(UTC)
        documents = [outbox_document(topic, event, now, order) for order, (topic, event) in enumerate(self.outgoing)]
        for document in documents:
            if len(document["payload"]) > MAX_EVENT_BYTES:
                raise InvalidInput(
                    "event_too_large",
                    f"this change would publish {len(document['payload']):,} bytes on {document['topic']}, "
                    f"more than the {MAX_EVENT_BYTES:,} an event may carry; send shorter texts or fewer items",
                )
        await self.db[OUTBOX].insert_many(documents, session=self.session)


async def ensure_outbox_indexes(db: AsyncDatabase[Document]) -> None:
    """Creation time serves the retained re-publishing, the backlog metrics and the purge.

    Every process that writes calls this before its first transaction: a transaction that creates
    the outbox implicitly deadlocks the station's server when the relay's createIndexes meets it.
    """
    await db[OUTBOX].create_index([("created_at", ASCENDING)])
    await drop_retired_indexes(db[OUTBOX], ["pending_1_created_at_1_order_1"])  # of the polling relay


async def drop_retired_indexes(collection: AsyncCollection[Document], names: list[str]) -> None:
    """Drop the indexes a newer version no longer reads, where an older one left them: every
    index is paid for on each write."""
    retired = set(names) & set(await collection.index_information())
    for name in sorted(retired):
        await collection.drop_index(name)


def outbox_document(topic: str, envelope: Envelope, created_at: datetime, order: int) -> Document:
    """The stored form of an event for the relay; the payload is kept as sent bytes."""
    return {
        "_id": envelope.id,
        "topic": topic,
        "key": envelope.subject,
        "payload": envelope.to_bytes(),
        "created_at": created_at,
        "order": order,
    }


async def forget_retained(tx: Transaction, keys: list[str]) -> None:
    """Delete the events about aggregates ``keys`` that the outbox retains (one scan of it), and
    the service's dead letters about them.

    They are kept for the retention window only so a relay can replay them after a broker
    loss; once the aggregate's personal data is erased, a replay (or a re-drive) must not send
    it again. Events not relayed yet still go out, in order, before the event announcing the
    erasure: the relay reads them from the change stream, which carries each inserted document.
    """
    events, letters = _about(keys)
    await tx.db[OUTBOX].delete_many(events, session=tx.session)
    await tx.db[DEADLETTERS].delete_many(letters, session=tx.session)


async def redact_retained(tx: Transaction, keys: list[str], redact: Callable[[Document], Document]) -> None:
    """Rewrite the data of the events about aggregates ``keys`` that the outbox retains, and of the
    service's dead letters about them, through ``redact``: what is erased from an aggregate that
    lives on (a log's opinion text, say) must not be sent again by a replay or a re-drive either.
    Events not relayed yet go out as they were, as with ``forget_retained``; an outbox with many
    events is scanned, which erasure can afford."""
    if not keys:
        return
    events, letters = _about(keys)
    kept = ((OUTBOX, events), (DEADLETTERS, {**letters, "event_id": {"$ne": None}}))  # a letter of an envelope
    for collection, about_them in kept:
        async for stored in tx.db[collection].find(about_them, {"payload": 1}, session=tx.session):
            envelope = Envelope.from_bytes(stored["payload"])
            data = redact(envelope.data)
            if data != envelope.data:
                payload = envelope.model_copy(update={"data": data}).to_bytes()
                await tx.db[collection].update_one(
                    {"_id": stored["_id"]}, {"$set": {"payload": payload}}, session=tx.session
                )


def _about(keys: list[str]) -> tuple[Document, Document]:
    """The filters of the retained events and of the dead letters (keyed in bytes) about ``keys``."""
    return {"key": {"$in": keys}}, {"key": {"$in": [key.encode() for key in keys]}}


async def run_in_transaction(
    client: AsyncMongoClient[Document],
    db: AsyncDatabase[Document],
    source: str,
    work: Callable[[Transaction], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """Run ``work`` and its outbox writes in one transaction, retrying transient failures after
    a short random pause. Still in a write conflict with concurrent transactions after
    ``attempts``, it is a ``ConcurrencyConflict`` (a 409: nothing stored, ask again); any other
    failure (the store unreachable, a commit whose outcome is unknown) is raised as it is.

    ``work`` may run more than once, so it must not have effects outside the transaction.
    """
    for attempt in range(1, attempts + 1):
        async with client.start_session() as session:
            tx = Transaction(db=db, session=session, source=source)
            try:
                async with await session.start_transaction():
                    result = await work(tx)
                    await tx.flush_outbox()
                return result
            except PyMongoError as exc:
                if not any(exc.has_error_label(label) for label in TRANSIENT_LABELS):
                    raise
                if attempt == attempts:
                    if isinstance(exc, OperationFailure) and exc.code == WRITE_CONFLICT:
                        raise ConcurrencyConflict("concurrent changes kept conflicting with this one") from exc
                    raise
        await asyncio.sleep(random.uniform(0, RETRY_PAUSE * 2**attempt))  # the other transaction ends meanwhile
    raise AssertionError("unreachable")
