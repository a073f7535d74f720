"""/v1/departments, /v1/categories and /v1/calendar: the data cases are handled with."""

from typing import Annotated

from fastapi import APIRouter, Body, Path
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_cases.domain.departments import Department, Slug
from liaison_cases.domain.limits import FIRST_YEAR, LAST_YEAR, SCHEDULE_DAYS, SOURCE_LENGTH, Day
from liaison_cases.entrypoints.cases_api import CasesDep
from liaison_cases.service_layer import directory

router = APIRouter(tags=["directory"])


@router.get("/v1/categories")
async def categories(principal: CurrentPrincipal) -> list[dict[str, str]]:
    return directory.categories()


@router.get("/v1/departments")
async def departments(principal: CurrentPrincipal, cases: CasesDep) -> list[Document]:
    return await directory.list_departments(cases)


@router.put("/v1/departments/{department_id}")
async def save_department(
    department_id: Slug, department: Department, principal: CurrentPrincipal, cases: CasesDep
) -> Document:
    return await directory.save_department(cases, principal, department.model_copy(update={"id": department_id}))


@router.put("/v1/calendar/{year}")
async def load_schedule(
    year: Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR)],
    principal: CurrentPrincipal,
    cases: CasesDep,
    holidays: Annotated[list[Day], Body(max_length=SCHEDULE_DAYS)],
    workdays: Annotated[list[Day], Body(max_length=SCHEDULE_DAYS)],
    source: Annotated[str, Body(min_length=1, max_length=SOURCE_LENGTH)],
) -> Document:
    """Load the State Council's schedule for a year; open deadlines it moves are recomputed."""
    return await directory.load_schedule(cases, principal, year, holidays, workdays, source)
