"""Hand-run throughput check of the roster import, not a test: ``uv run python -m tests.records.xlsx_throughput``.

It writes a roster of ROWS people (100,000 by default) twice, as openpyxl writes it (inline
strings, no declared size) and as Excel and WPS write it (shared strings, size declared), then
in a fresh process per file times openpyxl alone and then ``read_rows``, and prints rows/s and
peak RSS. The target is 2,000 rows/s with peak memory under 500 MB.
"""

import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path

from liaison_records.adapters.xlsx_import import read_rows
from openpyxl import Workbook, load_workbook

HEADERS = ["序号", "姓名", "性别", "出生日期", "身份证号", "联系电话", "社区", "楼栋", "家庭住址", "类别"]
HEADERS += ["与归侨关系", "侨居国", "回国年份", "就业状况", "困难类型", "标签", "备注"]
MODULE = "tests.records.xlsx_throughput"
COUNTRIES = ["越南", "印尼", "马来西亚", "新加坡", "泰国", "缅甸"]
INLINE = re.compile(
    r'<c r="([A-Z]+\d+)"((?: s="\d+")?) t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>'
)


def person(i: int) -> list[object]:
    """A varied row: text and serial dates, full-width digits, two phones, lists."""
    born = date(1930, 1, 1) + timedelta(days=i * 7 % 25000)
    birth: object = f"{born.year}.{born.month}.{born.day}" if i % 3 else born
    id_number = f"45{i // 25000 % 100:02d}03{born:%Y%m%d}{i % 1000:03d}{i % 10}"  # unique up to 2.5 million
    return [
        i + 1,
        f"张{'伟秀建丽明芳'[i % 6]}{'国英华'[i % 3]}",
        "男女"[i % 2],
        birth,
        id_number.translate(str.maketrans("0123456789", "０１２３４５６７８９")) if i % 5 == 0 else id_number,
        f"138{i:08d}／0772-28{i % 100000:05d}" if i % 4 == 0 else f"139{i:08d}",
        "胜利社区",
        f"{i % 40 + 1}栋",
        f"柳州市鱼峰区胜利路{i % 200 + 1}号",
        ["归侨", "侨眷"][i % 2],
        None if i % 2 == 0 else "子女",
        COUNTRIES[i % len(COUNTRIES)],
        1950 + i % 30,
        "退休" if i % 3 else "下岗",
        "低保、独居" if i % 10 == 0 else None,
        "党员" if i % 7 == 0 else None,
        None,
    ]


def write_roster(path: Path, rows: int) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("花名册")
    sheet.append(["胜利社区归侨侨眷花名册"])
    sheet.append(HEADERS)
    for i in range(rows):
        sheet.append(person(i))
    workbook.save(path)


def as_excel_writes_it(source: Path, target: Path, rows: int) -> None:
    """The same workbook with shared strings and a declared size, as Excel and WPS save it."""
    strings: dict[str, int] = {}

    def shared(match: re.Match[str]) -> str:
        index = strings.setdefault(match[3], len(strings))
        return f'<c r="{match[1]}"{match[2]} t="s"><v>{index}</v></c>'

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename).decode()
            if item.filename == "xl/worksheets/sheet1.xml":
                data = INLINE.sub(shared, data).replace("<sheetData>", f'<dimension ref="A1:Q{rows + 2}"/><sheetData>')
            elif item.filename == "[Content_Types].xml":
                part = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
                data = data.replace(
                    "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{part}"/></Types>'
                )
            elif item.filename == "xl/_rels/workbook.xml.rels":
                kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
                data = data.replace(
                    "</Relationships>",
                    f'<Relationship Id="rIdS" Type="{kind}" Target="sharedStrings.xml"/></Relationships>',
                )
            new.writestr(item.filename, data)
        items = "".join(f"<si><t>{text}</t></si>" for text in strings)
        main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        new.writestr("xl/sharedStrings.xml", f'<sst xmlns="{main}" uniqueCount="{len(strings)}">{items}</sst>')


def measure(path: Path) -> None:
    """Run in a fresh process: openpyxl alone, then read_rows, each timed; then the peak RSS."""
    started, cpu = time.perf_counter(), time.process_time()
    workbook = load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    report("openpyxl alone", count, time.perf_counter() - started, time.process_time() - cpu)
    started, cpu = time.perf_counter(), time.process_time()
    rows = problems = 0
    for row in read_rows(path):
        rows += 1
        problems += len(row.problems)
    report(f"read_rows ({problems} problems)", rows, time.perf_counter() - started, time.process_time() - cpu)
    print(f"  peak RSS {peak_rss_mb():.0f} MB", flush=True)


def peak_rss_mb() -> float:
    """VmHWM, this process's own peak: ru_maxrss would keep the parent's peak across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(what: str, rows: int, wall: float, cpu: float) -> None:
    print(
        f"  {what}: {rows} rows in {wall:.1f} s wall / {cpu:.1f} s CPU = {rows / wall:,.0f} rows/s wall, "
        f"{rows / cpu:,.0f} rows/s CPU",
        flush=True,
    )


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="liaison-xlsx-") as folder:
        openpyxl_file, excel_file = Path(folder, "openpyxl.xlsx"), Path(folder, "excel.xlsx")
        write_roster(openpyxl_file, rows)
        as_excel_writes_it(openpyxl_file, excel_file, rows)
        for path in (excel_file, openpyxl_file):
            print(f"{path.stem}-style file, {path.stat().st_size / 1e6:.1f} MB:", flush=True)
            subprocess.run([sys.executable, "-m", MODULE, "--measure", str(path)], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
