"""Claims and the attempts log.

``deliveries`` holds one claim per message and channel, ``_id`` = "<message key>|<channel>": the
idempotency key (rule, subject, occurrence, recipient, channel). A claim is taken before the send
and is the only way to send: ``sending`` (with a lease and the taker's token) → ``retry`` (taken
again once ``retry_at`` passes) | ``failed`` | ``unknown`` (the send may have happened; never taken
again). A claim keeps the attempts that did not deliver, with the providers' answers
(``attempts``); the attempt that delivered is recorded on its message (``sends``) and its claim
is left as it was: each send then costs one write, not two (on the station's server an update
costs about a millisecond, a fifth of a reminder). A claim still ``sending`` a lease after its
message fell due lost its worker mid-send (a message sent is never due again); whoever hands that
message out next settles it (``take_lapsed``).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from liaison_infra.mongo import Document, Transaction, drop_retired_indexes
from liaison_infra.runtime import Runtime
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from liaison_notify.adapters.grouped_updates import find_by_ids, grouped
from liaison_notify.domain.channels import EXTERNAL, Channel

DELIVERIES = "deliveries"
# Where attempts were logged, one document each, before claims kept them.
SEPARATE_ATTEMPTS = "delivery_attempts"
FOLD_BATCH = 500
DUPLICATE_KEY = 11000
ATTEMPT_FIELDS = ("attempt", "at", "delivered", "settled", "answer")


def claim_id(message_id: str, channel: str) -> str:
    """A claim is keyed by its message and channel: the idempotency key of a send."""
    return f"{message_id}|{channel}"


def claim_ids(message_ids: Iterable[str], channels: Iterable[Channel] = Channel) -> list[str]:
    """The keys of these messages' claims on ``channels``: looked up by key, no index to keep."""
    return [claim_id(message_id, channel) for message_id in message_ids for channel in channels]


@dataclass(frozen=True)
class Claim:
    message_id: str
    channel: str
    station_id: str
    district_id: str | None

    @property
    def id(self) -> str:
        return claim_id(self.message_id, self.channel)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Claims are found by key alone; the lease index an older version scanned goes."""
    await drop_retired_indexes(db[DELIVERIES], ["status_1_lease_until_1"])


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
    taking = {"status": "sending", "token": token, "lease_until": now + lease}
    new = [{"_id": c.id, **asdict(c), **taking, "claimed_at": now, "attempt": 1} for c in wanted]
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
    await db[DELIVERIES].bulk_write(grouped((key, due, retake) for key in claim_ids), ordered=False)
    cursor = db[DELIVERIES].find({"_id": {"$in": claim_ids}, "token": taking["token"]}, {"attempt": 1})
    return {document["_id"]: document["attempt"] async for document in cursor}


async def in_flight(tx: Transaction, message_ids: Sequence[str], now: datetime) -> set[str]:
    """Those of ``message_ids`` a worker is sending now: a claim still ``sending`` within its lease."""
    sending = {"status": "sending", "lease_until": {"$gte": now}}
    claims = await find_by_ids(tx.db[DELIVERIES], claim_ids(message_ids), sending, {"message_id": 1}, tx.session)
    return {claim["message_id"] for claim in claims}


async def take_lapsed(
    db: AsyncDatabase[Document], message_ids: Sequence[str], now: datetime, lease: timedelta
) -> tuple[str, list[Document]]:
    """Take, to settle them, the claims of ``message_ids`` on any outside channel still
    ``sending`` after their lease (looked up by key; read first, since they are rare); returns
    the taker's token and each claim taken (its message, channel and attempt)."""
    token = uuid4().hex
    lease_over = {"status": "sending", "lease_until": {"$lt": now}}
    lapsed = await find_by_ids(db[DELIVERIES], claim_ids(message_ids, EXTERNAL), lease_over, {"_id": 1})
    if not lapsed:
        return token, []
    taking = {"$set": {"token": token, "lease_until": now + lease, "lapsed_at": now}}
    await db[DELIVERIES].bulk_write(grouped((d["_id"], lease_over, taking) for d in lapsed), ordered=False)
    cursor = db[DELIVERIES].find(
        {"_id": {"$in": [d["_id"] for d in lapsed]}, "token": token}, {"message_id": 1, "channel": 1, "attempt": 1}
    )
    return token, [document async for document in cursor]


async def settle(
    db: AsyncDatabase[Document], settled: dict[tuple[str, str], Document], session: AsyncClientSession
) -> None:
    """Record how each claim ended, its attempt logged (an update by claim id and taker's token):
    only its taker settles a claim, and by ``_id`` and token alone, which the station's server
    serves fastest; claims settled alike together."""
    if settled:
        requests = grouped((key, {"token": token}, change) for (key, token), change in settled.items())
        await db[DELIVERIES].bulk_write(requests, ordered=False, session=session)


def settling(fields: Document, attempt: Document) -> Document:
    """The update that settles a claim with ``fields`` and logs ``attempt``."""
    return {"$set": fields, "$push": {"attempts": attempt}}


async def of_message(db: AsyncDatabase[Document], message: Document) -> tuple[list[Document], list[Document]]:
    """A message's claims (one per channel), in the order
    they were first taken, and every attempt of any of them, oldest first (at one moment, those
    of the channel taken first), each with its claim's channel and scope. A claim that delivered
    the message (one of the message's ``sends``) is shown ``sent``."""
    keys = claim_ids([message["_id"]])
    claims = [d async for d in db[DELIVERIES].find({"_id": {"$in": keys}}, sort=[("claimed_at", ASCENDING)])]
    sends: defaultdict[str, list[Document]] = defaultdict(list)
    for send in message.get("sends", []):
        sends[send["channel"]].append({name: send.get(name) for name in ATTEMPT_FIELDS})
    attempts = []
    for order, claim in enumerate(claims):
        delivered = sends[claim["channel"]]
        if delivered and claim["status"] == "sending":
            claim["status"] = "sent"
        for number, attempt in enumerate([*claim.get("attempts", []), *delivered], start=1):
            about = {"_id": f"{claim['_id']}|{number}", "message_id": message["_id"], **_about(claim)}
            attempts.append((attempt["at"], order, {**about, **attempt}))
    return claims, [attempt for _, _, attempt in sorted(attempts, key=lambda entry: entry[:2])]


def _about(claim: Document) -> Document:
    return {name: claim.get(name) for name in ("channel", "station_id", "district_id")}


async def fold_separate_attempts(runtime: Runtime) -> None:
    """At start-up, move the attempts an older version logged apart onto their claims, a batch
    per transaction (each moved and deleted at once, so a restart midway repeats none), then drop
    their collection: the delivery log reads the claims only."""
    attempts = runtime.db[SEPARATE_ATTEMPTS]
    if SEPARATE_ATTEMPTS not in await runtime.db.list_collection_names():
        return

    async def fold(tx: Transaction) -> int:
        batch = await attempts.find({}, session=tx.session).sort("at", ASCENDING).to_list(FOLD_BATCH)
        by_claim: defaultdict[str, list[Document]] = defaultdict(list)
        for attempt in batch:
            by_claim[claim_id(attempt["message_id"], attempt["channel"])].append(
                {name: attempt.get(name) for name in ATTEMPT_FIELDS}
            )
        for claimed, logged in by_claim.items():
            change = {"$push": {"attempts": {"$each": logged}}}
            await tx.db[DELIVERIES].update_one({"_id": claimed}, change, session=tx.session)
        await attempts.delete_many({"_id": {"$in": [attempt["_id"] for attempt in batch]}}, session=tx.session)
        return len(batch)

    while await runtime.transaction(fold) == FOLD_BATCH:
        pass
    await runtime.db.drop_collection(SEPARATE_ATTEMPTS)
