"""A station roster of N people as a .xlsx file, for the records benchmark.

The rows look like a roster typed by hand in Excel or WPS over the years: a title row merged
across the sheet, a header row, then per person a serial number, a name (common surname and one
or two given-name characters), gender, birth date (mostly a real date cell, sometimes typed as
text such as "1948.5.3"), a unique ID number with a valid GB 11643 check digit agreeing with the
birth date and gender, phones (text, a number cell, two numbers or none), community, building,
street address, category, relation (relatives only), country, return year, employment, hardship
flags (some people) and the odd note. The same seed gives the same rows.

Two writers:

- ``write_excel_like``: as Excel and WPS save a workbook: every text in the shared-string
  table (``t="s"``), the size declared (``<dimension>``), dates as serial numbers with a date
  style, the title's merge recorded. This is what stations upload, and what the benchmark times.
- ``write_openpyxl``: as openpyxl saves it (write-only mode): inline strings, no declared size.
  openpyxl reads these markedly slower, so the benchmark reports its dry-run rate alongside.
"""

import io
import random
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from xml.sax.saxutils import escape

from liaison_records.domain.idcard import check_digit
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

TITLE = "鱼峰区归侨侨眷花名册"
HEADERS = (
    "序号",
    "姓名",
    "性别",
    "出生日期",
    "身份证号",
    "联系电话",
    "社区",
    "楼栋",
    "家庭住址",
    "类别",
    "与归侨关系",
    "侨居国",
    "回国年份",
    "就业状况",
    "困难类型",
    "备注",
)

# Surnames weighted roughly as among returnees in Guangxi and Guangdong (陈 and 林 common).
SURNAMES = (
    ("陈", 12),
    ("林", 8),
    ("黄", 8),
    ("李", 7),
    ("王", 5),
    ("张", 5),
    ("刘", 4),
    ("梁", 4),
    ("吴", 3),
    ("罗", 3),
    ("何", 3),
    ("周", 3),
    ("谢", 2),
    ("郑", 2),
    ("曾", 2),
    ("覃", 2),
    ("韦", 2),
    ("蒙", 1),
    ("莫", 1),
    ("潘", 1),
    ("钟", 1),
    ("卢", 1),
    ("苏", 1),
    ("邓", 1),
    ("冯", 1),
    ("蔡", 1),
    ("欧阳", 1),
    ("司徒", 1),
)
GIVEN = (
    "小明晓红国华美建伟秀英丽芳军平志强文玉兰桂珍海燕春梅德福荣金宝永亮振兴家俊杰淑贞雪琴"
    "立新红霞光辉东方世昌锦华月娥秋菊少云敏慧佩玲汉生亚坤日新有才宏源惠清宗耀月娇凤仪"
)
COUNTRIES = (
    ("越南", 40),
    ("印尼", 20),
    ("马来西亚", 12),
    ("泰国", 8),
    ("缅甸", 5),
    ("柬埔寨", 4),
    ("新加坡", 4),
    ("老挝", 3),
    ("菲律宾", 2),
    ("美国", 1),
    ("日本", 1),
)
REGIONS = ("450203", "450204", "450205", "450206", "450221", "450102", "440104", "350203", "460106")
COMMUNITIES = ("胜利社区", "鹧鸪江社区", "华侨新村社区", "箭盘山社区", "白沙社区", "荣军社区")
STREETS = ("胜利路", "箭盘路", "柳石路", "东环大道", "屏山大道", "荣军路", "白沙路", "华侨路")
RELATIONS = ("配偶", "子女", "儿子", "女儿", "孙子", "外孙女", "父亲", "母亲", "兄弟", "姐妹", "侄子")
HARDSHIPS = ("困难家庭", "低保", "特困", "独居", "残疾", "慢性病")
EMPLOYMENT = (("退休", 60), ("在职", 20), ("下岗", 10), ("失业", 5), (None, 5))
NOTES = ("", "", "", "", "", "", "", "", "已搬迁至女儿家", "行动不便，需上门走访", "2019年核实")
PHONE_PREFIXES = ("138", "139", "137", "135", "150", "152", "158", "186", "188", "177", "199")

Cell = str | int | float | date | None


@dataclass(frozen=True)
class Person:
    """One roster row's facts, before they are written as cells."""

    name: str
    male: bool
    birth: date
    id_number: str
    phones: tuple[str, ...]
    community: str
    building: str
    address: str
    returnee: bool
    relation: str | None
    country: str
    return_year: int | None
    employment: str | None
    hardship: tuple[str, ...]
    note: str


def _weighted(pairs: Sequence[tuple[str | None, int]]) -> tuple[list[str | None], list[int]]:
    return [value for value, _ in pairs], [weight for _, weight in pairs]


def people(count: int, seed: int = 20260101) -> Iterator[Person]:
    """``count`` people with distinct ID numbers, the same for the same seed."""
    rng = random.Random(seed)
    surnames, surname_weights = _weighted(SURNAMES)
    countries, country_weights = _weighted(COUNTRIES)
    employments, employment_weights = _weighted(EMPLOYMENT)
    seen: set[str] = set()
    while len(seen) < count:
        returnee = rng.random() < 0.45
        # Returnees came back 1950-1980 as children or adults; relatives are of every age.
        start, span = (date(1925, 1, 1), 45 * 365) if returnee else (date(1935, 1, 1), 72 * 365)
        birth = start + timedelta(days=rng.randrange(span))
        sequence = rng.randrange(1000)
        body = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{sequence:03d}"
        id_number = body + check_digit(body)
        if id_number in seen:
            continue
        seen.add(id_number)
        surname = rng.choices(surnames, surname_weights)[0] or ""
        given = "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.3 else 2))
        roll = rng.random()
        mobile = f"{rng.choice(PHONE_PREFIXES)}{rng.randrange(10**8):08d}"
        phones: tuple[str, ...] = (
            () if roll < 0.12 else (mobile, f"0772-{rng.randrange(2000000, 3999999)}") if roll < 0.22 else (mobile,)
        )
        hardship: tuple[str, ...] = ()
        if rng.random() < 0.18:
            hardship = tuple(rng.sample(HARDSHIPS, 1 if rng.random() < 0.7 else 2))
        yield Person(
            name=surname + given,
            male=sequence % 2 == 1,
            birth=birth,
            id_number=id_number,
            phones=phones,
            community=rng.choice(COMMUNITIES),
            building=f"{rng.randrange(1, 40)}栋",
            address=f"柳州市鱼峰区{rng.choice(STREETS)}{rng.randrange(1, 300)}号{rng.randrange(1, 40)}栋"
            f"{rng.randrange(1, 5)}单元{rng.randrange(1, 8)}0{rng.randrange(1, 5)}",
            returnee=returnee,
            relation=None if returnee else rng.choice(RELATIONS),
            country=rng.choices(countries, country_weights)[0] or "",
            return_year=min(1990, birth.year + rng.randrange(5, 40)) if returnee else None,
            employment=rng.choices(employments, employment_weights)[0],
            hardship=hardship,
            note=rng.choice(NOTES),
        )


def cells(number: int, person: Person, rng: random.Random) -> list[Cell]:
    """The row as typed: most dates are date cells, some text; a phone is sometimes a number cell."""
    birth: Cell = person.birth
    if rng.random() < 0.3:
        birth = f"{person.birth.year}.{person.birth.month}.{person.birth.day}"
    phone: Cell = "/".join(person.phones) or None
    if len(person.phones) == 1 and rng.random() < 0.3:
        phone = int(person.phones[0])
    return [
        number,
        person.name,
        "男" if person.male else "女",
        birth,
        person.id_number,
        phone,
        person.community,
        person.building,
        person.address,
        "归侨" if person.returnee else "侨眷",
        person.relation,
        person.country,
        person.return_year,
        person.employment,
        "、".join(person.hardship) or None,
        person.note or None,
    ]


def rows(count: int, seed: int = 20260101) -> Iterator[list[Cell]]:
    rng = random.Random(seed + 1)
    for number, person in enumerate(people(count, seed), start=1):
        yield cells(number, person, rng)


# --- as Excel and WPS save it -----------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
    '<bookViews><workbookView xWindow="0" yWindow="0" windowWidth="28800" windowHeight="12300"/></bookViews>'
    '<sheets><sheet name="花名册" sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>"
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
# Style 0: general; 1: a date (built-in format 14, yyyy/m/d); 2: text (@), as on the ID column.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="宋体"/><family val="3"/><charset val="134"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_EXCEL_EPOCH = date(1899, 12, 30)


class _SharedStrings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.uses = 0

    def __call__(self, text: str) -> int:
        self.uses += 1
        return self.index.setdefault(text, len(self.index))

    def xml(self) -> str:
        items = "".join(f"<si><t>{escape(text)}</t></si>" for text in self.index)
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<sst xmlns="{_MAIN}" count="{self.uses}" uniqueCount="{len(self.index)}">{items}</sst>'
        )


def _cell_xml(reference: str, value: Cell, strings: _SharedStrings, text_style: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        style = ' s="2"' if text_style else ""
        return f'<c r="{reference}"{style} t="s"><v>{strings(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{reference}" s="1"><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    return f'<c r="{reference}"><v>{value}</v></c>'


def write_excel_like(path: Path, data: Iterator[list[Cell]], count: int) -> int:
    """Write ``count`` rows as Excel saves them, the sheet streamed; returns the number of data rows."""
    letters = [get_column_letter(number) for number in range(1, len(HEADERS) + 1)]
    id_column = HEADERS.index("身份证号")
    strings = _SharedStrings()
    last, spans = letters[-1], f"1:{len(HEADERS)}"
    header = "".join(
        _cell_xml(f"{letter}2", text, strings, False) for letter, text in zip(letters, HEADERS, strict=True)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        with book.open("xl/worksheets/sheet1.xml", "w") as stream:
            sheet = io.TextIOWrapper(stream, encoding="utf-8")
            sheet.write(
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
                f'<dimension ref="A1:{last}{count + 2}"/>'
                '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
                '<pane ySplit="2" topLeftCell="A3" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
                '<sheetFormatPr defaultRowHeight="13.5"/><sheetData>'
                f'<row r="1" spans="{spans}">{_cell_xml("A1", TITLE, strings, False)}</row>'
                f'<row r="2" spans="{spans}">{header}</row>'
            )
            written = 0
            for written, values in enumerate(islice(data, count), start=1):
                number = written + 2
                row = "".join(
                    _cell_xml(f"{letter}{number}", value, strings, column == id_column)
                    for column, (letter, value) in enumerate(zip(letters, values, strict=True))
                )
                sheet.write(f'<row r="{number}" spans="{spans}">{row}</row>')
            sheet.write(
                f'</sheetData><mergeCells count="1"><mergeCell ref="A1:{last}1"/></mergeCells>'
                '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                "</worksheet>"
            )
            sheet.flush()
            sheet.detach()
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        book.writestr("xl/styles.xml", _STYLES)
        book.writestr("xl/sharedStrings.xml", strings.xml())
    return written


# --- as openpyxl saves it ---------------------------------------------------------------------


def write_openpyxl(path: Path, data: Iterator[list[Cell]], count: int) -> int:
    """Write ``count`` rows with openpyxl's write-only mode; returns the number of data rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("花名册")
    sheet.append([TITLE])
    sheet.append(list(HEADERS))
    written = 0
    for values in islice(data, count):
        sheet.append(values)
        written += 1
    workbook.save(path)
    return written


def write(kind: str, path: Path, count: int, seed: int = 20260101) -> int:
    """Entry point for a child process: ``kind`` is "excel" or "openpyxl"."""
    writer = write_excel_like if kind == "excel" else write_openpyxl
    return writer(path, rows(count, seed), count)
