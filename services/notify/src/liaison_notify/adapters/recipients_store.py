"""The ``recipients`` read model: who can be told things, and on which routes, in order.

Ids: ``deputy:<deputy_id>`` (fed by records' deputy events), ``station_head:<station_id>`` and
``district:<district_id>`` (contacts set through the API). ``station_id`` is always a list, so
one scope filter serves a deputy of several stations, a station head and a district.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.domain.channels import Channel, Route

RECIPIENTS = "recipients"


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    station_ids: tuple[str, ...]
    district_id: str | None
    routes: tuple[Route, ...]

    @classmethod
    def from_document(cls, document: Document) -> "Recipient":
        return cls(
            id=document["_id"],
            name=document.get("name", ""),
            station_ids=tuple(document.get("station_id", [])),
            district_id=document.get("district_id"),
            routes=tuple(Route(Channel(r["channel"]), r.get("address")) for r in document.get("routes", [])),
        )


def routes_document(routes: Iterable[Route]) -> list[Document]:
    return [{"channel": route.channel.value, "address": route.address} for route in routes]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[RECIPIENTS].create_index([("station_id", ASCENDING)])
    await db[RECIPIENTS].create_index([("district_id", ASCENDING)])


async def find(db: AsyncDatabase[Document], recipient_id: str) -> Document | None:
    return await db[RECIPIENTS].find_one({"_id": recipient_id})


async def find_many(db: AsyncDatabase[Document], recipient_ids: Iterable[str]) -> dict[str, Recipient]:
    cursor = db[RECIPIENTS].find({"_id": {"$in": sorted(set(recipient_ids))}})
    return {document["_id"]: Recipient.from_document(document) async for document in cursor}


async def store(
    db: AsyncDatabase[Document],
    recipient_id: str,
    fields: Document,
    now: datetime,
    session: AsyncClientSession | None = None,
) -> Document:
    """Create or change a recipient; returns it as stored."""
    await db[RECIPIENTS].update_one(
        {"_id": recipient_id}, {"$set": {**fields, "updated_at": now}}, upsert=True, session=session
    )
    stored = await db[RECIPIENTS].find_one({"_id": recipient_id}, session=session)
    assert stored is not None
    return stored
