"""/v1/stations: the station hierarchy."""

from fastapi import APIRouter
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_records.domain.org import Level, OrgUnitFields
from liaison_records.entrypoints.dependencies import RecordsDep
from liaison_records.service_layer import stations

router = APIRouter(prefix="/v1/stations", tags=["stations"])


@router.post("", status_code=201)
async def create_station(fields: OrgUnitFields, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    """Create a station, district, city or region (administrators only)."""
    return await stations.create_org_unit(records, principal, fields)


@router.get("")
async def list_stations(principal: CurrentPrincipal, records: RecordsDep, level: Level | None = None) -> list[Document]:
    return await stations.list_org_units(records, principal, level)


@router.get("/{unit_id}")
async def get_station(unit_id: str, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    return await stations.get_org_unit(records, principal, unit_id)
