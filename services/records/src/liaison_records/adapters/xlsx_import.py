"""Reading a station's existing roster (.xlsx) into person-file values, row by row.

The flow the service builds on: ``read_header`` shows which columns map to which fields (the
user may adjust the mapping and ask again); ``dry_run`` reports every problem by row and column
without keeping rows; ``read_rows`` streams ``ParsedRow`` objects for the real import, in which
the caller writes either every row whose ``ok`` is true or, if any row has a problem, nothing.
Reading the same file again gives the same rows, so an upsert by ID number changes nothing.

The sheet is read with openpyxl's read-only mode and streamed: memory does not grow with the
number of rows (only the ID numbers seen so far are kept, to report repeats). How headers and
merged header cells are understood is in ``xlsx_header``. For the data rows:

- A row whose mapped, non-ignored cells are all blank (only a 序号, a footer such as
  "制表人：…", or data under unknown headers only) is skipped silently.
- A blank cell (or a placeholder such as "无") is left out of ``values``: it says nothing.
- Several columns of one field (two phone columns, a header merged across two columns) are read
  together: lists (phones, hardship, tags) are joined; for any other field, differing values are
  a ``conflicting_values`` problem and the first is kept.
"""

import io
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast
from zipfile import BadZipFile, ZipFile

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from liaison_records.adapters.xlsx_cells import CellError, CellValue, field_parsers
from liaison_records.adapters.xlsx_header import (
    DEFAULT_HEADER_MAP,
    FIELD_HEADERS,
    FIELDS,
    HEADER_SCAN_ROWS,
    IGNORE,
    REQUIRED_FIELDS,
    Column,
    HeaderReport,
    Problem,
    effective_header_map,
    header_report,
    normalise_header,
)
from liaison_records.domain.idcard import InvalidIdNumber, validate_id_number

__all__ = [
    "DEFAULT_HEADER_MAP",
    "FIELDS",
    "FIELD_HEADERS",
    "IGNORE",
    "REQUIRED_FIELDS",
    "Column",
    "DryRun",
    "HeaderReport",
    "ParsedRow",
    "Problem",
    "UnimportableFile",
    "dry_run",
    "effective_header_map",
    "normalise_header",
    "read_header",
    "read_rows",
    "reading",
]

Source = BinaryIO | Path


@dataclass(frozen=True)
class ParsedRow:
    row_number: int
    values: dict[str, Any]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class DryRun:
    header: HeaderReport
    rows: int
    valid_rows: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when importing "all or nothing" would import all."""
        return self.header.ok and self.rows == self.valid_rows


class UnimportableFile(ValueError):
    """The file cannot be imported at all; ``report.problems`` says why."""

    def __init__(self, report: HeaderReport) -> None:
        super().__init__("; ".join(problem.message for problem in report.problems if problem.severity == "error"))
        self.report = report


# Excel and WPS write no comment, DTD, CDATA or processing instruction (the declaration aside) in
# a workbook's XML, and a cell holds at most 32,767 characters, so a '<' comes at least every
# 128 kB. This Python's expat (2.5) parses one long token (a comment, a tag padded with spaces) in
# time that grows with its square: a 413 kB upload holding a 400 MB comment held the API for hours.
# A stretch of ``BLOCK`` without '<' is refused; any of twice that length holds one aligned block.
BLOCK = 256 * 1024
_MARKERS = re.compile(rb"<!|<\?(?!xml[\s?])")


def hostile_part(content: bytes) -> str | None:
    """The first XML part of the workbook holding what no spreadsheet program writes, if any; a
    file that is no workbook is left to the dry run to report."""
    try:
        with ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                if info.filename.endswith((".xml", ".rels")) and _hostile(archive.open(info)):
                    return info.filename
    except (BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError):
        return None
    return None


def _hostile(part: IO[bytes]) -> bool:
    with part:
        tail = b""
        while chunk := part.read(16 * BLOCK):  # blocks stay aligned: a read gives all it is asked
            if _MARKERS.search(tail + chunk):
                return True
            if any(chunk.find(b"<", start, start + BLOCK) < 0 for start in range(0, len(chunk) - BLOCK + 1, BLOCK)):
                return True
            tail = chunk[-8:]
    return False


def read_header(source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None) -> HeaderReport:
    with reading(source, header_map, sheet) as (report, _):
        return report


def read_rows(
    source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None
) -> Iterator[ParsedRow]:
    """Every non-empty data row in sheet order; raises UnimportableFile if the file cannot be imported."""
    with reading(source, header_map, sheet) as (report, rows):
        if not report.ok:
            raise UnimportableFile(report)
        yield from rows


def dry_run(source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None) -> DryRun:
    with reading(source, header_map, sheet) as (report, rows):
        problems, count, valid = list(report.problems), 0, 0
        for row in rows:
            problems.extend(row.problems)
            count += 1
            valid += row.ok
        return DryRun(report, count, valid, tuple(problems))


@contextmanager
def reading(
    source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None
) -> Iterator[tuple[HeaderReport, Iterator[ParsedRow]]]:
    """The header report and the data rows from one opening of the workbook (opening parses the
    whole shared-strings table, so a pass opens it once); a file that cannot be read gives its
    report and no rows, and one damaged further down raises ``UnimportableFile`` there."""
    fields = effective_header_map(header_map)
    with ExitStack() as opened:
        try:
            worksheet, epoch = opened.enter_context(_opened(source, sheet))
            top = list(_values(worksheet, 1, HEADER_SCAN_ROWS))
        except UnimportableFile as error:
            yield error.report, iter(())
            return
        report = header_report(worksheet.title, top, fields)
        yield report, _parsed_rows(worksheet, report, epoch) if report.header_rows else iter(())  # no header found


@contextmanager
def _opened(source: Source, sheet: str | None) -> Iterator[tuple[ReadOnlyWorksheet, datetime]]:
    """The chosen sheet (else the first), read from the start of ``source`` and always closed after.
    The size the file declares is dropped: some tools declare it wrongly and rows would be cut short."""
    if not isinstance(source, Path) and source.seekable():
        source.seek(0)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True, keep_links=False)
    except (InvalidFileException, OSError, *DAMAGED):  # not a workbook, or one whose parts are broken
        raise _file_error(sheet or "", "unreadable_file", "无法读取该文件，请另存为 .xlsx 后重试") from None
    try:
        if sheet is None:
            worksheet: object = next(iter(workbook.worksheets), None)
        else:
            worksheet = workbook[sheet] if sheet in workbook.sheetnames else None
        if not isinstance(worksheet, ReadOnlyWorksheet):  # missing, or a chart sheet
            raise _file_error(sheet or "", "unknown_sheet", f"找不到工作表：{sheet}" if sheet else "文件中没有工作表")
        worksheet.reset_dimensions()
        yield worksheet, workbook.epoch
    finally:
        workbook.close()


def _values(worksheet: ReadOnlyWorksheet, min_row: int, max_row: int | None) -> Iterator[tuple[CellValue, ...]]:
    """The cell values of each row, a missing row as (). The stubs give ReadOnlyWorksheet the
    signature of Worksheet.iter_rows; with data_only and no rich text every value is a CellValue.

    A read-only sheet is parsed as it is read, so a damaged one (a number cell holding text, a
    string index out of range, cut-off XML) fails part-way: ``UnimportableFile``, from there on."""
    rows = worksheet.iter_rows(min_row=min_row, max_row=max_row, values_only=True)  # type: ignore[misc]
    number = min_row  # the row being read
    try:
        for values in cast(Iterator[tuple[CellValue, ...]], rows):
            yield values
            number += 1
    except DAMAGED as exc:
        message = f"第 {number} 行无法读取（{type(exc).__name__}），请用 Excel 打开后另存为 .xlsx 再试"
        raise _file_error(worksheet.title, "unreadable_sheet", message) from exc


# What reading a damaged part raises (XML that does not parse is a SyntaxError).
DAMAGED = (ValueError, TypeError, KeyError, IndexError, SyntaxError, BadZipFile, EOFError, zlib.error)


def _file_error(sheet: str, code: str, message: str) -> UnimportableFile:
    return UnimportableFile(HeaderReport(sheet, (), (), (Problem(None, None, None, None, code, message),)))


def _parsed_rows(worksheet: ReadOnlyWorksheet, report: HeaderReport, epoch: datetime) -> Iterator[ParsedRow]:
    reader = _RowReader(report.columns, epoch)
    start = report.header_rows[-1] + 1
    for number, cells in enumerate(_values(worksheet, start, None), start):
        parsed = reader.read(number, cells)
        if parsed is not None:
            yield parsed


class _RowReader:
    """Parses data rows against the mapped columns and remembers ID numbers to report repeats."""

    def __init__(self, columns: Sequence[Column], epoch: datetime) -> None:
        parsers = field_parsers(epoch)
        mapped = [(column, column.field) for column in columns if column.field]
        self._plan = [(column, field, column.number - 1, parsers[field]) for column, field in mapped]
        self._first: dict[str, Column] = {}
        for column, field in mapped:
            self._first.setdefault(field, column)
        self._order = {column.letter: column.number for column, _ in mapped}
        self._seen: dict[str, int] = {}

    def read(self, number: int, cells: Sequence[CellValue]) -> ParsedRow | None:
        """None for a row without a value in any mapped column."""
        row = ParsedRow(number, {}, [])
        values, written = row.values, False
        for column, field, index, parse in self._plan:
            value = cells[index] if index < len(cells) else None
            if value is None:
                continue
            try:
                result = parse(value)
            except CellError as error:
                row.problems.append(_problem(row, column, error.code, error.message))
                written = True
                continue
            if not result:  # blank after cleaning
                continue
            written = True
            if field in values or isinstance(result, dict):
                self._join(row, column, result if isinstance(result, dict) else {field: result})
            else:
                values[field] = result
        if not written:
            return None
        self._check_required(row)
        self._check_repeat(row)
        row.problems.sort(key=lambda problem: self._order[problem.column_letter or ""])
        return row

    def _join(self, row: ParsedRow, column: Column, results: Mapping[str, Any]) -> None:
        """Relation gives several keys; a field already read from another column is joined or compared."""
        for key, value in results.items():
            earlier = row.values.get(key)
            if earlier is None:
                row.values[key] = value
            elif isinstance(earlier, list):
                row.values[key] = list(dict.fromkeys([*earlier, *value]))
            elif earlier != value:
                row.problems.append(_problem(row, column, "conflicting_values", "与同一字段另一列的值不一致"))

    def _check_required(self, row: ParsedRow) -> None:
        for field in REQUIRED_FIELDS:
            column = self._first[field]
            if field not in row.values and not any(problem.field == field for problem in row.problems):
                row.problems.append(_problem(row, column, "required", f"{column.header}不能为空"))

    def _check_repeat(self, row: ParsedRow) -> None:
        id_number = row.values.get("id_number")
        if id_number:
            first = self._seen.setdefault(_one_spelling(id_number), row.row_number)
            if first != row.row_number:
                column = self._first["id_number"]
                row.problems.append(_problem(row, column, "duplicate_id_number", f"与第 {first} 行的身份证号重复"))


def _one_spelling(id_number: str) -> str:
    """An old card's 15 digits as the 18 characters they became, so both spellings are one number."""
    try:
        return validate_id_number(id_number).value
    except InvalidIdNumber:  # reported by the file rules; as a key, the text will do
        return id_number


def _problem(row: ParsedRow, column: Column, code: str, message: str) -> Problem:
    return Problem(row.row_number, column.letter, column.header, column.field, code, message)
