"""Every query the records service makes is served by an index (the station's server makes an
unindexed scan very slow); they are created at start-up, which is idempotent."""

from contextlib import suppress

from liaison_infra.mongo import Document
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

from liaison_records.adapters.people_store import ensure_people_indexes


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await ensure_people_indexes(db)
    # Written by logs and erasures in their transactions (``service_layer.logs``), which must not
    # be the ones to create it: that can deadlock the station's server (as the outbox did).
    with suppress(CollectionInvalid, OperationFailure):  # made already
        await db.create_collection("log_subjects")
    await db["org_units"].create_index([("station_id", ASCENDING)])
    await db["org_units"].create_index([("district_id", ASCENDING)])
    await db["deputies"].create_index([("station_ids", ASCENDING), ("name", ASCENDING)])
    await db["deputies"].create_index([("district_ids", ASCENDING), ("name", ASCENDING)])
    await db["households"].create_index([("station_id", ASCENDING), ("_id", ASCENDING)])
    await db["households"].create_index([("deputy_id", ASCENDING)])
    await db["history"].create_index([("person_id", ASCENDING), ("at", ASCENDING)])
    # A merged duplicate's own entries, moved to the file it was merged into (only those carry it).
    await db["history"].create_index([("merged_from", ASCENDING)], sparse=True)
    for collection, day in (("visits", "visited_on"), ("activities", "held_on")):
        await db[collection].create_index([("station_id", ASCENDING), (day, DESCENDING), ("_id", ASCENDING)])
        for named in ("deputy_ids", "household_ids", "person_ids"):
            await db[collection].create_index([(named, ASCENDING), (day, DESCENDING)])
