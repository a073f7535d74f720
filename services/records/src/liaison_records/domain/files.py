"""Rules of a person's file: registration, changes with field-level history, consents, archiving,
erasure."""

from collections.abc import KeysView, Mapping
from datetime import date, datetime
from typing import Any

from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from pydantic import BaseModel, Field, ValidationError

from liaison_records.domain.consents import Consent, withdrawn
from liaison_records.domain.events import PersonSnapshot
from liaison_records.domain.idcard import InvalidIdNumber, validate_id_number
from liaison_records.domain.people import Gender, PersonFields, Status

# What a file keeps once erased, for anonymous counts (its birth date only as the year).
KEPT_AFTER_ERASURE = ("id", "station_id", "district_id", "version", "category", "birth_date", "country", "hardship")
# Statuses that close a file: it stays readable and counted, and others are told (returnee.archived).
CLOSING_STATUSES = (Status.MOVED_AWAY, Status.DECEASED, Status.ARCHIVED)


class CaseLink(BaseModel):
    """A case this person raised, as the cases service last reported it."""

    case_id: str
    status: str
    title: str | None = None
    updated_at: datetime | None = None


class Person(PersonFields):
    id: str
    station_id: str
    district_id: str | None
    household_id: str | None = None
    version: int = 0
    consents: list[Consent] = Field(default_factory=list)
    cases: list[CaseLink] = Field(default_factory=list)


class FieldChange(BaseModel):
    field: str
    before: Any
    after: Any


def checked(fields: PersonFields) -> PersonFields:
    """Normalise the ID number and make birth date and gender agree with it. No file is written
    as erased: only erasure (``erased``) sets that status, as it removes the personal data."""
    if fields.status is Status.ERASED:
        raise InvalidInput("erased_by_erasure", "a file becomes erased only through POST /erase", field="status")
    if fields.id_number is None:
        return fields
    try:
        id_number = validate_id_number(fields.id_number)
    except InvalidIdNumber as exc:
        raise InvalidInput(exc.code, str(exc), field="id_number") from exc
    if fields.birth_date is not None and fields.birth_date != id_number.birth_date:
        raise InvalidInput(
            "birth_date_mismatch", "the birth date differs from the one in the ID number", field="birth_date"
        )
    if fields.gender is not None and fields.gender != id_number.gender:
        raise InvalidInput("gender_mismatch", "the gender differs from the one in the ID number", field="gender")
    return fields.model_copy(
        update={"id_number": id_number.value, "birth_date": id_number.birth_date, "gender": Gender(id_number.gender)}
    )


def register(fields: PersonFields, *, person_id: str, station_id: str, district_id: str | None) -> Person:
    """A new file from ``fields`` as ``checked`` returned them (an import checks each row once)."""
    return Person(**fields.model_dump(), id=person_id, station_id=station_id, district_id=district_id)


def change(stored: Mapping[str, Any], patch: dict[str, Any]) -> tuple[Person, list[FieldChange]]:
    """Apply a merge-patch of file fields to a file's values (``Person.model_dump()``, or a stored
    file's as ``PeopleCodec.values`` reads them); returns the new file and what changed, field by field.

    A stored value that rules made stricter since refuse is corrected by a patch that sets it;
    history keeps what was stored before it.
    """
    _refuse_erased(stored.get("status"))
    unknown = sorted(set(patch) - set(PersonFields.model_fields))
    if unknown:
        raise InvalidInput("unknown_field", f"{unknown[0]} is not a field of a person's file", field=unknown[0])
    as_stored = {name: stored[name] for name in PersonFields.model_fields if name in stored}
    wanted = _patched(as_stored, patch)
    current, refused = _readable(stored.get("id"), as_stored, wanted, patch.keys())
    fields = checked(_valid_fields(wanted))
    changes = _changes({**current.model_dump(mode="json"), **refused}, fields.model_dump(mode="json"))
    return stored_file({**stored, **fields.model_dump()}), changes


def _patched(values: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``values`` under a merge-patch: an address object patches the address part by part."""
    merged = dict(values)
    for name, value in patch.items():
        if name == "address" and isinstance(value, dict) and isinstance(merged.get("address"), dict):
            merged["address"] = {**merged["address"], **value}
        else:
            merged[name] = value
    return merged


def _valid_fields(values: dict[str, Any]) -> PersonFields:
    try:
        return PersonFields.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise InvalidInput("invalid_value", error["msg"], field=_field(error)) from exc


def _readable(
    person_id: str | None, as_stored: dict[str, Any], wanted: dict[str, Any], patched: KeysView[str]
) -> tuple[PersonFields, dict[str, Any]]:
    """The file's fields as stored, and those that today's rules refuse with their stored values.
    Each refused field must be patched, and is read as patched."""
    try:
        return PersonFields.model_validate(as_stored), {}
    except ValidationError as exc:
        refused = {name: as_stored.get(name) for name in _names(exc)}
    if not refused.keys() <= patched:
        raise StoredFileRefused(person_id, sorted(refused))
    return _valid_fields({**as_stored, **{name: wanted[name] for name in refused}}), refused


def _field(error: Any) -> str | None:
    return ".".join(str(part) for part in error["loc"]) or None


def _names(exc: ValidationError) -> list[str]:
    return sorted({str(error["loc"][0]) for error in exc.errors()})


def stored_file(values: Mapping[str, Any]) -> Person:
    """A stored file's values as a ``Person``, or ``StoredFileRefused`` naming the fields that
    rules made stricter since refuse."""
    try:
        return Person.model_validate(values)
    except ValidationError as exc:
        raise StoredFileRefused(values.get("id"), _names(exc)) from exc


class StoredFileRefused(Conflict):
    """A stored file holds values that rules made stricter since refuse. It is read as stored;
    an update that sets those fields corrects it, and erasure needs only what it keeps to pass."""

    def __init__(self, person_id: str | None, names: list[str]) -> None:
        how = "an update setting them corrects it" if set(names) <= set(PersonFields.model_fields) else "see the log"
        super().__init__(
            "stored_file_refused",
            f"the stored file {person_id} holds values today's rules refuse in {', '.join(names)}: {how}",
            field=names[0],
            details={"person_id": person_id, "fields": names},
        )


def transferred(person: Person, station_id: str, district_id: str | None) -> tuple[Person, list[FieldChange]]:
    """The file kept at the station the person now lives at; one who had moved away is active
    there. A closed file (deceased, archived or merged, erased) stays where it was kept."""
    if person.status not in (Status.ACTIVE, Status.MOVED_AWAY):
        raise Conflict("closed_file", f"a file {person.status} stays where it was kept", field="station_id")
    if station_id == person.station_id:
        raise InvalidInput("same_station", f"the file is kept at {station_id} already", field="station_id")
    moved = person.model_copy(update={"station_id": station_id, "district_id": district_id, "status": Status.ACTIVE})
    shown = {"station_id", "district_id", "status"}
    return moved, _changes(person.model_dump(mode="json", include=shown), moved.model_dump(mode="json", include=shown))


def _refuse_erased(status: str | None) -> None:
    if status == Status.ERASED:
        raise Conflict("erased", "an erased file cannot change")


def give_consent(person: Person, consent: Consent) -> tuple[Person, list[FieldChange]]:
    """Add a consent; history keeps it whole under ``consents.<id>``."""
    _refuse_erased(person.status)
    change = FieldChange(field=f"consents.{consent.id}", before=None, after=consent.model_dump(mode="json"))
    return person.model_copy(update={"consents": [*person.consents, consent]}), [change]


def withdraw_consent(person: Person, consent_id: str, *, at: datetime, by: str) -> tuple[Person, list[FieldChange]]:
    """Mark a consent withdrawn (it stays in the file); withdrawing twice is refused."""
    _refuse_erased(person.status)
    current = next((consent for consent in person.consents if consent.id == consent_id), None)
    if current is None:
        raise NotFound("consent_not_found", f"no consent {consent_id} in this file", field="consent_id")
    if current.withdrawn_at is not None:
        raise Conflict("consent_withdrawn", f"consent {consent_id} was already withdrawn", field="consent_id")
    after = withdrawn(current, at=at, by=by)
    consents = [after if consent.id == consent_id else consent for consent in person.consents]
    changes = _changes(current.model_dump(mode="json"), after.model_dump(mode="json"), f"consents.{consent_id}.")
    return person.model_copy(update={"consents": consents}), changes


def changed_fields(changes: list[FieldChange]) -> list[str]:
    """The top-level fields ``changes`` touch (``address.detail`` is ``address``), as events name them."""
    return sorted({change.field.split(".")[0] for change in changes})


def _changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[FieldChange]:
    old, new = _flatten(before, prefix), _flatten(after, prefix)
    return [
        FieldChange(field=name, before=old.get(name), after=new.get(name))
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``address`` becomes ``address.community`` and so on: history speaks of single fields."""
    flat: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def merged(keep: Person, duplicate: Person) -> tuple[Person, list[FieldChange]]:
    """``keep`` completed from ``duplicate``: empty fields filled, lists united, nothing lost.

    Two different ID numbers are two people: refused.
    """
    if keep.id == duplicate.id:
        raise InvalidInput("same_person", "a file cannot be merged with itself", field="duplicate_id")
    if keep.id_number and duplicate.id_number and keep.id_number != duplicate.id_number:
        raise Conflict("different_id_numbers", "the two files carry different ID numbers", field="duplicate_id")
    patch: dict[str, Any] = {}
    for name in PersonFields.model_fields:
        mine, theirs = getattr(keep, name), getattr(duplicate, name)
        if isinstance(mine, list):
            union = [*mine, *(item for item in theirs if item not in mine)]
            if union != mine:
                patch[name] = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in union]
        elif name == "address":
            filled = {key: value or getattr(duplicate.address, key) for key, value in mine.model_dump().items()}
            if filled != mine.model_dump():
                patch[name] = filled
        elif mine is None and theirs is not None:
            patch[name] = theirs.model_dump(mode="json") if isinstance(theirs, BaseModel) else theirs
    completed, changes = change(keep.model_dump(), patch)
    kept_ids = {consent.id for consent in completed.consents}
    for consent in duplicate.consents:
        if consent.id not in kept_ids:
            completed, given = give_consent(completed, consent)
            changes += given
    return completed, changes


def erased(stored: Mapping[str, Any]) -> Person:
    """What remains after erasure: enough for anonymous counts, nothing that identifies anyone.
    Only what it keeps must pass today's rules."""
    kept = {name: stored[name] for name in KEPT_AFTER_ERASURE if stored.get(name) is not None}
    tombstone = stored_file({**kept, "name": "(erased)", "status": Status.ERASED})
    birth = tombstone.birth_date
    return tombstone.model_copy(update={"birth_date": date(birth.year, 1, 1) if birth else None})


def snapshot(person: Person) -> PersonSnapshot:
    return PersonSnapshot(
        person_id=person.id,
        station_id=person.station_id,
        district_id=person.district_id,
        category=person.category,
        name=person.name,
        status=person.status,
        household_id=person.household_id,
        hardship=list(person.hardship),
        birth_year=person.birth_date.year if person.birth_date else None,
    )
