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

from liaison_infra.domain_errors import DomainError

from liaison_records.adapters.people_store import PEOPLE, PeopleCodec
from liaison_records.adapters.xlsx_import import HeaderReport, Problem
from liaison_records.domain.people import PersonFields, Status
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.import_chunks import CHUNK_ROWS, LOOKUP_BATCH, import_change, on_file_by
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
    records: Records, station_id: str, read: RowsRead, header: HeaderReport
) -> dict[int, Problem]:
    """The problem the stored files give rows of ``read``, by row number: an error for a row a
    commit would leave out, a warning for a possible duplicate."""
    fields: dict[int, PersonFields] = {row.row_number: row.fields for row in read.rows if row.fields is not None}
    refused: dict[int, Problem] = {}
    on_file = await on_file_by(records, read.aliases)
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
    """The warning for each new file whose name and birth date, or a phone, a stored file at the
    station shares: one lookup per kind, each through its index, a batch at a time."""
    by_key: dict[tuple[str, str], int] = {}
    for row_number, row in new.items():
        if row.birth_date is not None:
            by_key[("name_birth", f"{row.name}|{row.birth_date}")] = row_number
        for phone in row.phones:
            by_key |= {("phone_index", index): row_number for index in records.codec.phone_indexes(phone)}
    warned: dict[int, Problem] = {}
    for kind in ("name_birth", "phone_index"):
        keys = [key for found_kind, key in by_key if found_kind == kind]
        for start in range(0, len(keys), LOOKUP_BATCH):
            query = {"station_id": station_id, kind: {"$in": keys[start : start + LOOKUP_BATCH]}}
            async for document in records.db[PEOPLE].find(query, {kind: 1, "status": 1}):
                if document.get("status") == Status.ERASED:
                    continue
                values = document[kind] if isinstance(document[kind], list) else [document[kind]]
                for row_number in {by_key[(kind, value)] for value in values if (kind, value) in by_key}:
                    field = "name" if kind == "name_birth" else "phone"
                    warned[row_number] = replace(
                        problem(row_number, header, field, "possible_duplicate", POSSIBLE_DUPLICATE), severity="warning"
                    )
    return warned
