"""/v1/statistics and /v1/bulletins: figures by dimension and period, and frozen bulletins (通报)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from pydantic import BaseModel, ConfigDict, Field

from liaison_cases.domain.limits import Id
from liaison_cases.domain.statistics import Period
from liaison_cases.entrypoints.cases_api import CasesDep
from liaison_cases.service_layer import bulletins
from liaison_cases.service_layer import statistics as figures
from liaison_cases.service_layer.statistics import Dimension, StatisticsQuery

router = APIRouter(tags=["statistics"])


def min_cell(request: Request) -> int:
    """Rows with fewer cases are suppressed for roles that see aggregates only (a setting)."""
    threshold: int = request.app.state.statistics_min_cell
    return threshold


class FiguresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    period: str = Field(description="a month (2026-03), quarter (2026-Q1) or year (2026)", max_length=10)
    station_id: Id | None = None
    district_id: Id | None = None


class NewBulletin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: Id
    period: str = Field(description="a month (2026-03), quarter (2026-Q1) or year (2026)", max_length=10)


@router.get("/v1/statistics")
async def statistics(
    query: Annotated[FiguresQuery, Query()], principal: CurrentPrincipal, cases: CasesDep, request: Request
) -> Document:
    """Collected, resolved, in progress, overdue, on-time and satisfaction rates, average days per
    stage, for the cases collected in the period, by station, district, city, month, category or department."""
    asked = StatisticsQuery(query.dimension, Period.parse(query.period), query.station_id, query.district_id)
    return await figures.statistics(cases, principal, asked, min_cell=min_cell(request))


@router.post("/v1/statistics/rebuild")
async def rebuild(principal: CurrentPrincipal, cases: CasesDep) -> Document:
    """Recount the read model from the raw cases (administrators; when no case is changing)."""
    return await figures.rebuild(cases, principal)


@router.post("/v1/bulletins", status_code=201)
async def issue_bulletin(new: NewBulletin, principal: CurrentPrincipal, cases: CasesDep) -> Document:
    """Freeze a station's figures for a period (station staff); later edits do not change it."""
    return await bulletins.issue(cases, principal, new.station_id, Period.parse(new.period))


@router.get("/v1/bulletins")
async def list_bulletins(
    principal: CurrentPrincipal,
    cases: CasesDep,
    request: Request,
    station_id: Annotated[str | None, Query(max_length=100)] = None,
    period: Annotated[str | None, Query(max_length=10)] = None,
) -> list[Document]:
    return await bulletins.list_bulletins(cases, principal, station_id, period, min_cell=min_cell(request))


@router.get("/v1/bulletins/{bulletin_id}")
async def read_bulletin(bulletin_id: str, principal: CurrentPrincipal, cases: CasesDep, request: Request) -> Document:
    return await bulletins.read(cases, principal, bulletin_id, min_cell=min_cell(request))
