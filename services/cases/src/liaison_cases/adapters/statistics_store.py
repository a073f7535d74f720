"""The statistics read model and the bulletins in MongoDB.

``statistics`` holds one document per cell (station, district, month or year of collection) with the
summed counters of its cases (see ``domain.statistics``); a query reads at most one document
per station and month or year, never the cases. ``bulletins`` are written once and never changed.
"""

from collections.abc import Mapping
from typing import Any

from liaison_infra.mongo import Document, Transaction
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from liaison_cases.domain.statistics import Cell

STATISTICS = "statistics"
BULLETINS = "bulletins"
REBUILD_BATCH = 1_000


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    cells = db[STATISTICS]
    await cells.create_index([("station_id", ASCENDING), ("period", ASCENDING)])
    await cells.create_index([("district_id", ASCENDING), ("period", ASCENDING)])
    await cells.create_index([("period", ASCENDING)])
    await db[BULLETINS].create_index([("station_id", ASCENDING), ("period", ASCENDING)])


def _cell_fields(cell: Cell) -> Document:
    return {"station_id": cell.station_id, "district_id": cell.district_id, "period": cell.period}


async def move_cell(tx: Transaction, cell: Cell, moved: Mapping[str, int]) -> None:
    """Apply a case's change to its cell inside the case's own transaction."""
    if moved:
        await tx.db[STATISTICS].update_one(
            {"_id": cell.id}, {"$inc": dict(moved), "$setOnInsert": _cell_fields(cell)}, upsert=True, session=tx.session
        )


async def replace_cells(db: AsyncDatabase[Document], cells: Mapping[Cell, Mapping[str, Any]]) -> None:
    """Replace the whole read model with recounted cells (the admin's rebuild)."""
    await db[STATISTICS].delete_many({})
    documents = [{"_id": cell.id, **_cell_fields(cell), **sections} for cell, sections in cells.items()]
    for start in range(0, len(documents), REBUILD_BATCH):
        await db[STATISTICS].insert_many(documents[start : start + REBUILD_BATCH])


async def find_cells(
    db: AsyncDatabase[Document], query: Document, periods: tuple[str, str], sections: list[str]
) -> list[Document]:
    """The cells matching ``query`` from the first to the last period, with only the sections asked for."""
    projection = {"station_id": 1, "district_id": 1, "period": 1, **dict.fromkeys(sections, 1)}
    within = {"$gte": periods[0], "$lte": periods[1]}
    return await db[STATISTICS].find({**query, "period": within}, projection).to_list()
