"""/v1/visits and /v1/activities: what deputies did, and the opinions they heard."""

from datetime import date

from fastapi import APIRouter
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_records.domain.logs import ActivityFields, ActivityKind, VisitFields, VisitKind
from liaison_records.entrypoints.dependencies import RecordsDep
from liaison_records.service_layer import logs

router = APIRouter(tags=["visits and activities"])


@router.post("/v1/visits", status_code=201)
async def log_visit(fields: VisitFields, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    """Log a household visit (走访) or condolence visit (慰问); each opinion raised becomes a case."""
    return await logs.log_visit(records, principal, fields)


@router.get("/v1/visits")
async def list_visits(
    principal: CurrentPrincipal,
    records: RecordsDep,
    station_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    deputy_id: str | None = None,
    household_id: str | None = None,
    person_id: str | None = None,
    kind: VisitKind | None = None,
) -> list[Document]:
    return await logs.list_log(
        records,
        principal,
        logs.VISITS,
        "visited_on",
        station_id=station_id,
        start=start,
        end=end,
        deputy_ids=deputy_id,
        household_ids=household_id,
        person_ids=person_id,
        kind=kind.value if kind else None,
    )


@router.post("/v1/activities", status_code=201)
async def hold_activity(fields: ActivityFields, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    """Log a lecture (宣讲), study session (学习), training, research or reception day."""
    return await logs.hold_activity(records, principal, fields)


@router.get("/v1/activities")
async def list_activities(
    principal: CurrentPrincipal,
    records: RecordsDep,
    station_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    deputy_id: str | None = None,
    household_id: str | None = None,
    person_id: str | None = None,
    kind: ActivityKind | None = None,
) -> list[Document]:
    return await logs.list_log(
        records,
        principal,
        logs.ACTIVITIES,
        "held_on",
        station_id=station_id,
        start=start,
        end=end,
        deputy_ids=deputy_id,
        household_ids=household_id,
        person_ids=person_id,
        kind=kind.value if kind else None,
    )
