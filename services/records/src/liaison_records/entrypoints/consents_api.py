"""/v1/people/{person_id}/consents: what a person consented to, by whom, when, until when.

Consents are part of the file: each answer carries the file's version as its ETag, and adding
or withdrawing one needs that version in If-Match, like any other change of the file.
"""

from typing import TypeVar

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_records.domain.consents import ConsentFields
from liaison_records.entrypoints.dependencies import ExpectedVersion, RecordsDep
from liaison_records.service_layer import consents

router = APIRouter(prefix="/v1/people/{person_id}/consents", tags=["consents"])
Answer = TypeVar("Answer")


def _versioned(response: Response, file: Document, answer: Answer) -> Answer:
    response.headers["ETag"] = f'"{file["version"]}"'
    return answer


@router.post("", status_code=201)
async def give(
    person_id: str,
    fields: ConsentFields,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Record a consent; the ETag is the file's new version."""
    file = await consents.give_consent(records, principal, person_id, fields, expected_version=version)
    consent = file["consents"][-1]
    response.headers["Location"] = f"/v1/people/{person_id}/consents/{consent['id']}"
    return _versioned(response, file, consent)


@router.get("")
async def list_consents(
    person_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response
) -> list[Document]:
    """Every consent in the file, withdrawn ones included, each with its state today
    (``active``, ``expired`` or ``withdrawn``)."""
    file = await consents.read_consents(records, principal, person_id)
    return _versioned(response, file, file["consents"])


@router.get("/{consent_id}")
async def read(
    person_id: str, consent_id: str, principal: CurrentPrincipal, records: RecordsDep, response: Response
) -> Document:
    file = await consents.read_consents(records, principal, person_id)
    return _versioned(response, file, consents.consent_in(file, consent_id))


@router.post("/{consent_id}/withdraw")
async def withdraw(
    person_id: str,
    consent_id: str,
    principal: CurrentPrincipal,
    records: RecordsDep,
    version: ExpectedVersion,
    response: Response,
) -> Document:
    """Withdraw a consent: it stays in the file as withdrawn, with when and by whom."""
    file = await consents.withdraw_consent(records, principal, person_id, consent_id, expected_version=version)
    return _versioned(response, file, consents.consent_in(file, consent_id))
