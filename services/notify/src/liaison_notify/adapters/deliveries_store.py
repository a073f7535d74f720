"""Claims and the attempts log.

``deliveries`` holds one claim per message and channel, ``_id`` = "<message key>|<channel>": the
idempotency key (rule, subject, occurrence, recipient, channel). A claim is taken before the send
and is the only way to send: ``sending`` (with a lease and the taker's token) → ``sent`` | ``retry`` (taken again once
``retry_at`` passes) | ``failed`` | ``unknown`` (the send may have happened; never taken again).
``delivery_attempts`` keeps every attempt with the provider's answer.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from liaison_notify.adapters.grouped_updates import grouped
from liaison_notify.domain.channels import Channel

DELIVERIES = "deliveries"
ATTEMPTS = "delivery_attempts"
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class Claim:
    message_id: str
    channel: str
    station_id: str
    district_id: str | None

    @property
    def id(self) -> str:
        return f"{self.message_id}|{self.channel}"


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[DELIVERIES].create_index([("status", ASCENDING), ("lease_until", ASCENDING)])
    await db[ATTEMPTS].create_index([("message_id", ASCENDING), ("at", ASCENDING)])


async def claim(
    db: AsyncDatabase[Document], wanted: Sequence[Claim], now: datetime, lease: timedelta
) -> tuple[str, dict[str, int]]:
    """Take the claims nobody holds; returns the taker's token and the attempt number of each one taken.

    A first attempt is an insert (batched, and cheap on the station's server); a key already
    there is taken again only if it waits for a retry that is due, by a conditional update. So
    of two workers racing for one key exactly one wins, and a settled claim is never taken again.
    """
    token = uuid4().hex
    if not wanted:
        return token, {}
    taking = {"status": "sending", "token": token, "claimed_at": now, "lease_until": now + lease}
    new = [{"_id": c.id, **asdict(c), **taking, "attempt": 1} for c in wanted]
    lost: set[int] = set()
    try:
        await db[DELIVERIES].insert_many(new, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error["code"] != DUPLICATE_KEY for error in errors):
            raise
        lost = {error["index"] for error in errors}
    taken = {wanted[index].id: 1 for index in range(len(wanted)) if index not in lost}
    return token, taken | await _retake(db, [wanted[index].id for index in sorted(lost)], now, taking)


async def _retake(db: AsyncDatabase[Document], claim_ids: list[str], now: datetime, taking: Document) -> dict[str, int]:
    """Take again those of ``claim_ids`` whose retry is due; the others are held or settled."""
    if not claim_ids:
        return {}
    due = {"status": "retry", "retry_at": {"$lte": now}}
    retake = {"$set": taking, "$inc": {"attempt": 1}}
    await db[DELIVERIES].bulk_write(grouped((claim_id, due, retake) for claim_id in claim_ids), ordered=False)
    cursor = db[DELIVERIES].find({"_id": {"$in": claim_ids}, "token": taking["token"]}, {"attempt": 1})
    return {document["_id"]: document["attempt"] async for document in cursor}


async def settle(
    db: AsyncDatabase[Document], settled: dict[tuple[str, str], Document], session: AsyncClientSession
) -> None:
    """Record how each claim ended (``$set`` fields by claim id and taker's token): only its taker
    settles a claim, and by ``_id`` and token alone, which the station's server serves fastest;
    claims settled alike together."""
    if settled:
        requests = grouped(
            (claim_id, {"token": token}, {"$set": fields}) for (claim_id, token), fields in settled.items()
        )
        await db[DELIVERIES].bulk_write(requests, ordered=False, session=session)


async def expired(db: AsyncDatabase[Document], now: datetime, limit: int) -> list[Document]:
    """Claims still sending after their lease: their worker died or lost its way mid-send."""
    cursor = db[DELIVERIES].find({"status": "sending", "lease_until": {"$lt": now}}, limit=limit)
    return [document async for document in cursor]


async def log_attempts(db: AsyncDatabase[Document], attempts: list[Document], session: AsyncClientSession) -> None:
    if attempts:
        await db[ATTEMPTS].insert_many(attempts, ordered=False, session=session)


async def of_message(db: AsyncDatabase[Document], message_id: str) -> tuple[list[Document], list[Document]]:
    """A message's claims (looked up by key, one per channel: no index to keep) and its attempts, oldest first."""
    claim_ids = [f"{message_id}|{channel}" for channel in Channel]
    claims = [d async for d in db[DELIVERIES].find({"_id": {"$in": claim_ids}}, sort=[("claimed_at", ASCENDING)])]
    attempts = [d async for d in db[ATTEMPTS].find({"message_id": message_id}, sort=[("at", ASCENDING)])]
    return claims, attempts
