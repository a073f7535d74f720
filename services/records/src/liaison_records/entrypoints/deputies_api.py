"""/v1/deputies: deputies, their channels, and the change of term."""

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from pydantic import BaseModel, ConfigDict, Field

from liaison_records.domain.deputies import DeputyFields
from liaison_records.entrypoints.dependencies import ExpectedVersion, RecordsDep, with_etag
from liaison_records.service_layer import deputies

router = APIRouter(prefix="/v1/deputies", tags=["deputies"])


class HandOver(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_deputy_id: str
    reason: str = Field(min_length=1, max_length=500)


@router.post("", status_code=201)
async def register(
    fields: DeputyFields, principal: CurrentPrincipal, records: RecordsDep, response: Response
) -> Document:
    return with_etag(response, await deputies.register_deputy(records, principal, fields))


@router.get("")
async def list_deputies(
    principal: CurrentPrincipal, records: RecordsDep, station_id: str | None = None
) -> list[Document]:
    return await deputies.list_deputies(records, principal, station_id)


@router.get("/{deputy_id}")
async def read(deputy_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response) -> Document:
    return with_etag(response, await deputies.read_deputy(records, principal, deputy_id))


@router.put("/{deputy_id}")
async def replace(
    deputy_id: str,
    fields: DeputyFields,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    document = await deputies.update_deputy(records, principal, deputy_id, fields, expected_version=version)
    return with_etag(response, document)


@router.post("/{deputy_id}/handover")
async def hand_over(deputy_id: str, handover: HandOver, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    """Change of term (换届): every household of this deputy moves to another, in one audited step."""
    return await deputies.hand_over(records, principal, deputy_id, handover.to_deputy_id, handover.reason)
