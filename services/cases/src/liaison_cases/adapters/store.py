"""Cases and the local read model of people in MongoDB; every query has its index."""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from liaison_infra.change_feed import ChangeFeed
from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

from liaison_cases.adapters.case_keys import search_keys
from liaison_cases.domain.cases import Case

CASES = "cases"
PEOPLE = "people"  # read models fed by records events (links_store.py)
HOUSEHOLDS = "households"
DEPUTIES = "deputies"
PERSON_MARKS = "person_marks"  # written by an erasure and by an opinion of the person (links_store.py)
DEPARTMENTS = "departments"
CALENDAR_YEARS = "calendar_years"
CHANGES_A_FETCH = 200  # the most the station's server returns a fetch


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """Searches: one facet and a sort key (case_keys); overdue lists: a range of ``watch``;
    erasure: ``originators``; recomputing deadlines: ``state``."""
    cases = db[CASES]
    for sort_key in ("opened_key", "due_key"):
        await cases.create_index([("facets", ASCENDING), (sort_key, ASCENDING)])
        await cases.create_index([(sort_key, ASCENDING)])
    await cases.create_index([("watch", ASCENDING)])
    await cases.create_index([("originators", ASCENDING)])
    await cases.create_index([("state", ASCENDING), ("due", ASCENDING)])
    await db[HOUSEHOLDS].create_index([("member_ids", ASCENDING)])  # erasure
    # Written inside transactions only, which must not be the ones to create it (that can deadlock
    # the station's server, as the outbox did).
    with suppress(CollectionInvalid, OperationFailure):  # made already
        await db.create_collection(PERSON_MARKS)


def to_document(case: Case) -> Document:
    values = case.model_dump(mode="json", exclude={"id"})
    return {"_id": case.id, **values, **search_keys(case)}


def to_case(document: Document) -> Case:
    return Case.model_validate({**document, "id": document["_id"]})


def station_cases(station_id: str | None) -> Document:
    """A station's cases, by the facet its search index serves (every case when None)."""
    return {} if station_id is None else {"facets": f"station:{station_id}", "opened_key": {"$gte": ""}}


@asynccontextmanager
async def changed_stations(db: AsyncDatabase[Document]) -> AsyncIterator[Callable[[], Awaitable[set[str]]]]:
    """Follow the cases collection from now: each call of the yielded function returns the
    stations of the cases changed since the last call."""
    feed = await ChangeFeed.open(db, CASES, None, stages=[{"$project": {"documentKey": 1}}])

    async def changed() -> set[str]:
        ids: set[str] = set()
        while changes := await feed.next_batch(CHANGES_A_FETCH, 0):
            ids.update(change["documentKey"]["_id"] for change in changes)
        found = db[CASES].find({"_id": {"$in": sorted(ids)}}, {"station_id": 1})
        return {document["station_id"] async for document in found} if ids else set()

    try:
        yield changed
    finally:
        await feed.close()
