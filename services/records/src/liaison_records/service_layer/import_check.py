"""The dry run's look at the stored files: the rows a commit would leave out because of what is
on file are reported like the parser's problems (row, column, field), so the report says before
the commit what the commit will do, and "all or nothing" refuses them up front.

A row whose ID number is on file at another station is left alone by an import
(``on_file_elsewhere``); a row its file's rules refuse as a change carries the rules' own code.
A row that would make a new file for someone who may be on file already (the same name and birth
date, or a shared phone, as registration checks) is warned of (``possible_duplicate``): it is
imported, and the two files can be merged.
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice

from liaison_infra.auth import Principal
from liaison_infra.domain_errors import DomainError

from liaison_records.adapters.people_store import PeopleCodec, likely_duplicates, name_birth
from liaison_records.adapters.xlsx_import import HeaderReport, Problem
from liaison_records.domain.people import PersonFields
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.import_chunks import CHUNK_ROWS, import_change, on_file_by
from liaison_records.service_layer.import_rows import RowFile, problem

ELSEWHERE = "该身份证号已在其他联络站建档，导入不会改动那份档案"
POSSIBLE_DUPLICATE = "本站已有姓名和出生日期相同或电话相同的档案，可能是同一人：导入后请核实，必要时合并"


@dataclass(frozen=True)
class RowsRead:
    rows: list[RowFile]
    aliases: dict[str, int]  # the blind indexes (every key version) of each valid row's ID number → its row


def read_rows(rows: Iterator[RowFile], codec: PeopleCodec) -> RowsRead | None:
    """The next ``CHUNK_ROWS`` rows and their ID numbers' blind indexes (CPU only: run in a
    thread); None at the end."""
    read = list(islice(rows, CHUNK_ROWS))
    if not read:
        return None
    aliases = {
        alias: row.row_number
        for row in read
        if row.fields is not None and row.fields.id_number is not None
        for alias in codec.id_number_indexes(row.fields.id_number)
    }
    return RowsRead(read, aliases)


async def problems_with_files(
    records: Records, principal: Principal, station_id: str, read: RowsRead, header: HeaderReport
) -> dict[int, Problem]:
    """The problem the stored files give rows of ``read``, by row number: an error for a row a
    commit would leave out, a warning for a possible duplicate."""
    fields: dict[int, PersonFields] = {row.row_number: row.fields for row in read.rows if row.fields is not None}
    refused: dict[int, Problem] = {}
    on_file = await on_file_by(records, read.aliases)
    await records.audit_told_elsewhere(principal, list(on_file.values()))
    for row_number, current in on_file.items():
        if current["station_id"] != station_id:
            refused[row_number] = problem(row_number, header, "id_number", "on_file_elsewhere", ELSEWHERE)
            continue
        try:
            import_change(records.codec, current, fields[row_number])
        except DomainError as exc:
            refused[row_number] = problem(row_number, header, exc.field, exc.code, exc.message)
    new = {row_number: row for row_number, row in fields.items() if row_number not in on_file}
    return refused | await _possible_duplicates(records, station_id, new, header)


async def _possible_duplicates(
    records: Records, station_id: str, new: dict[int, PersonFields], header: HeaderReport
) -> dict[int, Problem]:
    """The warning for each new file whose name and birth date, or a phone, a file on file at the
    station shares (the lookups registration makes, for the whole part at once)."""
    name_births = {name_birth(row.name, row.birth_date): n for n, row in new.items() if row.birth_date}
    phones = {
        index: n for n, row in new.items() for phone in row.phones for index in records.codec.phone_indexes(phone)
    }
    warned: dict[int, Problem] = {}
    for document in await likely_duplicates(records.db, station_id, name_births, phones):
        matches = [(name_births.get(document.get("name_birth") or ""), "name")]
        matches += [(phones.get(index), "phone") for index in document.get("phone_index", [])]
        for row_number, field in matches:
            if row_number is not None:
                found = problem(row_number, header, field, "possible_duplicate", POSSIBLE_DUPLICATE)
                warned[row_number] = replace(found, severity="warning")
    return warned
