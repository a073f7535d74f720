"""The ``duties`` collection: duties stored and changed in batches, each change a compare-and-set.

The station's server does ~450 transactions/s but ~22,000 documents/s in batches, so the scans
write hundreds of duties per batch; every query is served by an index, and there are no more
indexes than the queries need, since each one slows every write.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

from liaison_infra.mongo import ConcurrencyConflict, Document, Transaction, drop_retired_indexes
from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.adapters import release_mark
from liaison_notify.adapters.grouped_updates import find_by_ids, grouped
from liaison_notify.domain.duties import Duty, DutyStatus, Escalation
from liaison_notify.domain.schedule import Reminder

DUTIES = "duties"


# When to look at a duty by itself; left out while None, so their sparse indexes hold only duties
# due to be looked at (every index makes each write dearer on the station's server).
WAKE_FIELDS = ("catch_up_at", "next_escalation_at")
STORED_FIELDS = frozenset(field.name for field in dataclass_fields(Duty)) - {"id"}
# An older version's: each release rewrote the duty's next reminder time, indexed.
OLD_RELEASE_INDEX = "next_reminder_at_1"


def to_document(duty: Duty) -> Document:
    """The stored form, built field by field (``asdict`` deep-copies, too slow for 50,000 duties)."""
    document = {field.name: getattr(duty, field.name) for field in dataclass_fields(duty)}
    document |= {
        "_id": document.pop("id"),
        "status": duty.status.value,
        "recipient_id": duty.recipient_id,
        "reminders": [dict(vars(reminder)) for reminder in duty.reminders],
        "escalations": [dict(vars(escalation)) for escalation in duty.escalations],
        "escalated": list(duty.escalated),
    }
    for name in WAKE_FIELDS:
        if document[name] is None:
            del document[name]
    return document


def from_document(document: Document) -> Duty:
    fields: dict[str, Any] = {k: v for k, v in document.items() if k in STORED_FIELDS}
    return Duty(
        **{
            **dict.fromkeys(WAKE_FIELDS),
            **fields,
            "id": document["_id"],
            "status": DutyStatus(document["status"]),
            "reminders": tuple(Reminder(**r) for r in document["reminders"]),
            "escalations": tuple(Escalation(**e) for e in document["escalations"]),
            "escalated": tuple(document["escalated"]),
        }
    )


async def ensure_duty_indexes(db: AsyncDatabase[Document]) -> None:
    duties = db[DUTIES]
    await duties.create_index([("reminders.at", ASCENDING)])
    await duties.create_index([("catch_up_at", ASCENDING)], sparse=True)
    await duties.create_index([("next_escalation_at", ASCENDING)], sparse=True)
    await duties.create_index([("status", ASCENDING), ("window_end", ASCENDING)])
    await duties.create_index([("subject_id", ASCENDING), ("status", ASCENDING)])
    await duties.create_index([("station_id", ASCENDING), ("period_id", ASCENDING)])
    await duties.create_index([("deputy_id", ASCENDING), ("window_end", ASCENDING)])


async def upgrade_release_state(db: AsyncDatabase[Document], now: datetime) -> None:
    """Duties an older version stored catch up at their next reminder's time and lose their list
    of released reminders, and the scans' time ranges start at ``now``: nothing released before
    is released again. Runs where that version's index is still there, and drops it last, so a
    start stopped midway does it again."""
    duties = db[DUTIES]
    if OLD_RELEASE_INDEX not in await duties.index_information():
        return
    await duties.update_many({"next_reminder_at": {"$exists": True}}, {"$rename": {"next_reminder_at": "catch_up_at"}})
    await duties.update_many({"released": {"$exists": True}}, {"$unset": {"released": ""}})
    await release_mark.advance(db, now)
    await drop_retired_indexes(duties, [OLD_RELEASE_INDEX])


async def stored_ids(
    db: AsyncDatabase[Document], duties: Sequence[Duty], session: AsyncClientSession | None = None
) -> set[str]:
    """Which of these duties are stored already: one query per station and period, which the
    (station_id, period_id) index serves. (The station's server answers an ``$in`` of many ids,
    or a range of ids, by scanning the whole collection.)"""
    wanted = {duty.id for duty in duties}
    found: set[str] = set()
    for station_id, period_id in {(duty.station_id, duty.period_id) for duty in duties}:
        query = {"station_id": station_id, "period_id": period_id}
        found.update([doc["_id"] async for doc in db[DUTIES].find(query, {"_id": 1}, session=session)])
    return found & wanted


async def insert_new(tx: Transaction, duties: Sequence[Duty], known: set[str] | None = None) -> list[Duty]:
    """Store the duties not stored before (``known``, or looked up), in one batch; returns those
    that were new. Checked, then inserted: the server inserts many times faster than it upserts,
    and a duty another scan inserts in between makes this transaction fail and run again."""
    if known is None:
        known = await stored_ids(tx.db, duties, tx.session)
    new = list({duty.id: duty for duty in duties if duty.id not in known}.values())
    if new:
        documents = [{**to_document(duty), "version": 1} for duty in new]
        await tx.db[DUTIES].insert_many(documents, session=tx.session)
    return new


async def save(tx: Transaction, changes: Sequence[tuple[Duty, Duty]]) -> None:
    """Store each (as read, as changed) duty in one batch, only if still at the version read.

    Only the fields that changed are written, a duty that did not change is not written at all
    (nor compared, when a step handed back the very duty it was given),
    and duties changed alike are changed together (see ``grouped_updates``). (On the station's
    server every update costs about a millisecond more per index on the collection, changed or
    not: another reason to keep the indexes few.)
    """
    changed = [
        (after.id, {"version": before.version}, change)
        for before, after in changes
        if after is not before and (change := _change(before, after))
    ]
    if not changed:
        return
    result = await tx.db[DUTIES].bulk_write(grouped(changed), ordered=False, session=tx.session)
    if result.matched_count != len(changed):
        raise ConcurrencyConflict(f"{len(changed) - result.matched_count} duties changed while being updated")


def _change(before: Duty, after: Duty) -> Document | None:
    old, new = to_document(before), to_document(after)
    changed = {name: value for name, value in new.items() if old.get(name) != value}
    unset = [name for name in WAKE_FIELDS if name in old and name not in new]
    if not changed and not unset:
        return None
    change: Document = {"$set": {**changed, "version": before.version + 1}}
    if unset:
        change["$unset"] = dict.fromkeys(unset, "")
    return change


async def find(tx: Transaction, query: Document) -> list[Duty]:
    return [from_document(document) async for document in tx.db[DUTIES].find(query, session=tx.session)]


async def matching(db: AsyncDatabase[Document], query: Document, size: int) -> AsyncIterator[list[Duty]]:
    """The duties matching ``query``, ``size`` at a time, read by one cursor: the station's server
    reads every match before a limit, so a limited find per batch would read them all each time."""
    cursor = db[DUTIES].find(query, batch_size=size)
    while documents := await cursor.to_list(size):
        yield [from_document(document) for document in documents]


async def find_among(tx: Transaction, ids: Sequence[str], query: Document) -> list[Duty]:
    """Those of ``ids`` that still match ``query``."""
    return [from_document(d) for d in await find_by_ids(tx.db[DUTIES], ids, query, session=tx.session)]
