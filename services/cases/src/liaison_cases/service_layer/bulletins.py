"""Bulletins (通报): a station's figures for a period, frozen when issued.

A bulletin is written once, with the figures as they stood that day (total and by category,
department and month), and never changed: later case edits move the statistics, not the
bulletin. There is one per station and period. Small cells are suppressed when it is read, for
the roles that see aggregates only, exactly as in the live statistics.
"""

from liaison_infra.auth import Principal, Role
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import Conflict, Forbidden, NotFound
from liaison_infra.mongo import Document
from pymongo.errors import DuplicateKeyError

from liaison_cases.adapters.statistics_store import BULLETINS, find_cells
from liaison_cases.domain.statistics import Period
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.statistics import Dimension, report, scoped_query, shown_to

ISSUERS = (Role.STATION_STAFF,)
SECTIONS = (Dimension.CATEGORY, Dimension.DEPARTMENT, Dimension.MONTH)


def _scope(principal: Principal, station_id: str | None = None) -> Document:
    if principal.roles == {Role.DEPARTMENT_HANDLER}:
        raise Forbidden("forbidden", "bulletins are stations' reports; department handlers read statistics")
    return scoped_query(principal, station_id, None)


def _view(document: Document) -> Document:
    return {"id": document["_id"], **{name: value for name, value in document.items() if name != "_id"}}


async def issue(cases: Cases, principal: Principal, station_id: str, period: Period) -> Document:
    """Freeze the station's figures for the period; a second bulletin for both is a conflict."""
    if not principal.has_any(*ISSUERS):
        raise Forbidden("forbidden", "only station staff may issue a bulletin")
    documents = await find_cells(
        cases.db, _scope(principal, station_id), period.cells(by_month=True), ["all", *SECTIONS]
    )
    now = cases.clock()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as stored: MongoDB keeps milliseconds
    today = china_day(now)
    reports = {dimension: report(documents, dimension, "all", today) for dimension in SECTIONS}
    bulletin = {
        "_id": f"b-{station_id}-{period.label}",
        "station_id": station_id,
        "district_id": next((d["district_id"] for d in documents if d.get("district_id")), None),
        "period": period.label,
        "as_of": today.isoformat(),
        "issued_by": principal.subject,
        "issued_at": now,
        "total": reports[Dimension.MONTH][0],  # the same in every report: each case is in one row of each
        **{dimension.value: rows for dimension, (_, rows) in reports.items()},
    }
    try:
        await cases.db[BULLETINS].insert_one(bulletin)
    except DuplicateKeyError as exc:
        raise Conflict("bulletin_exists", f"station {station_id} already has a bulletin for {period.label}") from exc
    return _view(bulletin)


async def read(cases: Cases, principal: Principal, bulletin_id: str, *, min_cell: int) -> Document:
    document = await cases.db[BULLETINS].find_one({"_id": bulletin_id, **_scope(principal)})
    if document is None:
        raise NotFound("bulletin_not_found", f"no bulletin {bulletin_id}")
    return shown_to(principal, _view(document), min_cell)


async def list_bulletins(
    cases: Cases, principal: Principal, station_id: str | None, period: str | None, *, min_cell: int
) -> list[Document]:
    query = {**_scope(principal, station_id), **({"period": period} if period else {})}
    found = cases.db[BULLETINS].find(query).sort([("station_id", 1), ("period", 1)]).limit(500)
    return [shown_to(principal, _view(document), min_cell) async for document in found]
