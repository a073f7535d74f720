"""/v1/people: returnees' and relatives' files."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.clock import china_day
from liaison_infra.mongo import Document
from pydantic import BaseModel, ConfigDict

from liaison_records.domain.people import Category, Hardship, PersonFields, Status
from liaison_records.entrypoints.dependencies import ExpectedVersion, RecordsDep, with_etag
from liaison_records.service_layer import exports, people, search

router = APIRouter(prefix="/v1/people", tags=["people"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Registration(PersonFields):
    station_id: str


class Closing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[Status.MOVED_AWAY, Status.DECEASED, Status.ARCHIVED]


@router.post("", status_code=201)
async def register(
    registration: Registration,
    principal: CurrentPrincipal,
    records: RecordsDep,
    response: Response,
    allow_duplicates: bool = False,
) -> Document:
    """Register a file. Same ID number: 409 ``duplicate_id_number``. Same name and birth date or
    a shared phone: 409 ``possible_duplicates`` listing them, unless ``allow_duplicates``."""
    fields = PersonFields.model_validate(registration.model_dump(exclude={"station_id"}))
    document = await people.register_person(
        records, principal, registration.station_id, fields, allow_duplicates=allow_duplicates
    )
    response.headers["Location"] = f"/v1/people/{document['id']}"
    return with_etag(response, document)


def people_query(
    q: Annotated[str | None, Query(max_length=50, description="name in characters, pinyin or initials")] = None,
    station_id: str | None = None,
    category: Category | None = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    hardship: Annotated[list[Hardship] | None, Query()] = None,
    min_age: Annotated[int | None, Query(ge=0, le=130)] = None,
    max_age: Annotated[int | None, Query(ge=0, le=130)] = None,
    deputy_id: str | None = None,
    household_id: str | None = None,
    status: Status | None = None,
    sort: Literal["name", "updated"] = "name",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,  # one given is ~100 characters
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> search.PeopleQuery:
    """The search parameters, shared by the list and the export."""
    return search.PeopleQuery(
        text=q,
        station_id=station_id,
        category=category,
        country=country,
        hardship=tuple(hardship or ()),
        min_age=min_age,
        max_age=max_age,
        deputy_id=deputy_id,
        household_id=household_id,
        status=status,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


PeopleQueryDep = Annotated[search.PeopleQuery, Depends(people_query)]


@router.get("")
async def search_people(principal: CurrentPrincipal, records: RecordsDep, query: PeopleQueryDep) -> Document:
    """Files in scope, by name (characters, pinyin, initials) and facts; cursor pages."""
    return await search.search_people(records, principal, query, china_day())


@router.get("/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export(
    principal: CurrentPrincipal, records: RecordsDep, query: PeopleQueryDep, reveal: bool = False
) -> Response:
    """The matching files as an .xlsx roster, masked unless revealed (audited)."""
    content = await exports.export_people(records, principal, query, china_day(), reveal=reveal)
    disposition = 'attachment; filename="people.xlsx"'
    return Response(content, media_type=XLSX, headers={"Content-Disposition": disposition})


@router.get("/lookup")
async def lookup(
    principal: CurrentPrincipal, records: RecordsDep, id_number: str | None = None, phone: str | None = None
) -> list[Document]:
    """Exact lookup by ID number or phone, through keyed hashes only."""
    return await search.lookup_people(records, principal, id_number=id_number, phone=phone)


@router.get("/{person_id}")
async def read(
    person_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response, reveal: bool = False
) -> Document:
    """A file, masked; ``reveal=true`` shows protected values to roles allowed, and is audited."""
    return with_etag(response, await people.read_person(records, principal, person_id, reveal=reveal))


@router.patch("/{person_id}")
async def update(
    person_id: str,
    patch: Annotated[dict[str, Any], Body(description="fields to change (JSON merge patch)")],
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Change fields. ``If-Match`` must carry the ETag read; a stale one gets 412 and nothing changes."""
    document = await people.update_person(records, principal, person_id, patch, expected_version=version)
    return with_etag(response, document)


@router.post("/{person_id}/close")
async def close(
    person_id: str,
    closing: Closing,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Close a file as moved away, deceased or archived; it stays readable and counted."""
    patch = {"status": closing.status.value}
    return with_etag(
        response, await people.update_person(records, principal, person_id, patch, expected_version=version)
    )


class Transfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: str
    allow_duplicates: bool = False  # move it even beside files there that may be the same person


@router.post("/{person_id}/transfer")
async def transfer(
    person_id: str,
    transfer: Transfer,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Move the file to the station the person now lives at (the caller must serve both)."""
    document = await people.transfer_person(
        records,
        principal,
        person_id,
        transfer.station_id,
        expected_version=version,
        allow_duplicates=transfer.allow_duplicates,
    )
    return with_etag(response, document)


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duplicate_id: str


@router.post("/{person_id}/merge")
async def merge(
    person_id: str,
    merge: Merge,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Merge a duplicate into this file, keeping both histories; the duplicate is archived."""
    document = await people.merge_people(records, principal, person_id, merge.duplicate_id, expected_version=version)
    return with_etag(response, document)


@router.get("/{person_id}/history")
async def history(person_id: str, principal: CurrentPrincipal, records: RecordsDep) -> list[Document]:
    """Every change, field by field: who, when, before, after (protected values masked)."""
    return await people.person_history(records, principal, person_id)


@router.post("/{person_id}/erase")
async def erase(person_id: str, principal: CurrentPrincipal, records: RecordsDep) -> Document:
    """Erase personal data (PIPL); an anonymous tombstone keeps counts right."""
    return await people.erase_person(records, principal, person_id)
