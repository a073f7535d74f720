"""Finding people: by name in characters, pinyin or initials, by facts, and by exact protected
values through their blind indexes only.

Searches are answered by the in-memory people index (``adapters.people_index``: the station's
server sorts every match before a limit), page rows included. A cursor is the last file's sort
value and id, so deep pages cost what the first does.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from bson import json_util
from bson.errors import BSONError
from liaison_infra.auth import Principal
from liaison_infra.domain_errors import InvalidInput
from liaison_infra.mongo import Document

from liaison_records.adapters.people_index import Facts, SortKey, facet, sort_keys
from liaison_records.adapters.people_store import PEOPLE, age_bounds, masked_view
from liaison_records.domain.idcard import InvalidIdNumber, validate_id_number
from liaison_records.domain.people import Category, Hardship, Status
from liaison_records.domain.phones import spelled
from liaison_records.domain.pinyin import query_keys
from liaison_records.service_layer.context import READERS, Records, placed, require

CURSOR_JSON = json_util.JSONOptions(tz_aware=True)
SORT_FIELDS = {"name": "sort_name", "updated": "updated_at"}
SORT_VALUE_TYPES = {"name": str, "updated": datetime}
FETCH_CHUNK = 500  # ids a query reads at once: $in on _id costs the store per id, not per file


@dataclass(frozen=True)
class PeopleQuery:
    text: str | None = None
    station_id: str | None = None
    category: Category | None = None
    country: str | None = None
    hardship: tuple[Hardship, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    deputy_id: str | None = None
    household_id: str | None = None
    status: Status | None = None
    sort: Literal["name", "updated"] = "name"
    cursor: str | None = None
    limit: int = 50


LIVE_STATUSES = [status.value for status in Status if status is not Status.ERASED]


@dataclass(frozen=True)
class Criteria:
    """A query within the caller's scope, as the people index answers it: files that hold a
    facet of every group and that ``accept`` keeps (None: every one)."""

    groups: list[set[str]]
    accept: Callable[[Facts], bool] | None


def criteria(principal: Principal, query: PeopleQuery, today: date) -> Criteria:
    """What ``query`` asks, narrowed to the caller's scope (shared by search and export)."""
    groups: list[set[str]] = []
    if not principal.is_admin:
        scope = {facet("station_id", s) for s in principal.stations}
        groups.append(scope | {facet("district_id", d) for d in principal.districts})
    statuses = [query.status.value] if query.status else LIVE_STATUSES
    groups.append({facet("status", status) for status in statuses})
    for field, value in (
        ("station_id", query.station_id),
        ("category", query.category.value if query.category else None),
        ("country", query.country.upper() if query.country else None),
        ("deputy_id", query.deputy_id),
        ("household_id", query.household_id),
        *(("hardship", flag.value) for flag in query.hardship),
    ):
        if value is not None:
            groups.append({facet(field, value)})
    if query.text:
        keys = query_keys(query.text)
        if not keys:
            raise InvalidInput("empty_query", "the search text has no letters or characters", field="q")
        groups += [{facet("name_tokens", key)} for key in keys]
    bounds = age_bounds(query.min_age, query.max_age, today)
    born_after, born_by = bounds.get("$gt"), bounds.get("$lte")

    def born_within(facts: Facts) -> bool:
        born = facts.birth_date
        return born is not None and (born_after is None or born > born_after) and (born_by is None or born <= born_by)

    return Criteria(groups, born_within if bounds else None)


async def matching_people(records: Records, found: list[Facts]) -> list[Document]:
    """The stored files of ``found``, in its order (one that vanished meanwhile is left out)."""
    by_id: dict[str, Document] = {}
    ids = [facts.id for facts in found]
    for start in range(0, len(ids), FETCH_CHUNK):
        async for document in records.db[PEOPLE].find({"_id": {"$in": ids[start : start + FETCH_CHUNK]}}):
            by_id[document["_id"]] = document
    return [by_id[id_] for id_ in ids if id_ in by_id]


async def search_people(records: Records, principal: Principal, query: PeopleQuery, today: date) -> Document:
    require(principal, READERS, "search people's files")
    wanted = criteria(principal, query, today)
    after, position = _decode(query.cursor, query.sort) if query.cursor else (None, 0)
    await records.people_index.catch_up()
    found = records.people_index.page(wanted.groups, wanted.accept, query.sort, after, query.limit + 1)
    page = records.people_index.rows(found[: query.limit])
    next_cursor = _encode(query.sort, page[-1], position + len(page)) if page and len(found) > query.limit else None
    return {"items": [masked_view(document) for document in page], "next_cursor": next_cursor}


async def lookup_people(
    records: Records, principal: Principal, *, id_number: str | None, phone: str | None
) -> list[Document]:
    """Exact lookup through keyed hashes: the clear value is never stored or queried. A file found
    confirms the whole number its masked view hides, so each is audited as an unmasked read."""
    require(principal, READERS, "look people up")
    if (id_number is None) == (phone is None):
        raise InvalidInput("one_key_required", "give exactly one of id_number or phone", field="id_number")
    if id_number is not None:
        try:
            normalised = validate_id_number(id_number).value
        except InvalidIdNumber as exc:
            raise InvalidInput(exc.code, str(exc), field="id_number") from exc
        condition = {"id_number_index": {"$in": records.codec.id_number_indexes(normalised)}}
    else:
        assert phone is not None
        condition = {"phone_index": {"$in": records.codec.phone_indexes(spelled(phone))}}
    documents = await records.db[PEOPLE].find({**principal.scope_filter(), **condition}).to_list(20)
    key = "id_number" if id_number is not None else "phone"
    await records.audit_each(principal, f"lookup_by_{key}", [placed(document) for document in documents])
    return [masked_view(document) for document in documents]


def _encode(sort: str, document: Document, position: int) -> str:
    """The last file's sort value and id and how many came before; extended JSON keeps a date
    a date (``updated`` sorts by one)."""
    values = [document.get(SORT_FIELDS[sort]), document["_id"], position]
    return base64.urlsafe_b64encode(json_util.dumps(values).encode()).decode()


def _decode(cursor: str, sort: str) -> tuple[SortKey, int]:
    """Where the page starts in the index's order for ``sort``, and how many came before. A
    cursor this service did not give (or gave for another order) is refused, never compared."""
    not_ours = InvalidInput("invalid_cursor", "the cursor is not one this service gave", field="cursor")
    try:
        values = json_util.loads(base64.urlsafe_b64decode(cursor.encode()), json_options=CURSOR_JSON)
    except (ValueError, TypeError, ArithmeticError, RecursionError, BSONError) as exc:  # what a forgery raises
        raise not_ours from exc
    if not isinstance(values, list) or len(values) != 3:
        raise not_ours
    value, id_, position = values
    if not (value is None or isinstance(value, SORT_VALUE_TYPES[sort])) or not isinstance(id_, str):
        raise not_ours
    if not isinstance(position, int) or position < 0:
        raise not_ours
    return sort_keys({"_id": id_, SORT_FIELDS[sort]: value})[sort], position
