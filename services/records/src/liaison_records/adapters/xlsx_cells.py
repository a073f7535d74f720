"""Turning one messy spreadsheet cell into one clean field value, and back into a label.

Station files are typed by hand in Excel or WPS over many years, so a cell may hold full-width
digits, stray spaces, a date as text, as an Excel serial or as a real date, an ID number that
Excel turned into a float, or "无" where nothing is known. Each parser takes the raw cell value
(``CellValue``: what openpyxl gives in data-only mode) and returns the field's value, or raises
``CellError`` with a machine-readable code. Messages never repeat an ID number or a phone number:
they end up in logs. The vocabularies (Chinese word → code) live here too, so that the export
prints the same words the import understands.
"""

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel

from liaison_records.domain.countries import CHINESE_WORDS
from liaison_records.domain.phones import spelled

CellValue = str | int | float | bool | datetime | date | time | timedelta | None

GENDERS = {"男": "male", "男性": "male", "女": "female", "女性": "female"}
CATEGORIES = {"归侨": "returnee", "侨眷": "relative"}
EMPLOYMENT = {"退休": "retired", "下岗": "laid_off", "在职": "employed", "失业": "unemployed"}
HARDSHIP = {
    "困难家庭": "hardship_family",
    "低保": "minimum_living",
    "特困": "extreme_poverty",
    "独居": "living_alone",
    "残疾": "disabled",
    "慢性病": "chronic_illness",
}
RELATIONS = {
    **dict.fromkeys(["子女", "儿子", "女儿"], "child"),
    **dict.fromkeys(["配偶", "丈夫", "妻子"], "spouse"),
    **dict.fromkeys(["父母", "父亲", "母亲"], "parent"),
    **dict.fromkeys(["孙子女", "孙子", "孙女", "外孙子女", "外孙", "外孙女"], "grandchild"),
    **dict.fromkeys(["兄弟姐妹", "兄弟", "姐妹", "哥哥", "弟弟", "姐姐", "妹妹"], "sibling"),
    "其他": "other",
}
# Code → the Chinese word the export prints: the first word listed for each code.
LABELS: dict[str, dict[str, str]] = {
    field: {code: word for word, code in reversed(words.items())}
    for field, words in {
        "gender": GENDERS,
        "category": CATEGORIES,
        "employment_status": EMPLOYMENT,
        "hardship": HARDSHIP,
        "relation": RELATIONS,
        "country": CHINESE_WORDS,
    }.items()
}

# What clerks type when nothing is known; read as an empty cell.
BLANK_MARKERS = frozenset({"无", "/", "-", "--", "—", "——", "不详"})
# Full-width ASCII (U+FF01-FF5E) and the ideographic space and full stop, to plain ASCII.
_HALF_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " ", "。": "."})
# Free text keeps Chinese punctuation (，：（）) and loses only full-width digits and letters, and
# the zero-width characters pasted from web pages and chat apps.
_HALF_WIDTH_ALNUM = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
    | dict.fromkeys("\u200b\u200c\u200d\ufeff")
)
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_LIST_SEPARATORS = re.compile(r"[、,;/\s]+")
_PHONE_SEPARATORS = re.compile(r"[、,;/]+")
_PHONE = re.compile(r"\+?\d{5,20}")
_ID_NUMBER = re.compile(r"\d{17}[\dX]|\d{15}")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?E\+?\d+")
_FULL_DATE = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?(\s+\d{1,2}:\d{2}(:\d{2})?)?")
_MONTH_DATE = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*月?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})?")
_YEAR = re.compile(r"(\d{4})\s*年?")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
# Serials at or above this (2100-01-01) are read as yyyymmdd or yyyymm typed into a number cell.
_LAST_SERIAL = 73051
_LONGEST_NUMBER = 13  # digits in one phone number: +86 and a mobile, or an area code and 8 digits


class CellError(ValueError):
    """A cell that cannot become its field's value; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _translator(table: Mapping[int, str | None]) -> Callable[[str], str]:
    """``str.translate`` looks up every character of a Chinese text, ten times slower than a search
    for the few characters to change, which most cells do not have."""
    wanted = re.compile("[" + "".join(re.escape(chr(code)) for code in table) + "]")
    return lambda text: text.translate(table) if wanted.search(text) else text


_narrow_all, _narrow_alnum = _translator(_HALF_WIDTH), _translator(_HALF_WIDTH_ALNUM)


def half_width(text: str) -> str:
    """Full-width ASCII to ASCII, for values with a fixed shape (dates, numbers, headers)."""
    return _narrow_all(text)


def clean_text(value: CellValue) -> str:
    """The cell as one line of text: full-width digits and letters narrowed, whitespace collapsed,
    placeholders such as "无" read as empty ("")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(_narrow_alnum(str(value)).split())  # split() knows U+3000 and U+00A0
    return "" if text in BLANK_MARKERS else text


def parse_name(value: CellValue) -> str:
    """Clerks pad two-character names to line them up ("张  伟"); spaces between Chinese characters go."""
    return _CJK_GAP.sub("", clean_text(value))


def _choice(words: Mapping[str, str], code: str, what: str) -> Callable[[CellValue], str]:
    def parse(value: CellValue) -> str:
        text = half_width(clean_text(value)).replace(" ", "")
        if text and text not in words:
            raise CellError(code, f"无法识别的{what}：{text}")
        return words.get(text, "")

    return parse


def _choices(words: Mapping[str, str], what: str) -> Callable[[CellValue], list[str]]:
    def parse(value: CellValue) -> list[str]:
        items = [item for item in _LIST_SEPARATORS.split(half_width(clean_text(value))) if item]
        unknown = [item for item in items if item not in words]
        if unknown:
            raise CellError("unknown_value", f"无法识别的{what}：{'、'.join(unknown)}")
        return list(dict.fromkeys(words[item] for item in items))

    return parse


def parse_relation(value: CellValue) -> dict[str, str]:
    """A relation outside the common ones (侄子, 儿媳) is kept as "other" with the words written."""
    text = clean_text(value)
    if not text:
        return {}
    code = RELATIONS.get(text.replace(" ", ""))
    return {"relation": code} if code else {"relation": "other", "relation_note": text}


def parse_tags(value: CellValue) -> list[str]:
    return list(dict.fromkeys(tag for tag in _LIST_SEPARATORS.split(half_width(clean_text(value))) if tag))


def parse_phones(value: CellValue) -> list[str]:
    """Digits only (spaces and dashes go), so that one number always looks the same to the blind
    index. A cell may hold several: parts split on / 、 , ; always, and on spaces only when the
    part is too long to be one number, so "138 0772 0011" and "0772 2811234" stay whole."""
    phones: list[str] = []
    for part in _PHONE_SEPARATORS.split(half_width(clean_text(value))):
        joined = spelled(part)
        pieces = [joined] if len(joined.lstrip("+")) <= _LONGEST_NUMBER else [spelled(p) for p in part.split()]
        phones.extend(piece for piece in pieces if piece)
    if not all(_PHONE.fullmatch(phone) for phone in phones):
        raise CellError("invalid_phone", "电话号码格式不对")
    return list(dict.fromkeys(phones))


def parse_id_number(value: CellValue) -> str:
    """Shape only (18 characters, or 15 digits on an old card); the domain checks the check digit.
    Excel keeps 15 significant digits, so an 18-digit number stored as a number has lost digits."""
    if isinstance(value, float) and not (value.is_integer() and value < 1e15):
        raise CellError("id_number_mangled", "身份证号被 Excel 存成了数字，末几位已丢失，请把该列设为文本后重新填写")
    text = half_width(clean_text(value)).replace(" ", "").replace("-", "").lstrip("'").upper()
    if not text:
        return ""
    if _SCIENTIFIC.fullmatch(text):
        raise CellError("id_number_mangled", "身份证号被 Excel 显示成了科学计数法，末几位已丢失")
    if not _ID_NUMBER.fullmatch(text):
        raise CellError("invalid_id_number", "身份证号应为 18 位（或旧证 15 位）")
    return text


def _calendar_date(year: str, month: str, day: str | None, text: str) -> date:
    try:
        return date(int(year), int(month), int(day or 1))
    except ValueError:
        raise CellError("invalid_date", f"不存在的日期：{text}") from None


def _date_from_text(text: str) -> date:
    """Full dates in the usual spellings; a month alone (1948年5月, 194805) means its first day."""
    for pattern in (_FULL_DATE, _COMPACT_DATE, _MONTH_DATE):
        match = pattern.fullmatch(text)
        if match:
            return _calendar_date(match[1], match[2], match[3] if pattern is not _MONTH_DATE else None, text)
    raise CellError("invalid_date", f"无法识别的日期：{text}")


def _date_from_number(number: float, epoch: datetime) -> date:
    """An Excel serial (openpyxl's ``from_excel`` knows the 1900 leap-year bug), or yyyymmdd/yyyymm
    typed into a number cell: no serial reaches those values before the year 2100."""
    if number >= _LAST_SERIAL and float(number).is_integer():
        return _date_from_text(str(int(number)))
    if not 1 <= number < _LAST_SERIAL:
        raise CellError("invalid_date", f"无法识别的日期：{number}")
    return from_excel(number, epoch).date()  # type: ignore[no-any-return]


def parse_date(value: CellValue, epoch: datetime = WINDOWS_EPOCH) -> date:
    """``epoch`` is the workbook's (1904 for old Mac files), for raw serials."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _date_from_number(value, epoch)
    if isinstance(value, str):
        return _date_from_text(half_width(clean_text(value)))
    raise CellError("invalid_date", f"无法识别的日期：{value}")


def parse_year(value: CellValue, epoch: datetime = WINDOWS_EPOCH) -> int:
    """A year (1978, "1978年"), or any date the date parser reads, of which the year is kept."""
    text = half_width(clean_text(value))
    match = _YEAR.fullmatch(text)
    try:
        year = int(match[1]) if match else parse_date(value, epoch).year
    except CellError:
        raise CellError("invalid_year", f"无法识别的年份：{text}") from None
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise CellError("invalid_year", f"年份不在 {EARLIEST_YEAR}–{LATEST_YEAR} 之间：{year}")
    return year


def field_parsers(epoch: datetime) -> dict[str, Callable[[CellValue], Any]]:
    """One parser per field, giving the field's value or, for a blank cell (spaces, "无"), an empty
    one ("", [], None, {}): the reader then needs no blank check of its own. Relation's value is
    several keys (a dict)."""
    return {
        "name": parse_name,
        "gender": _choice(GENDERS, "unknown_value", "性别"),
        "birth_date": lambda value: parse_date(value, epoch) if clean_text(value) else None,
        "id_number": parse_id_number,
        "phone": parse_phones,
        "community": clean_text,
        "building": clean_text,
        "address": clean_text,
        "category": _choice(CATEGORIES, "unknown_value", "类别"),
        "relation": parse_relation,
        "country": _choice(CHINESE_WORDS, "unknown_country", "国家"),
        "return_year": lambda value: parse_year(value, epoch) if clean_text(value) else None,
        "settlement": clean_text,
        "former_employer": clean_text,
        "employment_status": _choice(EMPLOYMENT, "unknown_value", "就业状况"),
        "hardship": _choices(HARDSHIP, "困难类型"),
        "tags": parse_tags,
        "household_ref": clean_text,
        "notes": clean_text,
    }
