"""/v1/duties: what is owed, by whom, in which period, and how it stands."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_notify.entrypoints.dependencies import NotifyDep
from liaison_notify.service_layer import duty_queries

Status = Literal["open", "fulfilled", "missed"]
Limit = Annotated[int, Query(ge=1, le=500)]

router = APIRouter(prefix="/v1", tags=["duties"])


@router.get("/duties")
async def list_duties(
    principal: CurrentPrincipal,
    notify: NotifyDep,
    station_id: str | None = None,
    deputy_id: str | None = None,
    period_id: str | None = None,
    rule_id: str | None = None,
    status: Status | None = None,
    limit: Limit = 100,
) -> list[Document]:
    """Duties in the caller's scope; a deputy sees their own, station staff their station's."""
    filters = {
        "station_id": station_id,
        "deputy_id": deputy_id,
        "period_id": period_id,
        "rule_id": rule_id,
        "status": status,
    }
    return await duty_queries.list_duties(notify, principal, filters, limit=limit)


@router.get("/duties/mine")
async def my_duties(
    principal: CurrentPrincipal,
    notify: NotifyDep,
    period_id: str | None = None,
    status: Status | None = None,
    limit: Limit = 100,
) -> list[Document]:
    """The calling deputy's own duties."""
    filters = {"deputy_id": principal.subject, "period_id": period_id, "status": status}
    return await duty_queries.list_duties(notify, principal, filters, limit=limit)


@router.get("/duties/{duty_id}")
async def read_duty(duty_id: str, principal: CurrentPrincipal, notify: NotifyDep) -> Document:
    return await duty_queries.read_duty(notify, principal, duty_id)
