"""Read models fed by records events: the households to visit and the stations that exist.

A station is known once an event names it: records announces each station (its name and
district), and a household's events name its station too, with the district in the envelope.
"""

from datetime import datetime

from liaison_infra.mongo import Document, Transaction
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

HOUSEHOLDS = "households"
STATIONS = "stations"


async def ensure_read_model_indexes(db: AsyncDatabase[Document]) -> None:
    await db[HOUSEHOLDS].create_index([("station_id", ASCENDING)])
    await db[STATIONS].create_index([("district_id", ASCENDING)])


async def remember_station(tx: Transaction, station_id: str, district_id: str | None) -> None:
    change: Document = {"$setOnInsert": {"_id": station_id}}
    if district_id is not None:
        change["$set"] = {"district_id": district_id}
    else:
        change["$setOnInsert"]["district_id"] = None
    await tx.db[STATIONS].update_one({"_id": station_id}, change, upsert=True, session=tx.session)


async def describe_station(tx: Transaction, station_id: str, name: str, district_id: str | None) -> None:
    """What records says of a station: its name, for the weekly digest, and its district."""
    change = {"$set": {"name": name, "district_id": district_id}}
    await tx.db[STATIONS].update_one({"_id": station_id}, change, upsert=True, session=tx.session)


async def district_of(db: AsyncDatabase[Document], station_id: str) -> str | None:
    station = await db[STATIONS].find_one({"_id": station_id})
    return station.get("district_id") if station else None


async def record_household(
    tx: Transaction,
    household_id: str,
    at: datetime,
    *,
    station_id: str,
    district_id: str | None,
    deputy_id: str | None,
    details: Document | None = None,
) -> str | None:
    """Store what an event of time ``at`` says of a household, unless a later event said it already:
    household.changed and assignment.changed travel on different topics, so either may come first.
    Returns the deputy responsible now."""
    current = await tx.db[HOUSEHOLDS].find_one({"_id": household_id}, session=tx.session) or {}
    merged: Document = {"hardship": False, "elderly": False, **current, "_id": household_id}
    merged |= {"station_id": station_id, "district_id": district_id or current.get("district_id")}
    if details is not None and at >= current.get("changed_at", at):
        merged |= {**details, "changed_at": at}
    if at >= current.get("deputy_at", at):
        merged |= {"deputy_id": deputy_id, "deputy_at": at}
    await tx.db[HOUSEHOLDS].replace_one({"_id": household_id}, merged, upsert=True, session=tx.session)
    deputy: str | None = merged.get("deputy_id")
    return deputy
