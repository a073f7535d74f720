"""The dry run's look at the stored files: the rows a commit would leave out because of what is
on file are reported like the parser's problems (row, column, field), so the report says before
the commit what the commit will do, and "all or nothing" refuses them up front.

A row whose ID number is on file at another station is left alone by an import
(``on_file_elsewhere``); a row its file's rules refuse as a change carries the rules' own code.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from liaison_infra.domain_errors import DomainError

from liaison_records.adapters.people_store import PeopleCodec
from liaison_records.adapters.xlsx_import import HeaderReport, Problem
from liaison_records.domain.people import PersonFields
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.import_chunks import CHUNK_ROWS, import_change, on_file_by
from liaison_records.service_layer.import_rows import RowFile, problem

ELSEWHERE = "该身份证号已在其他联络站建档，导入不会改动那份档案"


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


async def refused_by_files(
    records: Records, station_id: str, read: RowsRead, header: HeaderReport
) -> dict[int, Problem]:
    """The problem the stored files give each row of ``read`` a commit would leave out, by row number."""
    fields: dict[int, PersonFields] = {row.row_number: row.fields for row in read.rows if row.fields is not None}
    refused: dict[int, Problem] = {}
    for row_number, current in (await on_file_by(records, read.aliases)).items():
        if current["station_id"] != station_id:
            refused[row_number] = problem(row_number, header, "id_number", "on_file_elsewhere", ELSEWHERE)
            continue
        try:
            import_change(records.codec, current, fields[row_number])
        except DomainError as exc:
            refused[row_number] = problem(row_number, header, exc.field, exc.code, exc.message)
    return refused
