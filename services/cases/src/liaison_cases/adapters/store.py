"""Cases and the local read model of people in MongoDB; every query has its index."""

from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters.case_keys import search_keys
from liaison_cases.domain.cases import Case

CASES = "cases"
PEOPLE = "people"  # read models fed by records events (links_store.py)
HOUSEHOLDS = "households"
DEPUTIES = "deputies"
DEPARTMENTS = "departments"
CALENDAR_YEARS = "calendar_years"


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


def to_document(case: Case) -> Document:
    values = case.model_dump(mode="json", exclude={"id"})
    return {"_id": case.id, **values, **search_keys(case)}


def to_case(document: Document) -> Case:
    return Case.model_validate({**document, "id": document["_id"]})
