"""A parsed spreadsheet row as a person's file: the file rules run on every row, and what
they refuse is reported where the user can find it (row, column letter, field)."""

from dataclasses import dataclass
from typing import Any

from liaison_infra.domain_errors import DomainError
from pydantic import ValidationError

from liaison_records.adapters.xlsx_import import HeaderReport, ParsedRow, Problem
from liaison_records.domain import files
from liaison_records.domain.people import PersonFields

# Spreadsheet field → person-file field, where the names differ.
RENAMED = {"phone": "phones", "employment_status": "employment"}
ADDRESS_PARTS = {"community": "community", "building": "building", "address": "detail"}
NOT_FILE_FIELDS = ("household_ref",)


@dataclass(frozen=True)
class RowFile:
    row_number: int
    fields: PersonFields | None
    problems: list[Problem]


def person_values(values: dict[str, Any]) -> dict[str, Any]:
    """Spreadsheet values in the shape of ``PersonFields``."""
    person: dict[str, Any] = {}
    address: dict[str, Any] = {}
    for name, value in values.items():
        if name in ADDRESS_PARTS:
            address[ADDRESS_PARTS[name]] = value
        elif name not in NOT_FILE_FIELDS:
            person[RENAMED.get(name, name)] = value
    if address:
        person["address"] = address
    return person


def row_file(row: ParsedRow, header: HeaderReport) -> RowFile:
    """The row checked by the same rules as a registration through the API."""
    if not row.ok:
        return RowFile(row.row_number, None, row.problems)
    try:
        return RowFile(row.row_number, files.checked(PersonFields.model_validate(person_values(row.values))), [])
    except ValidationError as exc:
        problems = [
            problem(row.row_number, header, _field(error["loc"]), "invalid_value", error["msg"])
            for error in exc.errors()
        ]
        return RowFile(row.row_number, None, problems)
    except DomainError as exc:
        return RowFile(row.row_number, None, [problem(row.row_number, header, exc.field, exc.code, exc.message)])


def _field(location: tuple[Any, ...]) -> str | None:
    """The spreadsheet field behind a validation error's location in ``PersonFields``."""
    if not location:
        return None
    name = str(location[0])
    if name == "address" and len(location) > 1:
        return {part: field for field, part in ADDRESS_PARTS.items()}.get(str(location[1]), "address")
    return {renamed: field for field, renamed in RENAMED.items()}.get(name, name)


def problem(row: int, header: HeaderReport, field: str | None, code: str, message: str) -> Problem:
    """A problem of ``row`` at the column ``field`` is read from."""
    letters = header.mapped.get(field or "", ())
    column = next((c for c in header.columns if c.letter == (letters[0] if letters else None)), None)
    return Problem(
        row=row,
        column_letter=column.letter if column else None,
        header=column.header if column else None,
        field=field,
        code=code,
        message=message,
    )
