"""The spreadsheet adapter: a real station's ugly roster in, a safe roster out."""

import io
import zipfile
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from liaison_records.adapters.xlsx_cells import (
    LABELS,
    CellError,
    field_parsers,
    parse_date,
    parse_id_number,
    parse_phones,
)
from liaison_records.adapters.xlsx_export import write_people
from liaison_records.adapters.xlsx_import import (
    FIELD_HEADERS,
    IGNORE,
    Problem,
    UnimportableFile,
    dry_run,
    read_header,
    read_rows,
)
from liaison_records.domain.countries import CHINESE_WORDS
from openpyxl import Workbook, load_workbook
from openpyxl.utils.datetime import WINDOWS_EPOCH

HEADERS = ["序号", "姓名", "性别", "出生日期", "公民身份号码 ", "联系方式", None, "类别", "与归侨关系", "侨居国"]
HEADERS += ["回国年份", "就业状况", "困难类型", "微信号", "备注：", "标签"]
SERIAL_1952_11_20 = (date(1952, 11, 20) - date(1899, 12, 30)).days
# The data rows from row 5 on, by column letter; an empty dict is a row with nothing in it.
ROWS: list[dict[str, Any]] = [
    {"A": 1, "B": "张 伟 ", "C": "男", "D": datetime(1948, 5, 3), "E": "４５０２０３１９４８０５０３１２３４"}
    | {"F": "１３８０７７２００１１／0772-2811234", "G": "柳州市胜利路３号 ", "H": "归侨", "J": "越南", "K": 1978}
    | {"L": "退休", "M": "低保、独居", "N": "wx_zhang", "P": "党员 志愿者"},
    {},
    {"A": 2, "B": "李秀英", "C": "女", "D": SERIAL_1952_11_20, "E": "4502 0319 5211 2000 2x", "F": 13977201234}
    | {"G": "柳州市柳南区航鹰大道１２号", "H": "侨眷", "I": "配偶", "J": "印尼", "K": "1979年6月", "L": "下岗"}
    | {"M": "困难家庭 慢性病", "O": "丈夫已故"},
    {"A": 3},
    {"A": 4, "B": "王建国", "C": "男", "D": "1950.12.1", "E": 4.50203195012015e17, "F": "13507720000 13607720000"}
    | {"H": "侨眷", "I": "侄子", "J": "马来西亚", "K": datetime(1980, 3, 1), "L": "在职"},
    {"A": 5, "C": "女", "D": "1962年7月", "E": "450203196207010021", "H": "归侨", "J": "南洋", "K": "１９６５"}
    | {"M": "低保，特困、失明"},
    {"A": 6, "B": "陈\u3000明", "C": "M", "D": "19550230", "E": "450203195502300011", "F": "0772 2811235"}
    | {"G": "胜利路 5 号", "H": "归侨", "J": "泰国", "K": "解放前", "L": "退休 "},
    {"A": "", "B": "\u3000 ", "C": None},
    {"A": 7, "B": "赵丽", "C": "女", "D": "１９５８－０８－０９", "E": "450203194805031234", "F": "无", "H": "侨眷"}
    | {"I": "子女", "J": "新加坡", "K": 1990, "L": "失业", "O": "低保户待核实"},
    {"A": 8, "B": "刘 芳", "C": "女", "D": "1960年3月15日", "E": "45020319600315002X", "F": "138-0772-0012"}
    | {"H": "归侨", "J": "缅甸", "K": 38000, "M": "残疾", "P": "楼长"},
    {"A": "制表人：王某某"},
]


def ugly_roster(rows: list[dict[str, Any]] = ROWS) -> bytes:
    """A roster as a station keeps it: two title rows, a two-row header with merged cells, full-width
    digits, an ID number turned into a float, dates in every spelling, blank and 序号-only rows."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["胜利社区归侨侨眷花名册"])
    sheet.append(["填报单位：胜利社区居委会\u3000\u3000填报日期：２０２４年３月"])
    sheet.merge_cells("A1:P1")
    sheet.merge_cells("A2:P2")
    sheet.append(HEADERS)
    sheet.append([None] * 5 + ["手机号码", "家庭住址"])
    sheet.merge_cells("F3:G3")
    for letter in "ABCDEHIJKLMNOP":
        sheet.merge_cells(f"{letter}3:{letter}4")
    for row in rows:
        sheet.append([row.get(letter) for letter in "ABCDEFGHIJKLMNOP"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def roster() -> bytes:
    return ugly_roster()


Short = tuple[int | None, str | None, str | None, str | None, str]


def problem(row, letter, header, field, code) -> Short:
    return (row, letter, header, field, code)


def short(problems: list[Problem]) -> list[Short]:
    return [(p.row, p.column_letter, p.header, p.field, p.code) for p in problems]


def test_the_header_is_found_under_the_titles_and_merged_cells_are_understood(roster) -> None:
    report = read_header(io.BytesIO(roster))
    assert report.ok and report.header_rows == (3, 4)
    assert report.mapped == {
        "name": ("B",),
        "gender": ("C",),
        "birth_date": ("D",),
        "id_number": ("E",),
        "phone": ("F",),
        "address": ("G",),
        "category": ("H",),
        "relation": ("I",),
        "country": ("J",),
        "return_year": ("K",),
        "employment_status": ("L",),
        "hardship": ("M",),
        "notes": ("O",),
        "tags": ("P",),
    }
    assert [(c.letter, c.header, c.header_row) for c in report.columns[:7]] == [
        ("A", "序号", 3),
        ("B", "姓名", 3),
        ("C", "性别", 3),
        ("D", "出生日期", 3),
        ("E", "公民身份号码", 3),
        ("F", "手机号码", 4),
        ("G", "家庭住址", 4),
    ]
    assert [c.letter for c in report.ignored] == ["A"]
    assert [c.header for c in report.unknown] == ["微信号"]
    assert short(list(report.problems)) == [problem(3, "N", "微信号", None, "unknown_header")]
    assert report.problems[0].severity == "warning" and report.missing_required == ()


def test_every_value_and_every_problem_of_the_ugly_roster(roster) -> None:
    rows = list(read_rows(io.BytesIO(roster)))
    assert [row.row_number for row in rows] == [5, 7, 9, 10, 11, 13, 14]
    assert [row.values for row in rows] == [
        {
            "name": "张伟",
            "gender": "male",
            "birth_date": date(1948, 5, 3),
            "id_number": "450203194805031234",
            "phone": ["13807720011", "07722811234"],
            "address": "柳州市胜利路3号",
            "category": "returnee",
            "country": "VN",
            "return_year": 1978,
            "employment_status": "retired",
            "hardship": ["minimum_living", "living_alone"],
            "tags": ["党员", "志愿者"],
        },
        {
            "name": "李秀英",
            "gender": "female",
            "birth_date": date(1952, 11, 20),
            "id_number": "45020319521120002X",
            "phone": ["13977201234"],
            "address": "柳州市柳南区航鹰大道12号",
            "category": "relative",
            "relation": "spouse",
            "country": "ID",
            "return_year": 1979,
            "employment_status": "laid_off",
            "hardship": ["hardship_family", "chronic_illness"],
            "notes": "丈夫已故",
        },
        {
            "name": "王建国",
            "gender": "male",
            "birth_date": date(1950, 12, 1),
            "phone": ["13507720000", "13607720000"],
            "category": "relative",
            "relation": "other",
            "relation_note": "侄子",
            "country": "MY",
            "return_year": 1980,
            "employment_status": "employed",
        },
        {
            "gender": "female",
            "birth_date": date(1962, 7, 1),
            "id_number": "450203196207010021",
            "category": "returnee",
            "return_year": 1965,
        },
        {
            "name": "陈明",
            "id_number": "450203195502300011",
            "phone": ["07722811235"],
            "address": "胜利路 5 号",
            "category": "returnee",
            "country": "TH",
            "employment_status": "retired",
        },
        {
            "name": "赵丽",
            "gender": "female",
            "birth_date": date(1958, 8, 9),
            "id_number": "450203194805031234",
            "category": "relative",
            "relation": "child",
            "country": "SG",
            "return_year": 1990,
            "employment_status": "unemployed",
            "notes": "低保户待核实",
        },
        {
            "name": "刘芳",
            "gender": "female",
            "birth_date": date(1960, 3, 15),
            "id_number": "45020319600315002X",
            "phone": ["13807720012"],
            "category": "returnee",
            "country": "MM",
            "return_year": 2004,
            "hardship": ["disabled"],
            "tags": ["楼长"],
        },
    ]
    assert [short(row.problems) for row in rows] == [
        [],
        [],
        [problem(9, "E", "公民身份号码", "id_number", "id_number_mangled")],
        [
            problem(10, "B", "姓名", "name", "required"),
            problem(10, "J", "侨居国", "country", "unknown_country"),
            problem(10, "M", "困难类型", "hardship", "unknown_value"),
        ],
        [
            problem(11, "C", "性别", "gender", "unknown_value"),
            problem(11, "D", "出生日期", "birth_date", "invalid_date"),
            problem(11, "K", "回国年份", "return_year", "invalid_year"),
        ],
        [problem(13, "E", "公民身份号码", "id_number", "duplicate_id_number")],
        [],
    ]
    assert [row.ok for row in rows] == [True, True, False, False, False, False, True]
    assert rows[3].problems[2].message == "无法识别的困难类型：失明"
    assert rows[5].problems[0].message == "与第 5 行的身份证号重复"


def test_reading_the_same_file_again_gives_the_same_rows(roster) -> None:
    assert list(read_rows(io.BytesIO(roster))) == list(read_rows(io.BytesIO(roster)))


def test_the_dry_run_reports_every_problem_in_sheet_order(roster) -> None:
    report = dry_run(io.BytesIO(roster))
    assert (report.rows, report.valid_rows, report.ok) == (7, 3, False)
    assert [(p.row, p.column_letter, p.code) for p in report.problems] == [
        (3, "N", "unknown_header"),
        (9, "E", "id_number_mangled"),
        (10, "B", "required"),
        (10, "J", "unknown_country"),
        (10, "M", "unknown_value"),
        (11, "C", "unknown_value"),
        (11, "D", "invalid_date"),
        (11, "K", "invalid_year"),
        (13, "E", "duplicate_id_number"),
    ]


def test_the_user_adjusts_the_mapping(roster) -> None:
    report = read_header(io.BytesIO(roster), {" 微信号：": IGNORE, "标签": "notes", "备注*": "tags"})
    assert report.problems == () and [c.letter for c in report.ignored] == ["A", "N"]
    assert report.mapped["notes"] == ("P",) and report.mapped["tags"] == ("O",)
    with pytest.raises(ValueError, match="not a field"):
        read_header(io.BytesIO(roster), {"微信号": "wechat"})


def sheet_bytes(*rows: list[object]) -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer


def test_a_file_that_cannot_be_imported_says_why() -> None:
    missing = sheet_bytes(["姓名", "性别", "电话"], ["张伟", "男", "13807720011"])
    report = read_header(missing)
    assert not report.ok and short(list(report.problems)) == [problem(1, None, None, "id_number", "missing_column")]
    with pytest.raises(UnimportableFile) as raised:
        list(read_rows(missing))
    assert raised.value.report == report
    assert [p.code for p in read_header(sheet_bytes(["花名册"], ["张伟", "男"])).problems] == ["no_header"]
    assert [p.code for p in read_header(io.BytesIO(b"PK\x03\x04 not really")).problems] == ["unreadable_file"]
    assert [p.code for p in read_header(missing, sheet="侨眷").problems] == ["unknown_sheet"]
    assert dry_run(io.BytesIO(b"")).header.problems[0].code == "unreadable_file"


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl warns of some of the parts it falls back on
def test_a_workbook_with_any_part_damaged_is_reported_never_raised() -> None:
    """A zip whose parts are emptied, cut short or replaced (XML that does not parse, an empty
    root, a string index out of range) still reads, when the part is not needed, or is a problem
    in the report: never an exception."""
    good = sheet_bytes(["姓名", "性别", "身份证号"], ["张伟", "男", "450203194805031130"]).getvalue()
    broken = {"empty": b"", "root": b"<a/>", "junk": b"junk", "missing string": MISSING_STRING}
    parts = zipfile.ZipFile(io.BytesIO(good)).namelist()
    for part in parts:
        original = zipfile.ZipFile(io.BytesIO(good)).read(part)
        for damage, content in {**broken, "cut short": original[: len(original) // 2]}.items():
            damaged = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
                for name in parts:
                    target.writestr(name, content if name == part else source.read(name))
            report = dry_run(damaged)  # raises nothing
            problems = report.header.problems
            assert (report.rows, bool(problems)) in {(1, False), (0, True)}, (part, damage, problems)


MISSING_STRING = b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>99</v></c></row></sheetData></worksheet>'


def test_a_header_merged_across_two_columns_maps_both_and_their_values_join() -> None:
    source = sheet_bytes(
        ["姓名", "身份证号", "电话", None, "社区"],
        ["张伟", "450203194805031234", "13807720011", "0772-2811234", "胜利社区"],
        ["李秀英", "45020319521120002X", None, "13977201234", "胜利"],
    )
    assert read_header(source).mapped["phone"] == ("C", "D")
    rows = list(read_rows(source))
    assert [row.values["phone"] for row in rows] == [["13807720011", "07722811234"], ["13977201234"]]


def test_two_columns_of_one_field_that_disagree_are_a_problem() -> None:
    source = sheet_bytes(
        ["姓名", "身份证号", "住址", "家庭住址"],
        ["张伟", "450203194805031234", "胜利路3号", "胜利路3号"],
        ["李秀英", "45020319521120002X", "胜利路3号", "航鹰大道12号"],
    )
    first, second = read_rows(source)
    assert first.ok and first.values["address"] == "胜利路3号"
    assert short(second.problems) == [problem(3, "D", "家庭住址", "address", "conflicting_values")]


DATE_FORMATS = [
    lambda d: f"{d.year}.{d.month}.{d.day}",
    lambda d: f"{d:%Y-%m-%d}",
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: f"{d:%Y%m%d}",
    lambda d: f" {d:%Y-%m-%d} 00:00:00 ",
]
FULL_WIDTH = str.maketrans("0123456789.-/", "０１２３４５６７８９．－／")


@given(
    st.dates(date(1900, 3, 1), date(2030, 12, 31)),
    st.sampled_from(DATE_FORMATS),
    st.booleans(),
)
def test_a_date_written_in_any_supported_spelling_reads_back(day, spell, full_width) -> None:
    text = spell(day)
    assert parse_date(text.translate(FULL_WIDTH) if full_width else text) == day


@given(st.dates(date(1900, 3, 1), date(2030, 12, 31)), st.floats(0, 0.99))
def test_a_date_as_excel_serial_or_date_cell_reads_back(day, time_of_day) -> None:
    serial = (day - date(1899, 12, 30)).days  # Excel counts 1900-02-29, so from March on the epoch is 12-30
    assert parse_date(serial) == day
    assert parse_date(serial + time_of_day) == day
    assert parse_date(datetime(day.year, day.month, day.day, 12)) == day


@given(st.dates(date(1900, 1, 1), date(2030, 12, 31)))
def test_a_month_without_a_day_means_its_first_day(day) -> None:
    assert parse_date(f"{day.year}年{day.month}月") == parse_date(f"{day:%Y%m}") == day.replace(day=1)


@pytest.mark.parametrize("text", ["1948", "48.5.3", "1948.2.30", "1948年13月", "昨天", "0", "1948-05-03T08:00"])
def test_what_is_not_a_date_is_a_problem(text) -> None:
    with pytest.raises(CellError) as raised:
        parse_date(text)
    assert raised.value.code == "invalid_date"


@pytest.mark.parametrize(
    ("cell", "phones"),
    [
        ("138 0772 0011", ["13807720011"]),
        ("0772-2811234、13807720011；13807720011", ["07722811234", "13807720011"]),
        ("+86 138 0772 0011", ["+8613807720011"]),
        ("2811234 2811235", ["2811234", "2811235"]),
        (13807720011.0, ["13807720011"]),
    ],
)
def test_phones_are_digits_and_a_cell_may_hold_several(cell, phones) -> None:
    assert parse_phones(cell) == phones


@pytest.mark.parametrize(
    ("cell", "outcome"),
    [
        ("４５０２０３ １９４８０５０３ １２３ｘ", "45020319480503123X"),
        ("'450203194805031234", "450203194805031234"),
        (450203480503123, "450203480503123"),
        (450203480503123.0, "450203480503123"),
        (4.50203194805031e17, "id_number_mangled"),
        ("4.50203E+17", "id_number_mangled"),
        ("45020319480503", "invalid_id_number"),
    ],
)
def test_id_numbers_are_normalised_and_mangled_ones_reported(cell, outcome) -> None:
    try:
        assert parse_id_number(cell) == outcome
    except CellError as error:
        assert error.code == outcome


def test_placeholders_are_blank_and_unknown_relations_keep_their_words() -> None:
    parsers = field_parsers(WINDOWS_EPOCH)
    for field in ("name", "gender", "birth_date", "id_number", "phone", "relation", "return_year", "hardship"):
        assert not parsers[field]("无"), field
        assert not parsers[field]("\u3000"), field
    assert parsers["relation"]("儿媳") == {"relation": "other", "relation_note": "儿媳"}
    assert parsers["relation"]("其他") == {"relation": "other"}


INJECTIONS = ["=1+1", "+8613807720011", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1", '＝HYPERLINK("x")']
COLUMNS = [("name", "姓名"), ("birth_date", "出生日期"), ("phone", "联系电话"), ("hardship", "困难类型")]
COLUMNS += [
    ("gender", "性别"),
    ("relation", "与归侨关系"),
    ("country", "侨居国"),
    ("notes", "备注"),
    ("return_year", "回国年份"),
]


def exported(rows, columns=COLUMNS) -> bytes:
    buffer = io.BytesIO()
    write_people(rows, columns, buffer)
    return buffer.getvalue()


def test_the_export_never_writes_a_formula() -> None:
    data = exported([{"name": text, "notes": text, "phone": [text, "138"]} for text in INJECTIONS])
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    for number, written in enumerate(INJECTIONS, start=2):
        text = written.replace("\r", "\n")  # XML reads a bare carriage return as a line feed
        for letter in "AH":
            cell = sheet[f"{letter}{number}"]
            assert (cell.value, cell.data_type) == ("'" + text, "s")
        assert sheet[f"C{number}"].value == "'" + text + "、138"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and "<f " not in xml


def test_the_export_writes_chinese_headers_dates_lists_and_words() -> None:
    person = {
        "name": "张伟",
        "birth_date": date(1948, 5, 3),
        "phone": ["138****0011", "0772****234"],
        "hardship": ["minimum_living", "living_alone"],
        "gender": "male",
        "relation": "other",
        "relation_note": "侄子",
        "country": "VN",
        "return_year": 1978,
        "notes": "a\x00b",
    }
    sheet = load_workbook(io.BytesIO(exported([person, {"name": "李秀英", "relation": "spouse"}]))).active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [header for _, header in COLUMNS]
    assert rows[1] == [
        "张伟",
        datetime(1948, 5, 3),
        "138****0011、0772****234",
        "低保、独居",
        "男",
        "侄子",
        "越南",
        "ab",
        1978,
    ]
    assert rows[2] == ["李秀英", None, None, None, None, "配偶", None, None, None]
    assert sheet["B2"].number_format == "yyyy-mm-dd" and sheet["A1"].font.bold


def test_an_exported_roster_imports_to_the_same_values(roster) -> None:
    valid = [row.values for row in read_rows(io.BytesIO(roster)) if row.ok]
    again = list(read_rows(io.BytesIO(exported(valid, list(FIELD_HEADERS.items())))))
    assert [row.values for row in again] == valid and all(row.ok for row in again)


def test_countries_are_read_by_their_chinese_names_and_printed_by_the_usual_one() -> None:
    assert {word: CHINESE_WORDS[word] for word in ("越南", "秘鲁", "苏里南", "印尼", "印度尼西亚", "柬埔寨")} == {
        "越南": "VN",
        "秘鲁": "PE",
        "苏里南": "SR",
        "印尼": "ID",
        "印度尼西亚": "ID",
        "柬埔寨": "KH",
    }
    assert "中国" not in CHINESE_WORDS and "CN" not in CHINESE_WORDS.values()
    assert (LABELS["country"]["KH"], LABELS["country"]["ID"]) == ("柬埔寨", "印度尼西亚")


def test_an_old_cards_15_digits_and_the_18_they_became_are_one_number() -> None:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(["姓名", "身份证号", "类别"])
    sheet.append(["陈小明", "450203194805031130", "归侨"])
    sheet.append(["陈小明", "450203480503113", "归侨"])  # the same card before 1999
    buffer = io.BytesIO()
    book.save(buffer)
    assert [(problem.row, problem.code) for problem in dry_run(buffer).problems] == [(3, "duplicate_id_number")]
