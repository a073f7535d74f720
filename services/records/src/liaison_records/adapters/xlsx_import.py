"""Reading a station's existing roster (.xlsx) into person-file values, row by row.

The flow the service builds on: ``read_header`` shows which columns map to which fields (the
user may adjust the mapping and ask again); ``dry_run`` reports every problem by row and column
without keeping rows; ``read_rows`` streams ``ParsedRow`` objects for the real import, in which
the caller writes either every row whose ``ok`` is true or, if any row has a problem, nothing.
Re-importing the same file gives the same rows, so an upsert by ID number changes nothing.

The sheet is read with openpyxl's read-only mode and streamed: memory does not grow with the
number of rows (only the ID numbers seen so far are kept, to report repeats). Read-only mode
cannot see merged cells, so a header cell hidden under a merge reads as blank, and headers are
understood as follows:

- The header is the first of the top ``HEADER_SCAN_ROWS`` rows with at least
  ``MIN_KNOWN_HEADERS`` known headers; title rows above it ("胜利社区归侨侨眷花名册") are skipped.
- A neighbouring row (above or below) that consists mostly of known headers makes a two-row
  header, e.g. "联系方式" over "电话" and "住址". Each column takes its lower, more specific cell;
  a cell merged down over both rows ("姓名") has its text in the upper one only, which is used.
- A column blank in every header row, left of the last labelled column, belongs to the merged
  cell on its left (forward fill), so a header merged over two columns maps both. Several
  columns of one field are read together: lists (phones, hardship, tags) are joined, and for
  any other field differing values are a ``conflicting_values`` problem.
- A row whose mapped, non-ignored cells are all blank (only a 序号, a footer such as
  "制表人：…", or data under unknown headers) is skipped silently.
- A blank cell is left out of ``values``: it says nothing about the field.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal
from zipfile import BadZipFile

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from liaison_records.adapters.xlsx_cells import CellError, CellValue, clean_text, field_parsers, half_width

IGNORE = ""  # map a header to this to skip its column on purpose
FIELDS = tuple(field_parsers(WINDOWS_EPOCH))
REQUIRED_FIELDS = ("name", "id_number")
HEADER_SCAN_ROWS = 10
MIN_KNOWN_HEADERS = 2

_HEADERS = {
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期 出生年月",
    "id_number": "身份证号 身份证号码 公民身份号码",
    "phone": "联系电话 电话 手机 手机号码",
    "community": "社区",
    "building": "楼栋 楼号",
    "address": "住址 家庭住址 详细地址",
    "category": "类别 身份",
    "relation": "与归侨关系 关系",
    "country": "归国前居住国 侨居国 回国前国家",
    "return_year": "回国年份 归国时间",
    "settlement": "安置地 安置单位",
    "former_employer": "原工作单位",
    "employment_status": "就业状况 工作状况",
    "hardship": "困难类型 困难情况",
    "tags": "标签",
    "household_ref": "户号 家庭编号",
    "notes": "备注",
    IGNORE: "序号",
}
DEFAULT_HEADER_MAP: dict[str, str] = {
    header: field for field, headers in _HEADERS.items() for header in headers.split()
}

Source = BinaryIO | Path
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where the user can find it. ``row`` and ``column_letter`` are as Excel
    shows them; both are None for a problem with the whole file. Errors block the import of
    their row (or, without a row, of the file); warnings do not."""

    row: int | None
    column_letter: str | None
    header: str | None
    field: str | None
    code: str
    message: str
    severity: Severity = "error"


@dataclass(frozen=True)
class Column:
    """A labelled column: ``field`` is a field name, ``IGNORE`` (序号) or None for an unknown header."""

    number: int
    letter: str
    header: str
    field: str | None


@dataclass(frozen=True)
class HeaderReport:
    sheet: str
    header_rows: tuple[int, ...]
    columns: tuple[Column, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not any(problem.severity == "error" for problem in self.problems)

    @property
    def mapped(self) -> dict[str, tuple[str, ...]]:
        """Field → the letters of its columns."""
        fields: dict[str, tuple[str, ...]] = {}
        for column in self.columns:
            if column.field:
                fields[column.field] = (*fields.get(column.field, ()), column.letter)
        return fields

    @property
    def unknown(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.field is None)

    @property
    def ignored(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.field == IGNORE)

    @property
    def missing_required(self) -> tuple[str, ...]:
        return tuple(field for field in REQUIRED_FIELDS if field not in self.mapped)


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


class HeaderError(ValueError):
    """The file cannot be imported at all; ``report.problems`` says why."""

    def __init__(self, report: HeaderReport) -> None:
        super().__init__("; ".join(problem.message for problem in report.problems if problem.severity == "error"))
        self.report = report


def normalise_header(text: object) -> str:
    """How headers are compared: no spaces anywhere, ASCII for full-width, no "：" or "*" around."""
    return "".join(half_width(str(text)).split()).strip("*").rstrip(":").rstrip("*")


def effective_header_map(header_map: Mapping[str, str] | None) -> dict[str, str]:
    """The defaults with the user's mapping on top; a mapping to a field that does not exist is a
    mistake of the caller, not of the file, so it raises ValueError."""
    merged = dict(DEFAULT_HEADER_MAP)
    for header, field in (header_map or {}).items():
        if field != IGNORE and field not in FIELDS:
            raise ValueError(f"header {header!r} is mapped to {field!r}, which is not a field")
        merged[normalise_header(header)] = field
    return merged


def read_header(source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None) -> HeaderReport:
    try:
        with _reading(source, header_map, sheet) as (report, _):
            return report
    except HeaderError as error:
        return error.report


def read_rows(
    source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None
) -> Iterator[ParsedRow]:
    """Every non-empty data row in sheet order; raises HeaderError if the file cannot be imported."""
    with _reading(source, header_map, sheet) as (report, rows):
        if not report.ok:
            raise HeaderError(report)
        yield from rows


def dry_run(source: Source, header_map: Mapping[str, str] | None = None, sheet: str | None = None) -> DryRun:
    try:
        with _reading(source, header_map, sheet) as (report, rows):
            problems, count, valid = list(report.problems), 0, 0
            for row in rows:
                problems.extend(row.problems)
                count += 1
                valid += row.ok
            return DryRun(report, count, valid, tuple(problems))
    except HeaderError as error:
        return DryRun(error.report, 0, 0, error.report.problems)


@contextmanager
def _reading(
    source: Source, header_map: Mapping[str, str] | None, sheet: str | None
) -> Iterator[tuple[HeaderReport, Iterator[ParsedRow]]]:
    fields = effective_header_map(header_map)
    with _opened(source, sheet) as (worksheet, epoch):
        top = [tuple(row) for row in worksheet.iter_rows(max_row=HEADER_SCAN_ROWS, values_only=True)]
        report = _header_report(worksheet.title, top, fields)
        yield report, _parsed_rows(worksheet, report, epoch)


@contextmanager
def _opened(source: Source, sheet: str | None) -> Iterator[tuple[ReadOnlyWorksheet, datetime]]:
    """The chosen sheet (else the first), always closed after. The size the file declares is
    dropped: files from some tools declare it wrongly and openpyxl would cut rows short."""
    if not isinstance(source, Path) and source.seekable():
        source.seek(0)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True, keep_links=False)
    except (InvalidFileException, BadZipFile, KeyError, ValueError):
        raise _file_error(sheet or "", "unreadable_file", "无法读取该文件，请另存为 .xlsx 后重试") from None
    try:
        worksheet = workbook[sheet] if sheet in workbook.sheetnames else None if sheet else workbook.worksheets[0]
        if not isinstance(worksheet, ReadOnlyWorksheet):
            raise _file_error(sheet or "", "unknown_sheet", f"找不到工作表：{sheet}")
        worksheet.reset_dimensions()
        yield worksheet, workbook.epoch
    finally:
        workbook.close()


def _file_error(sheet: str, code: str, message: str) -> HeaderError:
    return HeaderError(HeaderReport(sheet, (), (), (Problem(None, None, None, None, code, message),)))




def _header_report(sheet: str, top: Sequence[tuple[CellValue, ...]], fields: Mapping[str, str]) -> HeaderReport:
    keys = [[normalise_header(value) if value is not None else "" for value in row] for row in top]
    first = next((i for i, row in enumerate(keys) if sum(key in fields for key in row) >= MIN_KNOWN_HEADERS), None)
    if first is None:
        message = f"前 {HEADER_SCAN_ROWS} 行中找不到表头（至少要有 {MIN_KNOWN_HEADERS} 个可识别的列名，如 姓名、身份证号）"
        return HeaderReport(sheet, (), (), (Problem(None, None, None, None, "no_header", message),))
    indexes = _header_row_indexes(first, keys, fields)
    labels = _labels([top[i] for i in indexes], [i + 1 for i in indexes])
    columns = tuple(
        Column(index + 1, get_column_letter(index + 1), text, fields.get(normalise_header(text)))
        for index, (text, _) in enumerate(labels)
        if text
    )
    problems = [
        Problem(row, get_column_letter(index + 1), text, None, "unknown_header", f"未知列名，该列不导入：{text}", "warning")
        for index, (text, row) in enumerate(labels)
        if text and fields.get(normalise_header(text)) is None
    ]
    report = HeaderReport(sheet, tuple(i + 1 for i in indexes), columns, ())
    problems += [
        Problem(indexes[-1] + 1, None, None, field, "missing_column", f"缺少必填列：{_HEADERS[field].split()[0]}")
        for field in report.missing_required
    ]
    return HeaderReport(sheet, report.header_rows, columns, tuple(problems))


def _header_row_indexes(first: int, keys: Sequence[Sequence[str]], fields: Mapping[str, str]) -> list[int]:
    """The header row, with the row above or below it when that row is mostly known headers too."""

    def mostly_headers(row: Sequence[str]) -> bool:
        written = [key for key in row if key]
        known = sum(key in fields for key in written)
        return known > 0 and 2 * known >= len(written)

    if first > 0 and mostly_headers(keys[first - 1]):
        return [first - 1, first]
    if first + 1 < len(keys) and mostly_headers(keys[first + 1]):
        return [first, first + 1]
    return [first]


def _labels(rows: Sequence[tuple[CellValue, ...]], numbers: Sequence[int]) -> list[tuple[str, int]]:
    """Each column's header text and the row it is written in ("", 0 for none): the lowest
    header row's non-blank cell, else the label of the column on the left (a merged cell)."""
    labels: list[tuple[str, int]] = []
    for index in range(max(map(len, rows))):
        written = [(clean_text(row[index]), number) for row, number in zip(rows, numbers, strict=True) if index < len(row)]
        labels.append(next(((text, number) for text, number in reversed(written) if text), ("", 0)))
    last = max((index for index, (text, _) in enumerate(labels) if text), default=-1)
    for index in range(1, last + 1):
        labels[index] = labels[index] if labels[index][0] else labels[index - 1]
    return labels[: last + 1]


def _parsed_rows(worksheet: ReadOnlyWorksheet, report: HeaderReport, epoch: datetime) -> Iterator[ParsedRow]:
    reader = _RowReader(report.columns, epoch)
    start = report.header_rows[-1] + 1
    for number, cells in enumerate(worksheet.iter_rows(min_row=start, values_only=True), start):
        parsed = reader.read(number, cells)
        if parsed is not None:
            yield parsed


class _RowReader:
    """Parses data rows against the mapped columns and remembers ID numbers to report repeats."""

    def __init__(self, columns: Sequence[Column], epoch: datetime) -> None:
        parsers = field_parsers(epoch)
        self._plan = [(column, column.number - 1, parsers[column.field]) for column in columns if column.field]
        self._first: dict[str, Column] = {}
        for column, _, _ in self._plan:
            self._first.setdefault(column.field or "", column)
        self._order = {column.letter: column.number for column, _, _ in self._plan}
        self._seen: dict[str, int] = {}

    def read(self, number: int, cells: Sequence[CellValue]) -> ParsedRow | None:
        """None for a row without a value in any mapped column."""
        row = ParsedRow(number, {}, [])
        written = False
        for column, index, parse in self._plan:
            value = cells[index] if index < len(cells) else None
            if isinstance(value, str):
                value = clean_text(value) or None
            if value is None:
                continue
            written = True
            try:
                self._store(row, column, parse(value))
            except CellError as error:
                row.problems.append(_problem(row, column, error.code, error.message))
        if not written:
            return None
        self._check_required(row)
        self._check_repeat(row)
        row.problems.sort(key=lambda problem: self._order[problem.column_letter or ""])
        return row

    def _store(self, row: ParsedRow, column: Column, result: Any) -> None:
        """Relation gives several keys (a dict); a field seen in an earlier column is joined or compared."""
        for key, value in result.items() if isinstance(result, dict) else [(column.field, result)]:
            earlier = row.values.get(key)
            if not value:
                continue
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
            first = self._seen.setdefault(id_number, row.row_number)
            if first != row.row_number:
                column = self._first["id_number"]
                row.problems.append(_problem(row, column, "duplicate_id_number", f"与第 {first} 行的身份证号重复"))


def _problem(row: ParsedRow, column: Column, code: str, message: str) -> Problem:
    return Problem(row.row_number, column.letter, column.header, column.field, code, message)
