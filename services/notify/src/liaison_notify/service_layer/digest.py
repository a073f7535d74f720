"""The weekly digest: one message per known station to its head, counted from the duties.

Every count is one aggregation whose match starts with ``status`` and a ``window_end`` range,
so the duties index on (status, window_end) serves it. Overdue cases are the case-deadline
duties the duties engine keeps from case events: missed and not resolved since.
"""

from datetime import datetime

from liaison_infra.mongo import Document
from pymongo.asynchronous.database import AsyncDatabase

from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.adapters.households_store import STATIONS
from liaison_notify.adapters.messages_store import enqueue
from liaison_notify.domain.digest import VISIT_KINDS, StationWeek, Week, digest_message, reported_week
from liaison_notify.service_layer.context import Notify


async def produce_weekly_digests(notify: Notify, now: datetime) -> int:
    """Store the digest of the week before ``now`` for every station; returns how many were new."""
    week = reported_week(now)
    figures = await station_weeks(notify.db, week)
    messages = [digest_message(week, station) for station in figures]
    return len(await notify.runtime.transaction(lambda tx: enqueue(tx, messages, now)))


async def station_weeks(db: AsyncDatabase[Document], week: Week) -> list[StationWeek]:
    visits = {"kind": {"$in": list(VISIT_KINDS)}}
    # A duty fulfilled in the week has a window that had not ended when the week began.
    done = await _count_by_station(
        db,
        {"status": "fulfilled", "window_end": {"$gt": week.start}, "closed_at": {"$gte": week.start, "$lt": week.end}}
        | visits,
    )
    # A missed duty's window ended in the week: on one of its days, at midnight after it.
    missed = await _count_by_station(
        db, {"status": "missed", "window_end": {"$gt": week.start, "$lte": week.end}} | visits
    )
    due = await _count_by_station(db, {"status": "open", "window_end": {"$gt": week.end, "$lte": week.next_end}})
    overdue = await _count_by_station(db, {"status": "missed", "kind": "case_deadline", "resolved_at": None})
    stations = await db[STATIONS].find({}).sort("_id").to_list()
    return [
        StationWeek(
            station_id=station["_id"],
            station_name=station.get("name") or station["_id"],
            district_id=station.get("district_id"),
            visits_done=done.get(station["_id"], 0),
            visits_missed=missed.get(station["_id"], 0),
            duties_due=due.get(station["_id"], 0),
            cases_overdue=overdue.get(station["_id"], 0),
        )
        for station in stations
    ]


async def _count_by_station(db: AsyncDatabase[Document], match: Document) -> dict[str, int]:
    pipeline: list[Document] = [
        {"$match": match},
        {"$group": {"_id": "$station_id", "count": {"$sum": 1}}},
    ]
    cursor = await db[DUTIES].aggregate(pipeline)
    return {group["_id"]: group["count"] async for group in cursor}
