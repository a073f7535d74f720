"""The statistics read model and the bulletins in MongoDB.

``statistics_cells`` holds one document per cell (station, district, month or year of collection)
with the summed counters of its cases (see ``domain.statistics``); a query reads at most one
document per station and month or year, never the cases. ``bulletins`` are written once and never
changed.

Each section of a cell (``all``, ``category``, ``department``) is stored as one BSON binary, read
and rewritten whole inside the case's transaction, because the station's server pays for every
field a stored document has, on each read (about 1.4 µs, whatever the projection) and each write
(about 10 µs). With the sections as subdocuments a station's year held some 1,400 fields, most of
them the overdue histogram's days repeated in 23 sections: reading 40 stations cost about 45 ms
and each ``$inc`` 20 ms. Packed, a cell has a dozen. Two changes of the same cell at once conflict
on its document and one transaction is retried, as with ``$inc``. Inside a section, each
``open_due`` histogram is itself packed, as int32 day ordinals then their counts, so that a query
decodes it as two arrays (``OpenDeadlines``), not as a hundred dated fields.

Cells are found through ``keys`` ("station:<id>|<period>", "district:<id>|<period>",
"period:<period>") in one multikey index, because the server uses a compound index only for a
filter of exactly its fields and never for ``$in`` or ``$or``: a scope filter is turned into keys
and then checked on the few cells they find.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import partial
from itertools import accumulate
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from liaison_infra.mongo import Document, Transaction
from liaison_infra.runtime import Runtime
from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.domain.statistics import Cell, OpenDeadlines, cell_periods, move

STATISTICS = "statistics_cells"
# Where the cells were kept before sections were packed (as nested counters moved by ``$inc``).
UNPACKED_STATISTICS = "statistics"
BULLETINS = "bulletins"
REBUILD_BATCH = 1_000
SCOPES = (("station_id", "station"), ("district_id", "district"))


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[STATISTICS].create_index([("keys", ASCENDING)])
    await db[BULLETINS].create_index([("station_id", ASCENDING), ("period", ASCENDING)])


def _keys(cell: Cell) -> list[str]:
    places = [("station", cell.station_id), ("district", cell.district_id)]
    return [f"{kind}:{place}|{cell.period}" for kind, place in places if place] + [f"period:{cell.period}"]


def _cell_fields(cell: Cell) -> Document:
    return {"station_id": cell.station_id, "district_id": cell.district_id, "period": cell.period, "keys": _keys(cell)}


def _ints(numbers: array[int]) -> array[int]:
    """Stored little-endian: swapped on a big-endian machine, both ways."""
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


def _packed_histogram(histogram: Mapping[str, int]) -> bytes:
    days = sorted(histogram)
    return _ints(
        array("i", [date.fromisoformat(day).toordinal() for day in days] + [histogram[day] for day in days])
    ).tobytes()


def _split(packed: bytes) -> tuple[array[int], array[int]]:
    numbers = _ints(array("i", packed))
    return numbers[: len(numbers) // 2], numbers[len(numbers) // 2 :]


def _histogram(packed: bytes) -> dict[str, int]:
    days, counts = _split(packed)
    return {date.fromordinal(day).isoformat(): count for day, count in zip(days, counts, strict=True)}


def _deadlines(packed: bytes) -> OpenDeadlines:
    days, counts = _split(packed)
    return OpenDeadlines((days, array("i", accumulate(counts))))


def _row(counters: Mapping[str, Any], histogram: Callable[[Any], Any]) -> dict[str, Any]:
    """A row's counters with its ``open_due`` histogram turned by ``histogram``."""
    if "open_due" not in counters:
        return dict(counters)
    return {**counters, "open_due": histogram(counters["open_due"])}


def _rows(name: str, section: Mapping[str, Any], histogram: Callable[[Any], Any]) -> dict[str, Any]:
    """A section with each row's histogram turned: the section of all cases is one row, the
    others hold one per category or department."""
    if name == "all":
        return _row(section, histogram)
    return {key: _row(counters, histogram) for key, counters in section.items()}


def _packed(name: str, section: Mapping[str, Any]) -> bytes:
    return bson.encode(_rows(name, section, _packed_histogram))


def unpacked(document: Document) -> dict[str, Any]:
    """The sections of a stored cell (those it was read with), as counters nested again."""
    return {
        name: _rows(name, bson.decode(value), _histogram)
        for name, value in document.items()
        if isinstance(value, bytes)
    }


def _moved(cell: Cell, stored: Document, moved: Mapping[str, int]) -> UpdateOne:
    """The update of a cell's sections that ``moved`` touches (read into ``stored``)."""
    touched = {path.partition(".")[0] for path in moved}
    sections = unpacked(stored)
    move(sections, moved)
    update: Document = {"$setOnInsert": _cell_fields(cell)}
    if kept := {name: _packed(name, sections[name]) for name in touched if name in sections}:
        update["$set"] = kept
    if emptied := touched - sections.keys():
        update["$unset"] = dict.fromkeys(emptied, "")
    return UpdateOne({"_id": cell.id}, update, upsert=True)


async def move_cells(tx: Transaction, cells: Iterable[Cell], moved: Mapping[str, int]) -> None:
    """Apply a case's change to its cells inside the case's own transaction: the sections it
    moves are read in one query, changed, and written back in one command."""
    if not moved:
        return
    wanted = {cell.id: cell for cell in cells}
    projection = dict.fromkeys({path.partition(".")[0] for path in moved}, 1)
    found = tx.db[STATISTICS].find({"_id": {"$in": list(wanted)}}, projection, session=tx.session)
    stored = {document["_id"]: document async for document in found}
    updates = [_moved(cell, stored.get(cell_id, {}), moved) for cell_id, cell in wanted.items()]
    await tx.db[STATISTICS].bulk_write(updates, session=tx.session)


async def store_cells(runtime: Runtime, cells: Mapping[Cell, Mapping[str, Any]]) -> None:
    """Write recounted cells over the stored ones, a batch per transaction: a case change moving
    one meanwhile conflicts with it, and one of the two transactions is retried after the other.
    (A write outside a transaction that meets a case's transaction is retried by the station's
    server itself, and the two waited for each other for good.)"""
    documents = [
        {"_id": cell.id, **_cell_fields(cell), **{name: _packed(name, section) for name, section in sections.items()}}
        for cell, sections in cells.items()
    ]

    async def write(tx: Transaction, batch: list[Document]) -> None:
        replaces = [ReplaceOne({"_id": document["_id"]}, document, upsert=True) for document in batch]
        await tx.db[STATISTICS].bulk_write(replaces, session=tx.session)

    for start in range(0, len(documents), REBUILD_BATCH):
        await runtime.transaction(partial(write, batch=documents[start : start + REBUILD_BATCH]))


async def replace_cells(runtime: Runtime, cells: Mapping[Cell, Mapping[str, Any]]) -> None:
    """Replace the whole read model with recounted cells: those written over the stored, then any
    other dropped (queries meanwhile read the old figures, never none)."""
    await store_cells(runtime, cells)
    others = {"_id": {"$nin": [cell.id for cell in cells]}}

    async def drop_others(tx: Transaction) -> None:
        await tx.db[STATISTICS].delete_many(others, session=tx.session)

    await runtime.transaction(drop_others)


async def holds_unpacked_cells(db: AsyncDatabase[Document]) -> bool:
    """Whether the database still has the cells of before packing (a station upgraded)."""
    return UNPACKED_STATISTICS in await db.list_collection_names()


async def drop_unpacked_cells(db: AsyncDatabase[Document]) -> None:
    await db.drop_collection(UNPACKED_STATISTICS)


def _wanted_keys(query: Document, period: str) -> list[str]:
    """The keys of every cell of ``period`` that ``query`` (a scope filter of equalities, ``$in``
    and ``$or`` on station and district) may match, from its narrowest condition."""
    for field, kind in SCOPES:
        if isinstance(query.get(field), str):
            return [f"{kind}:{query[field]}|{period}"]
    for field, kind in SCOPES:
        if field in query:
            return [f"{kind}:{place}|{period}" for place in query[field]["$in"]]
    if "$or" in query:
        return [key for branch in query["$or"] for key in _wanted_keys(branch, period)]
    return [f"period:{period}"]


def _matches(document: Document, query: Document) -> bool:
    """Whether a cell found by ``_wanted_keys`` passes the whole of ``query``."""
    for field, wanted in query.items():
        if field == "$or":
            found = any(_matches(document, branch) for branch in wanted)
        else:
            found = document.get(field) in wanted["$in"] if isinstance(wanted, dict) else document.get(field) == wanted
        if not found:
            return False
    return True


def _opened(document: Document, sections: list[str]) -> Document:
    """A found cell with the sections asked for decoded; "department.<id>" is that department's
    row alone, decoded without the others'."""
    opened = {name: document[name] for name in ("station_id", "district_id", "period")}
    for path in sections:
        name, _, row = path.partition(".")
        packed = document.get(name)
        if packed is None:
            continue
        if not row:
            opened[name] = _rows(name, bson.decode(packed), _deadlines)
        elif row in (rows := RawBSONDocument(packed)):
            opened.setdefault(name, {})[row] = _row(bson.decode(rows[row].raw), _deadlines)
    return opened


async def find_cells(
    db: AsyncDatabase[Document], query: Document, periods: tuple[str, str], sections: list[str]
) -> list[Document]:
    """The cells matching ``query`` from the first to the last period, with only the sections asked for."""
    keys = [key for period in cell_periods(*periods) for key in _wanted_keys(query, period)]
    projection = {"station_id": 1, "district_id": 1, "period": 1, **{path.partition(".")[0]: 1 for path in sections}}
    found = db[STATISTICS].find({"keys": {"$in": keys}}, projection)
    return [_opened(document, sections) async for document in found if _matches(document, query)]
