"""Rules of a person's file: registration, changes with field-level history, archiving, erasure."""

from datetime import date, datetime
from typing import Any

from liaison_infra.domain_errors import Conflict, InvalidInput
from pydantic import BaseModel, Field, ValidationError

from liaison_records.domain.events import PersonSnapshot
from liaison_records.domain.idcard import InvalidIdNumber, validate_id_number
from liaison_records.domain.people import Gender, PersonFields, Status

# Fields whose values are personal data under PIPL: encrypted at rest, masked in responses.
PROTECTED_FIELDS = ("id_number", "phones", "address.detail")
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
    cases: list[CaseLink] = Field(default_factory=list)


class FieldChange(BaseModel):
    field: str
    before: Any
    after: Any


def checked(fields: PersonFields) -> PersonFields:
    """Normalise the ID number and make birth date and gender agree with it."""
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
    return Person(**checked(fields).model_dump(), id=person_id, station_id=station_id, district_id=district_id)


def change(person: Person, patch: dict[str, Any]) -> tuple[Person, list[FieldChange]]:
    """Apply a merge-patch of file fields; returns the new file and what changed, field by field."""
    if person.status is Status.ERASED:
        raise Conflict("erased", "an erased file cannot change")
    unknown = sorted(set(patch) - set(PersonFields.model_fields))
    if unknown:
        raise InvalidInput("unknown_field", f"{unknown[0]} is not a field of a person's file", field=unknown[0])
    current = PersonFields.model_validate(person.model_dump(include=set(PersonFields.model_fields)))
    merged = current.model_dump(mode="json")
    for name, value in patch.items():
        if name == "address" and isinstance(value, dict) and isinstance(merged.get("address"), dict):
            merged["address"] = {**merged["address"], **value}
        else:
            merged[name] = value
    try:
        fields = checked(PersonFields.model_validate(merged))
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or None
        raise InvalidInput("invalid_value", error["msg"], field=field) from exc
    changes = diff(current, fields)
    return Person.model_validate({**person.model_dump(), **fields.model_dump()}), changes


def diff(before: PersonFields, after: PersonFields) -> list[FieldChange]:
    old, new = _flatten(before.model_dump(mode="json")), _flatten(after.model_dump(mode="json"))
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
    return change(keep, patch)


def erased(person: Person) -> Person:
    """What remains after erasure: enough for anonymous counts, nothing that identifies anyone."""
    return Person(
        id=person.id,
        station_id=person.station_id,
        district_id=person.district_id,
        household_id=None,
        version=person.version,
        category=person.category,
        name="(erased)",
        birth_date=date(person.birth_date.year, 1, 1) if person.birth_date else None,
        country=person.country,
        hardship=person.hardship,
        status=Status.ERASED,
    )


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
