"""Finding and understanding the header of a station's roster, and the user-adjustable mapping
from Chinese column headers to fields.

openpyxl's read-only mode (needed to stream large files) cannot see merged cells: a cell hidden
under a merge reads as blank. So headers are understood as follows:

- The header is the first of the top ``HEADER_SCAN_ROWS`` rows with at least
  ``MIN_KNOWN_HEADERS`` known headers; title rows above it ("胜利社区归侨侨眷花名册") are skipped.
- A neighbouring row (above or below) that consists mostly of known headers makes a two-row
  header, e.g. a group "联系方式" over "电话" and "住址". Each column takes its lower, more
  specific cell; a cell merged down over both rows ("姓名") has its text in the upper one only,
  which is then used.
- A column blank in every header row, left of the last labelled column, belongs to the merged
  cell on its left (forward fill), so a header merged across two columns maps both of them.
- Headers are compared normalised (``normalise_header``): the keys of a user's mapping too.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import WINDOWS_EPOCH

from liaison_records.adapters.xlsx_cells import CellValue, clean_text, field_parsers, half_width

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
# Each field's usual header: for messages, and the columns of an export that imports back.
FIELD_HEADERS: dict[str, str] = {field: headers.split()[0] for field, headers in _HEADERS.items() if field}

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
    """A labelled column: ``field`` is a field name, ``IGNORE`` (序号) or None for an unknown header;
    ``header_row`` is the row its header text is written in."""

    number: int
    letter: str
    header: str
    field: str | None
    header_row: int


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


def header_report(sheet: str, top: Sequence[tuple[CellValue, ...]], fields: Mapping[str, str]) -> HeaderReport:
    """The header found in ``top`` (the sheet's first rows) with ``fields`` (an effective header map)."""
    keys = [[normalise_header(value) if value is not None else "" for value in row] for row in top]
    first = next((i for i, row in enumerate(keys) if sum(key in fields for key in row) >= MIN_KNOWN_HEADERS), None)
    if first is None:
        message = (
            f"前 {HEADER_SCAN_ROWS} 行中找不到表头（至少要有 {MIN_KNOWN_HEADERS} 个可识别的列名，如姓名、身份证号）"
        )
        return HeaderReport(sheet, (), (), (Problem(None, None, None, None, "no_header", message),))
    numbers = [i + 1 for i in _header_row_indexes(first, keys, fields)]
    columns = tuple(
        Column(index + 1, get_column_letter(index + 1), text, fields.get(normalise_header(text)), row)
        for index, (text, row) in enumerate(_labels([top[number - 1] for number in numbers], numbers))
        if text
    )
    return HeaderReport(sheet, tuple(numbers), columns, _header_problems(columns, numbers[-1]))


def _header_problems(columns: Sequence[Column], last_header_row: int) -> tuple[Problem, ...]:
    """Unknown headers are warnings (the column is left out); a missing required column is an error."""
    unknown = [
        Problem(
            c.header_row, c.letter, c.header, None, "unknown_header", f"未知列名，该列不导入：{c.header}", "warning"
        )
        for c in columns
        if c.field is None
    ]
    missing = [
        Problem(last_header_row, None, None, field, "missing_column", f"缺少必填列：{FIELD_HEADERS[field]}")
        for field in REQUIRED_FIELDS
        if all(column.field != field for column in columns)
    ]
    return (*unknown, *missing)


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
        written = [
            (clean_text(row[index]), number) for row, number in zip(rows, numbers, strict=True) if index < len(row)
        ]
        labels.append(next(((text, number) for text, number in reversed(written) if text), ("", 0)))
    last = max((index for index, (text, _) in enumerate(labels) if text), default=-1)
    for index in range(1, last + 1):
        labels[index] = labels[index] if labels[index][0] else labels[index - 1]
    return labels[: last + 1]
