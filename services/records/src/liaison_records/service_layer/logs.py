"""Logging visits and activities. Each opinion raised gets a stable id (``<log id>-<n>``) so
that cases opens exactly one case for it, however often the event is delivered."""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any
from uuid import uuid4

from liaison_infra.auth import Principal, Role, within
from liaison_infra.domain_errors import InvalidInput
from liaison_infra.envelope import Event
from liaison_infra.mongo import Document, Transaction, redact_retained
from pymongo import UpdateOne

from liaison_records.adapters.people_store import PEOPLE
from liaison_records.domain.events import ActivityHeld, Opinion, VisitLogged
from liaison_records.domain.logs import ActivityFields, OpinionRaised, VisitFields
from liaison_records.domain.people import Status
from liaison_records.domain.phones import typed_anyhow
from liaison_records.service_layer.context import READERS, Records, document_view, require
from liaison_records.service_layer.deputies import DEPUTIES, HOUSEHOLDS
from liaison_records.service_layer.households import households_of

VISITS = "visits"
ACTIVITIES = "activities"
LOGGERS = (Role.STATION_STAFF, Role.DEPUTY)
ERASED_TEXT = "（已应本人要求删除）"
ERASED_MENTION = "（已删除）"
# One document per person or household a log names, written by every log naming it and by the
# erasure of that person: the two then cannot commit past each other (a log stored while an
# erasure scans the logs would keep what the erasure blanks); one is retried, and sees the other.
LOG_SUBJECTS = "log_subjects"


async def _mark_subjects(tx: Transaction, ids: Iterable[str]) -> None:
    marks = [UpdateOne({"_id": id_}, {"$inc": {"writes": 1}}, upsert=True) for id_ in sorted(set(ids))]
    if marks:
        await tx.db[LOG_SUBJECTS].bulk_write(marks, session=tx.session)


async def _all_at_station(tx: Transaction, collection: str, ids: list[str], station_id: str, field: str) -> None:
    if not ids:
        return
    station_field = "station_ids" if collection == DEPUTIES else "station_id"
    kept = {"status": {"$ne": Status.ERASED.value}} if collection == PEOPLE else {}
    query = {"_id": {"$in": ids}, station_field: station_id, **kept}
    if await tx.db[collection].count_documents(query, session=tx.session) != len(set(ids)):
        raise InvalidInput("unknown_reference", f"some {field} are not at {station_id}", field=field)


async def _checked_subjects(tx: Transaction, fields: VisitFields | ActivityFields) -> list[str]:
    """The people and households the log names (opinions' included), checked with its deputies
    to be at its station (people not erased), in the transaction that stores it."""
    households = fields.household_ids + [o.household_id for o in fields.opinions if o.household_id]
    people = fields.person_ids + [o.person_id for o in fields.opinions if o.person_id]
    await _all_at_station(tx, DEPUTIES, fields.deputy_ids, fields.station_id, "deputy_ids")
    await _all_at_station(tx, HOUSEHOLDS, households, fields.station_id, "household_ids")
    await _all_at_station(tx, PEOPLE, people, fields.station_id, "person_ids")
    return [*people, *households]


def _opinions(log_id: str, raised: list[OpinionRaised]) -> list[Opinion]:
    return [
        Opinion(
            opinion_id=f"{log_id}-{n}", kind=o.kind, text=o.text, person_id=o.person_id, household_id=o.household_id
        )
        for n, o in enumerate(raised, start=1)
    ]


async def _record(
    records: Records,
    principal: Principal,
    fields: VisitFields | ActivityFields,
    station: Document,
    collection: str,
    log_id: str,
    announce: Callable[[list[Opinion]], Event],
) -> Document:
    """Store one log entry and announce it in the same transaction; opinions get stable ids."""
    opinions = _opinions(log_id, fields.opinions)
    document = {
        "_id": log_id,
        **fields.model_dump(mode="json"),
        "district_id": station.get("district_id"),
        "opinions": [o.model_dump() for o in opinions],
        "logged_by": principal.subject,
        "logged_at": records.clock(),
    }
    event = announce(opinions)

    async def write(tx: Transaction) -> None:
        await _mark_subjects(tx, await _checked_subjects(tx, fields))
        await tx.insert(collection, document)
        tx.publish(event, subject=log_id, station_id=fields.station_id, district_id=station.get("district_id"))

    await records.runtime.transaction(write)
    return document_view({**document, "version": 1})


async def log_visit(records: Records, principal: Principal, fields: VisitFields) -> Document:
    require(principal, LOGGERS, "log visits")
    fields.refuse_nobody_visited()
    station = await records.station_in_scope(principal, fields.station_id)
    visit_id = f"v-{uuid4().hex[:12]}"
    return await _record(
        records,
        principal,
        fields,
        station,
        VISITS,
        visit_id,
        lambda opinions: VisitLogged(
            visit_id=visit_id,
            station_id=fields.station_id,
            kind=fields.kind,
            visited_on=fields.visited_on,
            deputy_ids=fields.deputy_ids,
            household_ids=fields.household_ids,
            person_ids=fields.person_ids,
            attendees=fields.attendees,
            opinions=opinions,
        ),
    )


async def hold_activity(records: Records, principal: Principal, fields: ActivityFields) -> Document:
    require(principal, LOGGERS, "log activities")
    station = await records.station_in_scope(principal, fields.station_id)
    activity_id = f"a-{uuid4().hex[:12]}"
    return await _record(
        records,
        principal,
        fields,
        station,
        ACTIVITIES,
        activity_id,
        lambda opinions: ActivityHeld(
            activity_id=activity_id,
            station_id=fields.station_id,
            kind=fields.kind,
            held_on=fields.held_on,
            title=fields.title,
            deputy_ids=fields.deputy_ids,
            household_ids=fields.household_ids,
            person_ids=fields.person_ids,
            attendees=fields.attendees,
            opinions=opinions,
        ),
    )


async def list_log(
    records: Records,
    principal: Principal,
    collection: str,
    date_field: str,
    *,
    station_id: str | None,
    start: date | None,
    end: date | None,
    **filters: str | None,
) -> list[Document]:
    """Entries of one log in the caller's scope, newest first, filtered by date range and ids."""
    require(principal, READERS, "read the logs")
    query = within(principal.scope_filter(), {"station_id": station_id})
    if start or end:
        query[date_field] = {
            **({"$gte": start.isoformat()} if start else {}),
            **({"$lte": end.isoformat()} if end else {}),
        }
    query.update({field: value for field, value in filters.items() if value is not None})
    cursor = records.db[collection].find(query).sort([(date_field, -1), ("_id", 1)]).limit(1000)
    return [document_view(document) async for document in cursor]


async def erase_from_logs(tx: Transaction, erased: Sequence[Mapping[str, Any]]) -> None:
    """Blank what the logs say of the erased people: the text of the opinions they raised, in
    both logs and in the events the outbox retains about them (that an opinion was raised, and
    when, stays for the counts; what it said is theirs), and their names, phones and ID numbers
    where the notes of a log about them (a visit to them or their household, an activity they
    took part in, a log of an opinion they raised) spell them out. A note that names them
    otherwise (a nickname, "the old man at No. 3"), or a log not tied to them, is beyond a
    search. ``erased``: their files' values, as ``PeopleCodec.values`` reads them."""
    person_ids = [person["id"] for person in erased]
    theirs = set(person_ids)
    households = await households_of(tx, person_ids)
    await _mark_subjects(tx, [*person_ids, *households])
    raised = {"opinions.person_id": {"$in": person_ids}}  # scans: erasure is rare
    about_them = {
        "$or": [
            raised,
            {"person_ids": {"$in": person_ids}},
            {"household_ids": {"$in": households}},
            {"opinions.household_id": {"$in": households}},
        ]
    }
    mentions = _mentions(erased)
    raised_in: list[str] = []
    for collection in (VISITS, ACTIVITIES):
        async for log in tx.db[collection].find(about_them, {"opinions": 1, "notes": 1}, session=tx.session):
            notes = log.get("notes")
            blanked = {
                "opinions": _without_texts_of(log, theirs)["opinions"],
                "notes": mentions.sub(ERASED_MENTION, notes) if mentions and notes else notes,
            }
            change = {name: value for name, value in blanked.items() if value != log.get(name)}
            if change:
                await tx.db[collection].update_one({"_id": log["_id"]}, {"$set": change}, session=tx.session)
            if "opinions" in change:
                raised_in.append(log["_id"])
    await redact_retained(tx, raised_in, lambda data: _without_texts_of(data, theirs))


def _mentions(erased: Sequence[Mapping[str, Any]]) -> re.Pattern[str] | None:
    """How a note may spell the erased people out: their names (of two characters or more), and
    their phones and ID numbers (five characters or more) however typed."""
    names = (person.get("name") for person in erased)
    spellings = {re.escape(name) for name in names if isinstance(name, str) and len(name) >= 2}
    numbers = (number for person in erased for number in [*person["phones"], person["id_number"]] if number)
    spellings |= {typed_anyhow(number) for number in numbers if len(number) >= 5}
    if not spellings:
        return None
    return re.compile("|".join(sorted(spellings, key=len, reverse=True)), re.IGNORECASE)


def _without_texts_of(data: Document, person_ids: set[str]) -> Document:
    """An event's data (or a log) with the text of the opinions ``person_ids`` raised blanked."""
    if "opinions" not in data:
        return data
    opinions = [
        {**opinion, "text": ERASED_TEXT} if opinion["person_id"] in person_ids else opinion
        for opinion in data["opinions"]
    ]
    return {**data, "opinions": opinions}
