"""/v1/stations: the station hierarchy."""

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_records.domain.org import Level, OrgUnitDetails, OrgUnitFields
from liaison_records.entrypoints.dependencies import ExpectedVersion, RecordsDep, with_etag
from liaison_records.service_layer import stations

router = APIRouter(prefix="/v1/stations", tags=["stations"])


@router.post("", status_code=201)
async def create_station(
    fields: OrgUnitFields, principal: CurrentPrincipal, records: RecordsDep, response: Response
) -> Document:
    """Create a station, district, city or region (administrators only)."""
    return with_etag(response, await stations.create_org_unit(records, principal, fields))


@router.get("")
async def list_stations(principal: CurrentPrincipal, records: RecordsDep, level: Level | None = None) -> list[Document]:
    return await stations.list_org_units(records, principal, level)


@router.get("/{unit_id}")
async def get_station(unit_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response) -> Document:
    return with_etag(response, await stations.get_org_unit(records, principal, unit_id))


@router.put("/{unit_id}")
async def change_station(
    unit_id: str,
    details: OrgUnitDetails,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Rename a unit or move a district or city under another parent (administrators only, If-Match)."""
    document = await stations.change_org_unit(records, principal, unit_id, details, expected_version=version)
    return with_etag(response, document)
