"""Statistics of cases: kept as a read model in the same transaction as every case change,
recounted from the raw cases on demand, and read by dimension and period within the caller's scope.

Why in the same transaction and not by a consumer of our own ``cases.case.v1`` events: the
figures stations report must be right, and a transaction makes them exact with no lag (a report
read right after closing a case already counts it), costs one ``$inc`` per change on the write
path, and needs no event to carry every field a figure depends on (category, timeline, reply
date, satisfaction). Every handler that stores a case calls ``count_change``. Two changes of
cases in the same cell at once conflict on it; the transaction is retried like any other.

Roles that see aggregates only (auditor, district supervisor: DESIGN, "Aggregates for supervisors
suppress cells smaller than a threshold") get rows with fewer cases than the threshold marked
``suppressed`` with no figures.

Cells stay per station; figures by city sum the cells of each city's stations, the station →
district → city links read at query time from the hierarchy records announces (``org_store``),
so a district moved to another city moves its figures with it, past periods included. A station
records has not placed yet counts in the row of no city (key None), as a case without a district
does by district.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from liaison_infra.auth import Principal, Role
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import Forbidden, NotFound
from liaison_infra.mongo import Document, Transaction

from liaison_cases.adapters.org_store import cities_of
from liaison_cases.adapters.statistics_store import (
    drop_unpacked_cells,
    find_cells,
    holds_unpacked_cells,
    move_cells,
    replace_cells,
    store_cells,
)
from liaison_cases.adapters.store import CASES, changed_stations, station_cases, to_case
from liaison_cases.domain.cases import Case
from liaison_cases.domain.statistics import (
    Cell,
    Period,
    add_into,
    cells_of,
    change,
    figures,
    nest,
    tally,
)
from liaison_cases.service_layer.context import Cases

# A rebuild recounts the stations changed meanwhile at most this many times (a station's
# traffic settles within one or two).
REBUILD_PASSES = 10
DERIVED_FIELDS = {"facets": 0, "watch": 0}  # search keys stored with a case; a recount needs none
AGGREGATES_ONLY = frozenset({Role.AUDITOR, Role.DISTRICT_SUPERVISOR})


class Dimension(StrEnum):
    STATION = "station"
    DISTRICT = "district"
    CITY = "city"
    MONTH = "month"
    CATEGORY = "category"
    DEPARTMENT = "department"


CELL_FIELDS = {
    Dimension.STATION: "station_id",
    Dimension.DISTRICT: "district_id",
    Dimension.CITY: "city_id",  # not stored: added to each cell read (``_placed_in_cities``)
    Dimension.MONTH: "period",
}


@dataclass(frozen=True)
class StatisticsQuery:
    dimension: Dimension
    period: Period
    station_id: str | None = None
    district_id: str | None = None


async def count_change(tx: Transaction, before: Case | None, after: Case) -> None:
    """Move the read model with a case change, in the change's own transaction."""
    await move_cells(tx, cells_of(after), change(before, after))


async def recount(cases: Cases, station_id: str | None = None) -> dict[Cell, dict[str, Any]]:
    """Every cell (or a station's) counted from scratch from the raw cases: what the read model must hold."""
    counted: dict[Cell, Counter[str]] = {}
    async for document in cases.db[CASES].find(station_cases(station_id), DERIVED_FIELDS):
        tally(counted, to_case(document))
    return {cell: nest(flat) for cell, flat in counted.items()}


async def rebuild(cases: Cases, principal: Principal) -> Document:
    """Replace the read model by a recount (administrators only), safe while cases change.

    A change committed during the recount may be missing from it, or overwritten by it: the
    cases collection's changes are followed from before the recount, and the stations they touch
    are recounted again until a pass meets no change (a station's cells are its cases' alone)."""
    if not principal.is_admin:
        raise Forbidden("forbidden", "only administrators may rebuild the statistics")
    async with changed_stations(cases.db) as changed:
        cells = await recount(cases)
        await replace_cells(cases.runtime, cells)
        passes = 0
        while (stations := await changed()) and passes < REBUILD_PASSES:
            passes += 1
            for station_id in stations:
                await store_cells(cases.runtime, await recount(cases, station_id))
    return {"cells": len(cells), "settled": not stations}


async def upgrade_read_model(cases: Cases) -> None:
    """At start-up, fill the packed cells from a recount where a station still has the cells of
    before, then drop those: figures are right from the first query after an upgrade."""
    if await holds_unpacked_cells(cases.db):
        await replace_cells(cases.runtime, await recount(cases))
        await drop_unpacked_cells(cases.db)


def _own_department(principal: Principal) -> str | None:
    """A department handler's department: their figures are that department's section only."""
    if principal.roles == {Role.DEPARTMENT_HANDLER}:
        return principal.department or "-"
    return None


def scoped_query(principal: Principal, station_id: str | None, district_id: str | None) -> Document:
    """The caller's scope narrowed by the filters; a filter outside the scope is not found."""
    wanted = {name: value for name, value in (("station_id", station_id), ("district_id", district_id)) if value}
    scope = {} if principal.is_admin or _own_department(principal) else principal.scope_filter()
    for name, value in wanted.items():
        allowed = scope.get(name, {}).get("$in")
        if allowed is not None and value not in allowed:
            what = name.removesuffix("_id")
            raise NotFound(f"{what}_not_found", f"no {what} {value}", field=name)
    return {**scope, **wanted}


def _section(document: Document, path: str) -> dict[str, Any]:
    node: Any = document
    for part in path.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def _sections_by(documents: Iterable[Document], dimension: Dimension, base: str) -> dict[str | None, dict[str, Any]]:
    """The summed section of every row of ``dimension`` (a case without a district: key None)."""
    summed: dict[str | None, dict[str, Any]] = {}
    for document in documents:
        if dimension in CELL_FIELDS:
            parts = [(document.get(CELL_FIELDS[dimension]), _section(document, base))]
        else:
            parts = list(document.get(dimension.value, {}).items())
        for key, section in parts:
            add_into(summed.setdefault(key, {}), section)
    return summed


def report(documents: list[Document], dimension: Dimension, base: str, today: date) -> tuple[Document, list[Document]]:
    """The total and the rows of ``dimension``; every case is in exactly one row, so the total is
    their sum and no other section has to be read."""
    sections = _sections_by(documents, dimension, base)
    everything: dict[str, Any] = {}
    for section in sections.values():
        add_into(everything, section)
    ordered = sorted(sections.items(), key=lambda item: item[0] or "")
    # A row whose cases all moved elsewhere (e.g. assigned: no longer "unassigned") keeps zeros only.
    rows = [{"key": key, **figures(section, today)} for key, section in ordered if section.get("collected")]
    return figures(everything, today), rows


def suppressed(row: Document, min_cell: int) -> Document:
    """The row as an aggregates-only role sees it: too few cases, no figures, and marked so."""
    if row["collected"] >= min_cell:
        return {**row, "suppressed": False}
    return {**dict.fromkeys(row), "key": row.get("key"), "suppressed": True}


def sees_aggregates_only(principal: Principal) -> bool:
    return not principal.is_admin and principal.roles <= AGGREGATES_ONLY


async def statistics(cases: Cases, principal: Principal, query: StatisticsQuery, *, min_cell: int) -> Document:
    department = _own_department(principal)
    if department is not None and query.dimension is Dimension.CATEGORY:
        raise Forbidden("department_figures_only", "department handlers see their own department's figures")
    base = "all" if department is None else f"department.{department}"
    documents = await find_cells(
        cases.db,
        scoped_query(principal, query.station_id, query.district_id),
        query.period.cells(by_month=query.dimension is Dimension.MONTH),
        [base if department is not None or query.dimension in CELL_FIELDS else query.dimension.value],
    )
    if query.dimension is Dimension.CITY:
        documents = await _placed_in_cities(cases, documents)
    today = china_day(cases.clock())
    total, rows = report(documents, query.dimension, base, today)
    answer = {
        "dimension": query.dimension.value,
        "period": query.period.label,
        "as_of": today.isoformat(),
        "total": total,
        "rows": rows,
    }
    return shown_to(principal, answer, min_cell)


async def _placed_in_cities(cases: Cases, documents: list[Document]) -> list[Document]:
    """The cells, each with the city its station belongs to now."""
    cities = await cities_of(cases.db, {document["station_id"] for document in documents})
    return [{**document, "city_id": cities.get(document["station_id"])} for document in documents]


def shown_to(principal: Principal, answer: Document, min_cell: int) -> Document:
    """Figures (statistics or a bulletin) with small cells suppressed for aggregates-only roles."""
    if not sees_aggregates_only(principal):
        return {**answer, "suppressed_below": None}
    hidden = {
        name: [suppressed(row, min_cell) for row in value] if isinstance(value, list) else value
        for name, value in answer.items()
    }
    return {**hidden, "total": suppressed(answer["total"], min_cell), "suppressed_below": min_cell}
