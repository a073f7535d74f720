"""Cases and the local read model of people in MongoDB; every query has its index."""

from liaison_infra.mongo import Document
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.domain.cases import Case

CASES = "cases"
PEOPLE = "people"  # read model fed by records events
DEPARTMENTS = "departments"
CALENDAR_YEARS = "calendar_years"


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    cases = db[CASES]
    await cases.create_index([("station_id", ASCENDING), ("state", ASCENDING), ("_id", ASCENDING)])
    await cases.create_index([("district_id", ASCENDING), ("state", ASCENDING)])
    await cases.create_index([("lead_department_id", ASCENDING), ("state", ASCENDING)])
    await cases.create_index([("co_handlers.department_id", ASCENDING)])
    await cases.create_index([("originators", ASCENDING)])
    await cases.create_index([("state", ASCENDING), ("due", ASCENDING)])


def to_document(case: Case) -> Document:
    values = case.model_dump(mode="json", exclude={"id"})
    return {"_id": case.id, **values}


def to_case(document: Document) -> Case:
    return Case.model_validate({**document, "id": document["_id"]})
