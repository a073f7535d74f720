"""Finding people: by name in characters, pinyin or initials, by facts, and by exact protected
values through their blind indexes only. Cursor pagination keeps deep pages as cheap as the first."""

import base64
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from bson import json_util
from liaison_infra.auth import Principal
from liaison_infra.domain_errors import InvalidInput
from liaison_infra.mongo import Document
from pymongo.asynchronous.collection import AsyncCollection

from liaison_records.adapters.people_store import PEOPLE, age_bounds, masked_view
from liaison_records.domain.idcard import InvalidIdNumber, validate_id_number
from liaison_records.domain.people import Category, Hardship, Status
from liaison_records.domain.pinyin import query_keys
from liaison_records.service_layer.context import READERS, Records, require

CURSOR_JSON = json_util.JSONOptions(tz_aware=True)
CURSOR_MARGIN = 20  # files that may come or go before a cursor's place and still let a page find it by skipping
SORTS = {"name": [("sort_name", 1), ("_id", 1)], "updated": [("updated_at", -1), ("_id", 1)]}


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


def people_filter(principal: Principal, query: PeopleQuery, today: date) -> dict[str, Any]:
    """The MongoDB filter for ``query`` within the caller's scope (shared by search and export).

    It is kept flat, field conditions only: the station's server uses an index for those but
    for no filter with a top-level ``$and``, and none for ``$ne``.
    """
    filter_: dict[str, Any] = dict(principal.scope_filter())
    if query.station_id is not None:
        visible = filter_.pop("station_id", {"$in": [query.station_id]})["$in"]
        filter_["station_id"] = query.station_id if query.station_id in visible else {"$in": []}
    filter_["status"] = query.status.value if query.status else {"$in": LIVE_STATUSES}
    for field, value in (
        ("category", query.category.value if query.category else None),
        ("country", query.country.upper() if query.country else None),
        ("deputy_id", query.deputy_id),
        ("household_id", query.household_id),
    ):
        if value is not None:
            filter_[field] = value
    if query.hardship:
        filter_["hardship"] = {"$all": [flag.value for flag in query.hardship]}
    if query.text:
        keys = query_keys(query.text)
        if not keys:
            raise InvalidInput("empty_query", "the search text has no letters or characters", field="q")
        filter_["name_tokens"] = keys[0] if len(keys) == 1 else {"$all": keys}
    bounds = age_bounds(query.min_age, query.max_age, today)
    if bounds:
        filter_["birth_date"] = bounds
    return filter_


async def search_people(records: Records, principal: Principal, query: PeopleQuery, today: date) -> Document:
    require(principal, READERS, "search people's files")
    filter_ = people_filter(principal, query, today)
    sort = SORTS[query.sort]
    people = records.db[PEOPLE]
    if query.cursor:
        position, documents = await _after(people, filter_, sort, _decode(query.cursor), query.limit + 1)
    else:
        position, documents = 0, await people.find(filter_).sort(sort).limit(query.limit + 1).to_list()
    page = documents[: query.limit]
    next_cursor = _encode(sort, page[-1], position + len(page)) if len(documents) > query.limit else None
    return {"items": [masked_view(document) for document in page], "next_cursor": next_cursor}


async def lookup_people(
    records: Records, principal: Principal, *, id_number: str | None, phone: str | None
) -> list[Document]:
    """Exact lookup through keyed hashes: the clear value is never stored or queried."""
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
        condition = {"phone_index": {"$in": records.codec.phone_indexes(phone.strip())}}
    documents = await records.db[PEOPLE].find({**principal.scope_filter(), **condition}).to_list(20)
    return [masked_view(document) for document in documents]


async def _after(
    people: AsyncCollection[Document], filter_: Document, sort: list[tuple[str, int]], cursor: list[Any], limit: int
) -> tuple[int, list[Document]]:
    """Up to ``limit`` documents strictly after the cursor's in the (field, _id) order, and
    where the first of them stands in the whole result.

    The usual keyset condition is an ``$or``, and the station's server serves no filter with a
    top-level ``$or`` from an index; an added range condition makes it pick a worse index than
    the first page's. It sorts every candidate before skipping either way. So the page runs the
    first page's filter and skips to a little before where the last page ended, keeping what
    sorts after the cursor's document: files added since cause no repeats, and if so many came
    or went that the window misses the place, two flat range queries find it instead.
    """
    (field, direction), _ = sort
    last, last_id, offset = cursor
    start = max(0, offset - CURSOR_MARGIN)
    window = await people.find(filter_).sort(sort).skip(start).limit(limit + 2 * CURSOR_MARGIN).to_list()

    def beyond(document: Document) -> bool:
        value = document.get(field)
        if value == last:
            return bool(document["_id"] > last_id)
        return bool(value > last if direction == 1 else value < last)

    first = next((index for index, document in enumerate(window) if beyond(document)), len(window))
    starts_before = start == 0 or first > 0
    reaches_far_enough = len(window) - first >= limit or len(window) < limit + 2 * CURSOR_MARGIN
    if starts_before and reaches_far_enough:
        return start + first, window[first : first + limit]
    ties = await people.find({**filter_, field: last, "_id": {"$gt": last_id}}).sort(sort).limit(limit).to_list()
    if len(ties) < limit:
        after = {**filter_, field: {"$gt" if direction == 1 else "$lt": last}}
        ties += await people.find(after).sort(sort).limit(limit - len(ties)).to_list()
    return offset, ties


def _encode(sort: list[tuple[str, int]], document: Document, position: int) -> str:
    """The last document's sort values and how many came before; extended JSON keeps a date a
    date (``updated`` sorts by one)."""
    values = [document.get(sort[0][0]), document["_id"], position]
    return base64.urlsafe_b64encode(json_util.dumps(values).encode()).decode()


def _decode(cursor: str) -> list[Any]:
    try:
        values = json_util.loads(base64.urlsafe_b64decode(cursor.encode()), json_options=CURSOR_JSON)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("invalid_cursor", "the cursor is not one this service gave", field="cursor") from exc
    if not isinstance(values, list) or len(values) != 3 or not isinstance(values[2], int) or values[2] < 0:
        raise InvalidInput("invalid_cursor", "the cursor is not one this service gave", field="cursor")
    return values
