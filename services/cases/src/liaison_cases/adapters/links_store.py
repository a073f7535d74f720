"""The local read model of records' people, households and deputies in MongoDB.

Each document keeps the time of the event that last wrote each of its parts (``as_of``), so an
event older than what is stored changes nothing, and an erased person stays a bare tombstone
(``erased``) that no later or replayed event can fill with personal data again.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from liaison_infra.mongo import Document, Transaction
from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.adapters.store import DEPUTIES, HOUSEHOLDS, PEOPLE, PERSON_MARKS
from liaison_cases.domain.links import ERASED, KnownDeputy, KnownHousehold, KnownPerson

M = TypeVar("M", bound=BaseModel)
ID_FIELDS = {PEOPLE: "person_id", DEPUTIES: "deputy_id", HOUSEHOLDS: "household_id"}


async def save_if_newer(
    tx: Transaction, collection: str, key: str, fields: dict[str, Any], as_of: datetime, *, part: str = "file"
) -> None:
    """Set ``fields`` unless a newer event already wrote this ``part`` of the document, or the
    person was erased. Parts are stamped apart because events of different topics (a household's
    members, its deputy) may arrive in any order."""
    stamp = f"as_of.{part}"
    settled = {"_id": key, "$or": [{"erased": True}, {stamp: {"$gt": as_of}}]}
    if await tx.db[collection].find_one(settled, {"_id": 1}, session=tx.session):
        return
    await tx.db[collection].update_one(
        {"_id": key}, {"$set": {**fields, stamp: as_of}}, upsert=True, session=tx.session
    )


async def erase_person(tx: Transaction, person_id: str, as_of: datetime) -> None:
    """Only the id and the fact of erasure remain, and the person leaves every household."""
    await _mark(tx, [person_id])
    await tx.db[PEOPLE].replace_one(
        {"_id": person_id},
        {"status": ERASED, "erased": True, "as_of": {"file": as_of}},
        upsert=True,
        session=tx.session,
    )
    households = tx.db[HOUSEHOLDS]
    await households.update_many(
        {"member_ids": person_id, "head_person_id": person_id}, {"$set": {"head_person_id": None}}, session=tx.session
    )
    await households.update_many({"member_ids": person_id}, {"$pull": {"member_ids": person_id}}, session=tx.session)


async def erased(tx: Transaction, person_ids: Iterable[str]) -> set[str]:
    """Those of ``person_ids`` that records erased. Each is marked first, as ``erase_person`` marks
    the person it erases: the two transactions then conflict, so whichever is retried sees the
    other (an opinion and the erasure of its person arrive on two topics, applied at once)."""
    wanted = sorted(set(person_ids))
    await _mark(tx, wanted)
    tombstones = tx.db[PEOPLE].find({"_id": {"$in": wanted}, "erased": True}, {"_id": 1}, session=tx.session)
    return {tombstone["_id"] async for tombstone in tombstones}


async def _mark(tx: Transaction, person_ids: list[str]) -> None:
    if person_ids:
        marks = [UpdateOne({"_id": pid}, {"$inc": {"marks": 1}}, upsert=True) for pid in person_ids]
        await tx.db[PERSON_MARKS].bulk_write(marks, ordered=False, session=tx.session)


async def _load(db: AsyncDatabase[Document], collection: str, model: type[M], ids: Iterable[str]) -> dict[str, M]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    id_field = ID_FIELDS[collection]
    found = db[collection].find({"_id": {"$in": wanted}}, {"as_of": 0, "erased": 0})
    return {doc["_id"]: model.model_validate({**doc, id_field: doc["_id"]}) async for doc in found}


async def people(db: AsyncDatabase[Document], ids: Iterable[str]) -> dict[str, KnownPerson]:
    return await _load(db, PEOPLE, KnownPerson, ids)


async def deputies(db: AsyncDatabase[Document], ids: Iterable[str]) -> dict[str, KnownDeputy]:
    return await _load(db, DEPUTIES, KnownDeputy, ids)


async def households(db: AsyncDatabase[Document], ids: Iterable[str]) -> dict[str, KnownHousehold]:
    return await _load(db, HOUSEHOLDS, KnownHousehold, ids)
