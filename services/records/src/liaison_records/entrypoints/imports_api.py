"""/v1/imports: a station's roster from .xlsx, checked before anything is written."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from pydantic import StringConstraints

from liaison_records.entrypoints.dependencies import RecordsDep
from liaison_records.entrypoints.people_api import XLSX
from liaison_records.service_layer import imports

router = APIRouter(prefix="/v1/imports", tags=["imports"])
# A column header as the workbook has it; it becomes a key of the stored mapping, which cannot
# hold a NUL character.
Header = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]


@router.post(
    "",
    status_code=201,
    openapi_extra={"requestBody": {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def upload(
    request: Request, principal: CurrentPrincipal, records: RecordsDep, station_id: Annotated[str, Query()]
) -> Document:
    """Upload the workbook as the request body; the answer is the dry-run report."""
    return await imports.upload(records, principal, station_id, await request.body())


@router.get("/{import_id}")
async def read(import_id: str, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    return await imports.read_import(records, principal, import_id)


@router.put("/{import_id}/mapping")
async def remap(
    import_id: str,
    principal: CurrentPrincipal,
    records: RecordsDep,
    header_map: Annotated[dict[Header, str], Body(description="column header → field ('' ignores the column)")],
) -> Document:
    """Adjust which column feeds which field, and check again."""
    return await imports.check(records, principal, import_id, header_map)


@router.post("/{import_id}/commit")
async def commit(
    import_id: str,
    principal: CurrentPrincipal,
    records: RecordsDep,
    mode: Annotated[Literal["all_or_nothing", "valid_rows"], Body(embed=True)] = "all_or_nothing",
) -> Document:
    """Write the rows: all or nothing, or only the valid ones. Re-importing changes nothing."""
    return await imports.commit(records, principal, import_id, mode)
