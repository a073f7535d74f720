"""Writing person files to an .xlsx roster that station staff open in Excel or WPS.

Masking is the caller's: it passes values already masked for the reader's role (an ID number
as 4502************34), so nothing here knows who is asking. What this module guarantees:

- No cell is a formula. A text that Excel would run (OWASP's CSV-injection rule: it starts with
  = + - @, a tab or a carriage return; the full-width ＝ ＋ － ＠ too, which Chinese input
  methods type) gets a leading ' and every text is written as a plain string cell.
- Dates are real dates shown as yyyy-mm-dd; lists are joined with 、.
- Codes of the vocabularies (gender, category, relation, country, employment, hardship) are
  printed as the Chinese words the import reads back ("male" → 男, "VN" → 越南); a relation
  "other" prints its ``relation_note``. Any other value is written as given.

The workbook is written in openpyxl's write-only mode, row by row, so memory stays flat.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from liaison_records.adapters.xlsx_cells import LABELS

DATE_FORMAT = "yyyy-mm-dd"
LIST_SEPARATOR = "、"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
SHEET_TITLE = "名册"


def write_people(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    destination: BinaryIO,
    sheet_title: str = SHEET_TITLE,
) -> None:
    """One header row of the Chinese headers in ``columns`` (field, header), then one row per
    person with the fields in that order; a missing field is an empty cell."""
    workbook = Workbook(write_only=True)
    worksheet: WriteOnlyWorksheet = workbook.create_sheet(sheet_title)
    header_font = Font(bold=True)
    worksheet.append([_text_cell(worksheet, header, header_font) for _, header in columns])
    for row in rows:
        worksheet.append([_cell(worksheet, _shown(field, row)) for field, _ in columns])
    workbook.save(destination)


def safe_text(text: str) -> str:
    """The text as Excel must show it: never run as a formula, without the control characters
    that make a file unreadable."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _shown(field: str, row: Mapping[str, Any]) -> Any:
    """The value in the roster's words: vocabulary codes as Chinese, an "other" relation as written."""
    value = row.get(field)
    if field == "relation" and value == "other" and row.get("relation_note"):
        return row["relation_note"]
    labels = LABELS.get(field)
    if labels is None:
        return value
    if isinstance(value, list | tuple):
        return [labels.get(item, item) for item in value]
    return labels.get(value, value) if isinstance(value, str) else value


def _cell(worksheet: WriteOnlyWorksheet, value: Any) -> Cell | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return _text_cell(worksheet, LIST_SEPARATOR.join(str(item) for item in value))
    if isinstance(value, datetime | date):
        cell = WriteOnlyCell(worksheet)
        cell.value = value.date() if isinstance(value, datetime) else value
        cell.number_format = DATE_FORMAT
        return cell
    if isinstance(value, int | float) and not isinstance(value, bool):
        return WriteOnlyCell(worksheet, value)
    return _text_cell(worksheet, str(value))


def _text_cell(worksheet: WriteOnlyWorksheet, text: str, font: Font | None = None) -> Cell:
    """A string cell whatever the text looks like (openpyxl would make "=…" a formula)."""
    cell = WriteOnlyCell(worksheet, safe_text(text))
    cell.data_type = "s"
    if font is not None:
        cell.font = font
    return cell
