"""How far the reminder scans got: each scan releases the reminders timed after the last one's
moment up to its own, so releasing a reminder writes nothing on its duty. The mark only moves
forward: a scan on a clock set back goes through an empty range."""

from datetime import datetime

from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

MARKS = "scan_marks"
REMINDERS = "reminders"


async def released_to(db: AsyncDatabase[Document]) -> datetime | None:
    """The last scan's moment; None before any scan, when the range has no start."""
    mark = await db[MARKS].find_one({"_id": REMINDERS})
    return mark["released_to"] if mark else None


async def advance(db: AsyncDatabase[Document], to: datetime) -> None:
    """Set once a scan went through its whole range, so a scan stopped midway is repeated."""
    await db[MARKS].update_one({"_id": REMINDERS}, {"$max": {"released_to": to}}, upsert=True)
