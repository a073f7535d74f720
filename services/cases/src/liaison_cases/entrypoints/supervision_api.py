"""/v1/{stations|districts|departments}/{id}/overdue: the deadlines already past (督办)."""

from typing import Annotated

from fastapi import APIRouter, Query
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_cases.domain.limits import Id
from liaison_cases.entrypoints.cases_api import CasesDep
from liaison_cases.service_layer.supervision import Scope, overdue

router = APIRouter(tags=["supervision"])


@router.get("/v1/{scope}/{scope_id}/overdue")
async def overdue_cases(
    scope: Scope,
    scope_id: Id,
    principal: CurrentPrincipal,
    cases: CasesDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Document:
    """Running cases of the station, district or department whose deadline has passed, oldest
    deadline first, within your scope; a department's list includes the cases it co-handles
    whose sub-deadline has passed with its opinion still owed."""
    return await overdue(cases, principal, scope, scope_id, cursor=cursor, limit=limit)
