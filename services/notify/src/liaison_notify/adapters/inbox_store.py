"""The in-app inbox and the station's alerts.

An inbox item's ``_id`` is the key of the message it carries, so writing it again changes
nothing: the inbox is the one channel that can be retried blindly. Alerts (a recipient nobody
can reach, a send whose outcome is unknown) are stored once per message and reason, and shown
in the station's inbox (``station_head:<station_id>``).
"""

from collections.abc import Sequence
from datetime import datetime

from liaison_infra.mongo import Document
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.domain.messages import Message

INBOX = "inbox_items"  # not "inbox": that name is the consumer's record of applied events
ALERTS = "alerts"


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[INBOX].create_index([("recipient_id", ASCENDING), ("created_at", ASCENDING)])
    await db[ALERTS].create_index([("station_id", ASCENDING), ("created_at", ASCENDING)])
    await db[ALERTS].create_index([("district_id", ASCENDING), ("created_at", ASCENDING)])


def new_item(
    item_id: str, recipient_id: str, about: Message, template: str, text: tuple[str, str], now: datetime
) -> Document:
    """An unread inbox item for ``recipient_id`` in the scope of the message it is ``about``."""
    title, body = text
    return {
        "_id": item_id,
        "recipient_id": recipient_id,
        "station_id": about.station_id,
        "district_id": about.district_id,
        "template": template,
        "title": title,
        "body": body,
        "created_at": now,
        "read_at": None,
    }


async def put(
    db: AsyncDatabase[Document], items: Sequence[Document], session: AsyncClientSession | None = None
) -> None:
    """Store inbox items (each with its ``_id``) not stored before."""
    if items:
        requests = [UpdateOne({"_id": item["_id"]}, {"$setOnInsert": item}, upsert=True) for item in items]
        await db[INBOX].bulk_write(requests, ordered=False, session=session)


async def raise_alerts(db: AsyncDatabase[Document], alerts: Sequence[Document], session: AsyncClientSession) -> None:
    if alerts:
        requests = [UpdateOne({"_id": alert["_id"]}, {"$setOnInsert": alert}, upsert=True) for alert in alerts]
        await db[ALERTS].bulk_write(requests, ordered=False, session=session)


async def items_of(
    db: AsyncDatabase[Document], recipient_ids: Sequence[str], *, after: datetime | None, limit: int
) -> list[Document]:
    """Newest first; with ``after``, only those stored later, oldest first (what a stream sends next)."""
    if after is None:
        query: Document = {"recipient_id": {"$in": list(recipient_ids)}}
        return [d async for d in db[INBOX].find(query, sort=[("created_at", DESCENDING)], limit=limit)]
    query = {"recipient_id": {"$in": list(recipient_ids)}, "created_at": {"$gt": after}}
    return [d async for d in db[INBOX].find(query, sort=[("created_at", ASCENDING)], limit=limit)]


async def mark_read(db: AsyncDatabase[Document], item_id: str, recipient_ids: Sequence[str], now: datetime) -> bool:
    """Mark one of the caller's items read (the first reading counts); False if it is not theirs."""
    mine = {"_id": item_id, "recipient_id": {"$in": list(recipient_ids)}}
    await db[INBOX].update_one({**mine, "read_at": None}, {"$set": {"read_at": now}})
    return await db[INBOX].find_one(mine, {"_id": 1}) is not None
