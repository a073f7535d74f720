"""The ``calendar_tokens`` collection: one hashed feed token per deputy, with the stations of the
caller who made it (shown until records says which ones the deputy serves)."""

from datetime import datetime

from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

CALENDAR_TOKENS = "calendar_tokens"


async def ensure_calendar_token_indexes(db: AsyncDatabase[Document]) -> None:
    await db[CALENDAR_TOKENS].create_index([("token_hash", ASCENDING)], unique=True)


async def replace_token(
    db: AsyncDatabase[Document], deputy_id: str, token_hash: str, station_ids: list[str], at: datetime
) -> None:
    """The deputy's one token, replacing any earlier one (one write: the old URL stops at once)."""
    await db[CALENDAR_TOKENS].replace_one(
        {"_id": deputy_id},
        {"token_hash": token_hash, "station_ids": station_ids, "rotated_at": at},
        upsert=True,
    )


async def find_by_hash(db: AsyncDatabase[Document], token_hash: str) -> Document | None:
    return await db[CALENDAR_TOKENS].find_one({"token_hash": token_hash})
