"""Handlers for the consents in a person's file: add, list, withdraw.

Each is a change of the file like any other: based on the version read (If-Match), written
with its field-level history and a returnee.updated event. They answer with the file as most
roles see it, whose ``consents`` each carry their state on the day.
"""

from collections.abc import Callable
from uuid import uuid4

from liaison_infra.auth import Principal
from liaison_infra.domain_errors import NotFound
from liaison_infra.mongo import Document

from liaison_records.adapters.people_store import masked_view
from liaison_records.domain import files
from liaison_records.domain.consents import Consent, ConsentFields
from liaison_records.domain.files import FieldChange, Person
from liaison_records.service_layer.context import WRITERS, Records, check_version, require
from liaison_records.service_layer.people import load_person, store_change

FileRule = Callable[[Person], tuple[Person, list[FieldChange]]]


async def give_consent(
    records: Records, principal: Principal, person_id: str, fields: ConsentFields, *, expected_version: int
) -> Document:
    """Record a consent; it is the last one in the file answered."""
    consent = Consent(**fields.model_dump(), id=f"c-{uuid4().hex[:12]}", recorded_by=principal.subject)
    return await _change(records, principal, person_id, expected_version, lambda p: files.give_consent(p, consent))


async def withdraw_consent(
    records: Records, principal: Principal, person_id: str, consent_id: str, *, expected_version: int
) -> Document:
    """Mark a consent withdrawn; it stays in the file, with when and by whom."""
    at, by = records.clock(), principal.subject
    return await _change(
        records, principal, person_id, expected_version, lambda p: files.withdraw_consent(p, consent_id, at=at, by=by)
    )


async def read_consents(records: Records, principal: Principal, person_id: str) -> Document:
    return masked_view(await load_person(records, principal, person_id))


def consent_in(file: Document, consent_id: str) -> Document:
    """One consent of a file view; not found names the consent."""
    for consent in file["consents"]:
        if consent["id"] == consent_id:
            return consent  # type: ignore[no-any-return]
    raise NotFound("consent_not_found", f"no consent {consent_id} in this file", field="consent_id")


async def _change(
    records: Records, principal: Principal, person_id: str, expected_version: int, rule: FileRule
) -> Document:
    require(principal, WRITERS, "record consents")
    document = await load_person(records, principal, person_id)
    check_version(document, expected_version)
    changed, changes = rule(records.codec.to_person(document))
    return await store_change(records, principal, document, changed, changes, expected_version=expected_version)
