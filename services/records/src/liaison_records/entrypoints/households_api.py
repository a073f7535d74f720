"""/v1/households: members, ties abroad, and the responsible deputy."""

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from pydantic import BaseModel, ConfigDict, Field

from liaison_records.domain.households import HouseholdFields
from liaison_records.entrypoints.dependencies import ExpectedVersion, RecordsDep, with_etag
from liaison_records.service_layer import households

router = APIRouter(prefix="/v1/households", tags=["households"])


class NewHousehold(HouseholdFields):
    station_id: str


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deputy_id: str | None
    reason: str = Field(default="assignment", min_length=1, max_length=500)


@router.post("", status_code=201)
async def create(
    household: NewHousehold, principal: CurrentPrincipal, records: RecordsDep, response: Response
) -> Document:
    fields = HouseholdFields.model_validate(household.model_dump(exclude={"station_id"}))
    return with_etag(response, await households.create_household(records, principal, household.station_id, fields))


@router.get("")
async def list_households(
    principal: CurrentPrincipal, records: RecordsDep, station_id: str | None = None, deputy_id: str | None = None
) -> list[Document]:
    return await households.list_households(records, principal, station_id, deputy_id)


@router.get("/{household_id}")
async def read(
    household_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response, reveal: bool = False
) -> Document:
    """A household, masked; ``reveal=true`` shows protected values to roles allowed, and is audited."""
    return with_etag(response, await households.read_household(records, principal, household_id, reveal=reveal))


@router.put("/{household_id}")
async def replace(
    household_id: str,
    fields: HouseholdFields,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    document = await households.update_household(records, principal, household_id, fields, expected_version=version)
    return with_etag(response, document)


@router.put("/{household_id}/deputy")
async def assign(
    household_id: str,
    assignment: Assignment,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Make a deputy responsible for visiting this household every month."""
    document = await households.assign_deputy(
        records, principal, household_id, assignment.deputy_id, assignment.reason, expected_version=version
    )
    return with_etag(response, document)
