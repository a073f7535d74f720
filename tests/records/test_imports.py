"""Importing a station's roster: dry run, mapping, all-or-nothing or valid rows, idempotent re-import."""

import asyncio
import io
import unicodedata
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_records.service_layer import import_chunks
from liaison_records.service_layer.import_chunks import CHUNK_ROWS
from openpyxl import Workbook

from tests.apps import own_database
from tests.records.people_data import chen, id_number

XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
GOOD = [
    (
        "陈小明",
        "男",
        "1948.5.3",
        id_number("450203", "19480503", "113"),
        "１３８７７２１２３４５",
        "越南",
        "归侨",
        "退休",
    ),
    ("林美华", "女", "1952年8月17日", id_number("450203", "19520817", "246"), "13977254321", "印尼", "侨眷", "下岗"),
    ("王建国", "男", "19400202", id_number("450203", "19400202", "557"), "", "泰国", "归侨", "退休"),
]
BAD_ID = ("赵丽", "女", "1958-08-09", id_number("450203", "19580809", "228")[:-1] + "0", "", "新加坡", "侨眷", "失业")


def roster(rows, phone_header: str = "联系电话") -> bytes:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(["胜利社区归侨侨眷花名册"])
    sheet.append(["序号", "姓名", "性别", "出生日期", "身份证号", phone_header, "侨居国", "类别", "就业状况"])
    for number, row in enumerate(rows, start=1):
        sheet.append([number, *row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def upload(records, caller, content: bytes, station_id: str = "st-shengli"):
    return await records.post(
        "/v1/imports",
        params={"station_id": station_id},
        content=content,
        headers={**caller(stations=(station_id,)), **XLSX},
    )


async def events(mongo, unique) -> list[Envelope]:
    people = mongo[f"records_{unique}"]["outbox"].find({"topic": "records.person.v1"})
    return [Envelope.from_bytes(d["payload"]) async for d in people]


async def test_the_dry_run_reports_problems_by_row_and_column_and_nothing_is_written(
    records, caller, station, mongo, unique
):
    response = await upload(records, caller, roster([*GOOD, BAD_ID]))
    assert response.status_code == 201, response.text
    report = response.json()["report"]
    assert (report["rows"], report["valid_rows"], report["importable"]) == (4, 3, True)
    [problem] = report["problems"]
    assert (problem["row"], problem["column_letter"], problem["field"], problem["code"]) == (
        6,
        "E",
        "id_number",
        "id_number_check_digit",
    )
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == 0
    import_id = response.json()["id"]
    refused = await records.post(
        f"/v1/imports/{import_id}/commit", json={"mode": "all_or_nothing"}, headers=caller(stations=("st-shengli",))
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rows_have_problems"
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == 0


async def test_valid_rows_are_imported_and_a_reimport_changes_nothing(records, caller, station, mongo, unique):
    headers = caller(stations=("st-shengli",))
    content = roster([*GOOD, BAD_ID])
    first = (await upload(records, caller, content)).json()["id"]
    done = await records.post(f"/v1/imports/{first}/commit", json={"mode": "valid_rows"}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["progress"] == {
        "rows_done": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "refused": 0,
        "elsewhere": 0,
        "skipped": 1,
    }
    people = (await records.get("/v1/people", params={"q": "chen"}, headers=headers)).json()["items"]
    assert [(p["name"], p["phones"], p["country"], p["employment"]) for p in people] == [
        ("陈小明", ["138****2345"], "VN", "retired")
    ]
    published = len(await events(mongo, unique))
    assert published == 3

    files = mongo[f"records_{unique}"]["import_files.files"]
    assert await files.count_documents({"filename": f"{first}.xlsx"}) == 0, "the workbook is gone once committed"
    once_more = await records.post(f"/v1/imports/{first}/commit", json={"mode": "valid_rows"}, headers=headers)
    assert once_more.status_code == 200 and once_more.json()["progress"] == done.json()["progress"]

    again = (await upload(records, caller, content)).json()["id"]
    repeat = await records.post(f"/v1/imports/{again}/commit", json={"mode": "valid_rows"}, headers=headers)
    assert repeat.json()["progress"]["unchanged"] == 3 and repeat.json()["progress"]["created"] == 0
    assert len(await events(mongo, unique)) == published

    changed_rows = [(*GOOD[0][:4], "13800000000", *GOOD[0][5:]), *GOOD[1:]]
    third = (await upload(records, caller, roster(changed_rows))).json()["id"]
    updated = await records.post(f"/v1/imports/{third}/commit", json={}, headers=headers)
    assert updated.json()["progress"]["updated"] == 1 and updated.json()["progress"]["unchanged"] == 2
    history = (await records.get(f"/v1/people/{people[0]['id']}/history", headers=headers)).json()
    assert [(h["field"], h["version"]) for h in history] == [("*", 1), ("phones", 2)]
    file = await records.get(f"/v1/people/{people[0]['id']}", headers=headers)
    assert file.headers["ETag"] == '"2"' and file.json()["phones"] == ["138****0000"]
    updates = [e.data for e in await events(mongo, unique) if e.type == "returnee.updated"]
    assert [(u["person"]["person_id"], u["changed_fields"]) for u in updates] == [(people[0]["id"], ["phones"])]


def many(count: int, employment: str) -> list[tuple[str, ...]]:
    """``count`` distinct valid rows (one a day of birth from 1940), each with the given employment."""
    births = [datetime(1940, 1, 1) + timedelta(days=day) for day in range(count)]
    return [
        (
            f"侨{day}",
            "男",
            f"{birth:%Y-%m-%d}",
            id_number("450203", f"{birth:%Y%m%d}", "113"),
            "",
            "越南",
            "归侨",
            employment,
        )
        for day, birth in enumerate(births)
    ]


async def test_an_import_of_several_chunks_stores_every_row_once_in_order(records, caller, station, mongo, unique):
    """Chunks are prepared while the one before is stored: the counts, files and events add up."""
    headers = caller(stations=("st-shengli",))
    earlier = (await upload(records, caller, roster(many(700, "退休")))).json()["id"]
    assert (await records.post(f"/v1/imports/{earlier}/commit", json={}, headers=headers)).status_code == 200
    rows = many(CHUNK_ROWS * 2 + 201, "下岗")  # the first 700 on file and changed, the rest new
    later = (await upload(records, caller, roster(rows))).json()["id"]
    done = await records.post(f"/v1/imports/{later}/commit", json={}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()["progress"] == {
        "rows_done": len(rows),
        "created": len(rows) - 700,
        "updated": 700,
        "unchanged": 0,
        "refused": 0,
        "elsewhere": 0,
        "skipped": 0,
    }
    people = mongo[f"records_{unique}"]["people"]
    assert await people.count_documents({}) == len(rows)
    assert await people.count_documents({"employment": "laid_off", "version": 2}) == 700
    published = [e.type for e in await events(mongo, unique)]
    assert (published.count("returnee.registered"), published.count("returnee.updated")) == (len(rows), 700)


async def test_a_row_its_file_refuses_is_counted_and_the_rest_is_committed(records, caller, station, mongo, unique):
    headers = caller(stations=("st-shengli",))
    relative = chen(category="relative", relation="spouse", id_number=GOOD[0][3], phones=[])
    assert (await records.post("/v1/people", json=relative, headers=headers)).status_code == 201
    uploaded = (await upload(records, caller, roster(GOOD))).json()  # 陈小明 as a returnee (归侨)
    [problem] = uploaded["report"]["problems"]  # the dry run says so before anything is written
    assert (problem["row"], problem["code"], uploaded["report"]["valid_rows"]) == (3, "invalid_value", 2)
    imported = uploaded["id"]
    whole = await records.post(f"/v1/imports/{imported}/commit", json={"mode": "all_or_nothing"}, headers=headers)
    assert whole.status_code == 409 and whole.json()["error"]["code"] == "rows_have_problems"

    done = await records.post(f"/v1/imports/{imported}/commit", json={"mode": "valid_rows"}, headers=headers)

    assert done.status_code == 200, done.text
    assert {k: done.json()["progress"][k] for k in ("created", "refused", "updated")} == {
        "created": 2,
        "refused": 1,
        "updated": 0,
    }
    kept = await mongo[f"records_{unique}"]["people"].find_one({"category": "relative", "relation": "spouse"})
    assert kept is not None and kept["version"] == 1


async def test_an_import_leaves_the_files_of_other_stations_alone(records, caller, station, mongo, unique):
    other = (await upload(records, caller, roster(GOOD[:1]), station_id="st-other")).json()["id"]
    headers_other = caller(stations=("st-other",))
    assert (await records.post(f"/v1/imports/{other}/commit", json={}, headers=headers_other)).status_code == 200
    before = await mongo[f"records_{unique}"]["people"].find_one({"station_id": "st-other"})

    changed_rows = [(*GOOD[0][:4], "13800000000", *GOOD[0][5:]), *GOOD[1:]]
    uploaded = (await upload(records, caller, roster(changed_rows))).json()
    [problem] = uploaded["report"]["problems"]
    assert (problem["row"], problem["column_letter"], problem["field"], problem["code"]) == (
        3,
        "E",
        "id_number",
        "on_file_elsewhere",
    )
    mine = uploaded["id"]
    valid_rows = {"mode": "valid_rows"}
    done = await records.post(f"/v1/imports/{mine}/commit", json=valid_rows, headers=caller(stations=("st-shengli",)))

    assert done.status_code == 200, done.text
    assert {k: done.json()["progress"][k] for k in ("created", "updated", "elsewhere")} == {
        "created": 2,
        "updated": 0,
        "elsewhere": 1,
    }
    assert await mongo[f"records_{unique}"]["people"].find_one({"_id": before["_id"]}) == before
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == 3
    # The upload's report and the commit's count told the caller of a file at a station they cannot see.
    told = mongo[f"records_{unique}"]["audit"].find({"action": "told_on_file_elsewhere"}, {"subject": 1})
    assert [entry["subject"] for entry in await told.to_list()] == [before["_id"]] * 2


async def test_all_or_nothing_holds_for_the_files_as_they_are_when_the_commit_begins(
    records, caller, station, mongo, unique
):
    """Someone registered a person of the roster at another station after its dry run: an
    all-or-nothing commit checks again, refuses with the fresh report and stores nothing."""
    headers = caller(stations=("st-shengli",))
    uploaded = (await upload(records, caller, roster(GOOD))).json()
    assert uploaded["report"]["valid_rows"] == 3
    elsewhere = chen(id_number=GOOD[1][3], name=GOOD[1][0], birth_date=None, gender=None, station_id="st-other")
    assert (await records.post("/v1/people", json=elsewhere, headers=caller(stations=("st-other",)))).status_code == 201

    url = f"/v1/imports/{uploaded['id']}/commit"
    refused = await records.post(url, json={"mode": "all_or_nothing"}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "rows_have_problems", refused.text
    report = (await records.get(f"/v1/imports/{uploaded['id']}", headers=headers)).json()["report"]
    assert report["valid_rows"] == 2 and [p["code"] for p in report["problems"]] == ["on_file_elsewhere"]
    assert await mongo[f"records_{unique}"]["people"].count_documents({"station_id": "st-shengli"}) == 0
    valid_rows = await records.post(url, json={"mode": "valid_rows"}, headers=headers)
    assert valid_rows.status_code == 200 and valid_rows.json()["progress"]["created"] == 2, valid_rows.text


async def test_an_imported_registration_is_read_from_the_file_and_a_merge_carries_it(
    records, caller, station, mongo, unique
):
    headers = caller(stations=("st-shengli",))
    imported = (await upload(records, caller, roster(GOOD[:1]))).json()["id"]
    await records.post(f"/v1/imports/{imported}/commit", json={}, headers=headers)
    assert await mongo[f"records_{unique}"]["history"].count_documents({}) == 0  # no document per new file
    [duplicate] = (await records.get("/v1/people", params={"q": "chen"}, headers=headers)).json()["items"]
    history = (await records.get(f"/v1/people/{duplicate['id']}/history", headers=headers)).json()
    assert [(h["field"], h["after"], h["version"], h["import_id"]) for h in history] == [("*", "imported", 1, imported)]
    keep = await records.post(
        "/v1/people",
        params={"allow_duplicates": "true"},
        json={"station_id": "st-shengli", "category": "returnee", "name": "陈小明"},
        headers=headers,
    )
    merged = await records.post(
        f"/v1/people/{keep.json()['id']}/merge",
        json={"duplicate_id": duplicate["id"]},
        headers={**headers, "If-Match": '"1"'},
    )
    assert merged.status_code == 200, merged.text
    kept = (await records.get(f"/v1/people/{keep.json()['id']}/history", headers=headers)).json()
    assert [(h["after"], h.get("merged_from")) for h in kept if h["field"] == "*"] == [
        ("imported", duplicate["id"]),  # in time order: the import came first
        ("registered", None),
        (f"merged from {duplicate['id']}", None),
    ]
    own = (await records.get(f"/v1/people/{duplicate['id']}/history", headers=headers)).json()
    assert [(h["after"], h["merged_from"]) for h in own] == [("imported", duplicate["id"])], "still read from it"


async def test_registering_an_imported_person_again_by_name_and_birth_date_is_a_likely_duplicate(
    records, caller, station
):
    headers = caller(stations=("st-shengli",))
    imported = (await upload(records, caller, roster(GOOD[:1]))).json()["id"]
    await records.post(f"/v1/imports/{imported}/commit", json={}, headers=headers)
    again = {"station_id": "st-shengli", "category": "returnee", "name": "陈小明", "birth_date": "1948-05-03"}
    response = await records.post("/v1/people", json=again, headers=headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "possible_duplicates"
    assert [c["name"] for c in response.json()["error"]["candidates"]] == ["陈小明"]


async def test_an_unknown_header_can_be_mapped_by_the_user(records, caller, station):
    headers = caller(stations=("st-shengli",))
    uploaded = (await upload(records, caller, roster(GOOD, phone_header="微信手机"))).json()
    columns = {c["header"]: c["field"] for c in uploaded["report"]["columns"]}
    assert columns["微信手机"] is None
    wrong = await records.put(f"/v1/imports/{uploaded['id']}/mapping", json={"微信手机": "wechat"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "unknown_field", wrong.text
    assert wrong.json()["error"]["field"] == "header_map"
    kept = (await records.get(f"/v1/imports/{uploaded['id']}", headers=headers)).json()
    assert kept["status"] == "checked" and kept["report"] == uploaded["report"]
    remapped = await records.put(f"/v1/imports/{uploaded['id']}/mapping", json={"微信手机": "phone"}, headers=headers)
    assert {c["header"]: c["field"] for c in remapped.json()["report"]["columns"]}["微信手机"] == "phone"
    await records.post(f"/v1/imports/{uploaded['id']}/commit", json={}, headers=headers)
    found = (await records.get("/v1/people/lookup", params={"phone": "13977254321"}, headers=headers)).json()
    assert [p["name"] for p in found] == ["林美华"]


async def test_a_workbook_never_committed_is_deleted_after_a_week(records, caller, station, mongo, unique):
    headers = caller(stations=("st-shengli",))
    old, half_way = [(await upload(records, caller, roster(GOOD))).json()["id"] for _ in range(2)]
    imports = mongo[f"records_{unique}"]["imports"]
    week_ago = datetime.now(UTC) - timedelta(days=8)
    await imports.update_one({"_id": old}, {"$set": {"created_at": week_ago}})
    await imports.update_one({"_id": half_way}, {"$set": {"created_at": week_ago, "status": "committing"}})
    recent = (await upload(records, caller, roster(GOOD))).json()["id"]

    files = mongo[f"records_{unique}"]["import_files.files"]
    kept = {f"{half_way}.xlsx", f"{recent}.xlsx"}  # a commit begun is kept until it is finished
    assert {f["filename"] async for f in files.find({})} == kept
    stored = b"".join([bytes(c["data"]) async for c in mongo[f"records_{unique}"]["import_files.chunks"].find({})])
    assert stored.startswith(b"v1:") and not zipfile.is_zipfile(io.BytesIO(stored)), "kept sealed, not in clear"
    expired = await records.post(f"/v1/imports/{old}/commit", json={}, headers=headers)
    assert expired.status_code == 409 and expired.json()["error"]["code"] == "upload_expired"
    shown = (await records.get(f"/v1/imports/{old}", headers=headers)).json()
    assert shown["status"] == "expired" and shown["report"]["rows"] == 3


async def test_a_file_that_is_not_a_workbook_is_a_clear_error(records, caller, station):
    response = await upload(records, caller, b"this is not a spreadsheet")
    assert response.status_code == 201
    assert response.json()["report"]["importable"] is False
    assert response.json()["report"]["problems"][0]["code"]
    empty = await upload(records, caller, b"")
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_file"


async def test_the_export_is_masked_formula_safe_and_reveal_is_audited(records, caller, station, mongo, unique):
    from openpyxl import load_workbook

    headers = caller(stations=("st-shengli",))
    uploaded = (await upload(records, caller, roster(GOOD))).json()
    await records.post(f"/v1/imports/{uploaded['id']}/commit", json={}, headers=headers)
    await records.post(
        "/v1/people",
        json={"station_id": "st-shengli", "category": "relative", "name": '=HYPERLINK("x")'},
        headers=headers,
    )
    response = await records.get("/v1/people/export", params={"station_id": "st-shengli"}, headers=headers)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    rows: list[list[Any]] = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:5] == ["姓名", "性别", "出生日期", "身份证号", "联系电话"]
    names = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("x")' in names and all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    chen = next(row for row in rows[1:] if row[0] == "陈小明")
    assert chen[3] != GOOD[0][3] and chen[3].endswith(GOOD[0][3][-2:]) and chen[4] == "138****2345"
    revealed = await records.get(
        "/v1/people/export", params={"station_id": "st-shengli", "reveal": "true"}, headers=headers
    )
    revealed_rows: list[tuple[Any, ...]] = list(load_workbook(io.BytesIO(revealed.content)).worksheets[0].values)
    chen = next(list(row) for row in revealed_rows if row[0] == "陈小明")
    assert chen[3] == GOOD[0][3] and chen[4] == "13877212345"
    audited = mongo[f"records_{unique}"]["audit"].find({"action": "export_unmasked"})
    shown = {entry["subject"] async for entry in audited}  # one entry per person shown unmasked
    on_file = mongo[f"records_{unique}"]["people"].find({"station_id": "st-shengli"}, {"_id": 1})
    assert shown == {person["_id"] async for person in on_file} and len(shown) == len(revealed_rows) - 1
    deputy = caller(Role.DEPUTY, stations=("st-shengli",))
    assert (await records.get("/v1/people/export", params={"reveal": "true"}, headers=deputy)).status_code == 403


async def test_the_ugly_roster_goes_through_the_api_end_to_end(records, caller, station) -> None:
    from tests.records.test_xlsx import FULL_WIDTH, ROWS, ugly_roster

    # The adapter's ugly roster, its made-up ID numbers given valid check characters (spelt as
    # messily as before: full-width, spaced, a lower-case x) so that its good rows import.
    def valid(spelt: str) -> str:
        body = "".join(c for c in unicodedata.normalize("NFKC", spelt) if c.isdigit())[:17]
        return id_number(body[:6], body[6:14], body[14:])

    rows = [dict(row) for row in ROWS]
    rows[0]["E"] = valid(rows[0]["E"]).translate(FULL_WIDTH)
    rows[2]["E"] = " ".join(valid(rows[2]["E"]).lower()[i : i + 4] for i in range(0, 18, 4))
    rows[9]["E"] = valid(rows[9]["E"])
    headers = caller(stations=("st-shengli",))
    uploaded = await records.post(
        "/v1/imports", params={"station_id": "st-shengli"}, content=ugly_roster(rows), headers={**headers, **XLSX}
    )
    assert uploaded.status_code == 201, uploaded.text
    report = uploaded.json()["report"]
    assert (report["importable"], report["rows"], report["valid_rows"]) == (True, 7, 3), report["problems"]
    cells = {(p["row"], p["column_letter"], p["code"]) for p in report["problems"]}
    assert {(9, "E", "id_number_mangled"), (11, "D", "invalid_date"), (10, "B", "required")} <= cells

    commit = await records.post(
        f"/v1/imports/{uploaded.json()['id']}/commit", json={"mode": "valid_rows"}, headers=headers
    )
    assert commit.status_code == 200 and commit.json()["progress"]["created"] == 3, commit.text
    found = (await records.get("/v1/people", params={"q": "zhangwei"}, headers=headers)).json()["items"]
    assert [(p["name"], p["country"], sorted(p["hardship"])) for p in found] == [
        ("张伟", "VN", ["living_alone", "minimum_living"])
    ]
    by_phone = await records.get("/v1/people/lookup", params={"phone": "0772-281 1234"}, headers=headers)
    assert [p["name"] for p in by_phone.json()] == ["张伟"]


async def test_a_districts_staff_import_for_one_of_its_stations(records, caller, station, mongo, unique):
    district = caller(districts=("d-yufeng",))
    uploaded = await records.post(
        "/v1/imports", params={"station_id": "st-shengli"}, content=roster(GOOD), headers={**district, **XLSX}
    )
    assert uploaded.status_code == 201, uploaded.text
    done = await records.post(f"/v1/imports/{uploaded.json()['id']}/commit", json={}, headers=district)
    assert done.status_code == 200 and done.json()["progress"]["created"] == 3
    assert await mongo[f"records_{unique}"]["people"].count_documents({"district_id": "d-yufeng"}) == 3


def damaged(content: bytes) -> bytes:
    """The workbook with its second data row's number cell holding text: a sheet read-only
    parsing fails on part-way down."""
    source, out = zipfile.ZipFile(io.BytesIO(content)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as copy:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'<c r="A4" t="n"><v>2</v></c>', b'<c r="A4" t="n"><v>x</v></c>')
            copy.writestr(item, data)
    return out.getvalue()


async def test_a_sheet_damaged_part_way_is_reported_not_importable(records, caller, station, mongo, unique):
    uploaded = await upload(records, caller, damaged(roster(GOOD)))
    assert uploaded.status_code == 201, uploaded.text
    report = uploaded.json()["report"]
    assert report["importable"] is False and report["problems"][-1]["code"] == "unreadable_sheet"
    commit = await records.post(
        f"/v1/imports/{uploaded.json()['id']}/commit",
        json={"mode": "valid_rows"},
        headers=caller(stations=("st-shengli",)),
    )
    assert commit.status_code == 409 and commit.json()["error"]["code"] == "not_importable"
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == 0


async def test_a_row_that_may_be_someone_on_file_is_warned_of_and_still_imported(
    records, caller, station, mongo, unique
):
    headers = caller(stations=("st-shengli",))
    no_card = chen(id_number=None, birth_date="1948-05-03", phones=[])  # 陈小明 on file without an ID number
    assert (await records.post("/v1/people", json=no_card, headers=headers)).status_code == 201

    uploaded = (await upload(records, caller, roster(GOOD))).json()

    report = uploaded["report"]
    assert [(p["row"], p["field"], p["code"], p["severity"]) for p in report["problems"]] == [
        (3, "name", "possible_duplicate", "warning")
    ]
    assert report["valid_rows"] == 3, "a warning keeps the row"
    whole = await records.post(f"/v1/imports/{uploaded['id']}/commit", json={"mode": "all_or_nothing"}, headers=headers)
    assert whole.status_code == 200 and whole.json()["progress"]["created"] == 3
    assert await mongo[f"records_{unique}"]["people"].count_documents({"name": "陈小明"}) == 2


async def test_while_an_import_commits_a_second_commit_and_a_new_mapping_are_refused(
    records, caller, station, mongo, unique, monkeypatch
):
    """A double click, or a mapping changed half-way: refused while the first commit stores."""
    headers = caller(stations=("st-shengli",))
    rows = many(CHUNK_ROWS + 1, "退休")
    import_id = (await upload(records, caller, roster(rows))).json()["id"]
    storing, go_on = asyncio.Event(), asyncio.Event()
    store = import_chunks.ChunkWrite.store

    async def held_up(chunk, *args):  # the first chunk waits until the test has asked again
        storing.set()
        await go_on.wait()
        await store(chunk, *args)

    monkeypatch.setattr(import_chunks.ChunkWrite, "store", held_up)
    url = f"/v1/imports/{import_id}"
    first = asyncio.create_task(records.post(f"{url}/commit", json={}, headers=headers))
    await storing.wait()
    try:  # without the claim the second commit would wait for its own first chunk: fail, not hang
        second = await asyncio.wait_for(records.post(f"{url}/commit", json={}, headers=headers), 10)
        remapped = await asyncio.wait_for(records.put(f"{url}/mapping", json={}, headers=headers), 10)
    finally:
        go_on.set()
    done = await first
    assert (second.status_code, second.json()["error"]["code"]) == (409, "commit_in_progress")
    assert (remapped.status_code, remapped.json()["error"]["code"]) == (409, "commit_in_progress")
    assert done.status_code == 200 and done.json()["progress"]["created"] == len(rows), done.text
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == len(rows)
    again = await records.post(f"{url}/commit", json={}, headers=headers)
    assert again.status_code == 200 and again.json()["progress"] == done.json()["progress"]


async def test_a_commit_a_stopped_process_held_goes_on_once_its_claim_lapses(records, caller, station, mongo, unique):
    headers = caller(stations=("st-shengli",))
    import_id = (await upload(records, caller, roster(GOOD))).json()["id"]
    imports = mongo[f"records_{unique}"]["imports"]
    held = {"commit_claim": "a-stopped-process", "status": "committing"}
    await imports.update_one(
        {"_id": import_id}, {"$set": {**held, "commit_claimed_until": datetime.now(UTC) + timedelta(seconds=20)}}
    )
    url = f"/v1/imports/{import_id}/commit"
    refused = await records.post(url, json={}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "commit_in_progress"
    await imports.update_one(
        {"_id": import_id}, {"$set": {"commit_claimed_until": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    done = await records.post(url, json={}, headers=headers)
    assert done.status_code == 200 and done.json()["progress"]["created"] == 3, done.text
    assert "commit_claim" not in done.json() and "commit_claim" not in await imports.find_one({"_id": import_id})


async def test_a_commit_left_half_way_is_finished_at_the_next_start_for_whoever_asked(
    records, caller, station, mongo, unique, endpoints, keys, monkeypatch
):
    """An all-or-nothing import is not left half-stored when its process stops: the next start
    finishes it, once the stopped process's claim lapses, on behalf of the staff who asked."""
    headers = caller(stations=("st-shengli",), subject="staff-7")
    rows = many(CHUNK_ROWS + 2, "退休")
    import_id = (await upload(records, caller, roster(rows))).json()["id"]
    last = chen(id_number=rows[-1][3], name=rows[-1][0])
    assert (await records.post("/v1/people", json=last, headers=headers)).status_code == 201

    async def nothing_on_file(records, aliases):  # so the second chunk collides: a commit stopped half-way
        return {}

    monkeypatch.setattr(import_chunks, "on_file_by", nothing_on_file)
    stopped = await records.post(f"/v1/imports/{import_id}/commit", json={"mode": "all_or_nothing"}, headers=headers)
    assert stopped.status_code == 409, stopped.text
    monkeypatch.undo()
    db = mongo[f"records_{unique}"]
    assert await db["people"].count_documents({}) == CHUNK_ROWS + 1, "the first chunk only"
    held = {"commit_claim": "a-stopped-process", "commit_claimed_until": datetime.now(UTC) + timedelta(seconds=1)}
    await db["imports"].update_one({"_id": import_id}, {"$set": held})

    async with own_database("records", endpoints, keys, unique):
        for _ in range(200):
            finished = await db["imports"].find_one({"_id": import_id, "status": "committed"})
            if finished:
                break
            await asyncio.sleep(0.05)
    assert finished, "the next start finished the commit"
    counted = {"created": len(rows) - 1, "unchanged": 1, "rows_done": len(rows)}
    assert finished["progress"] | counted == finished["progress"]
    assert await db["people"].count_documents({}) == len(rows)
    resumed = await db["people"].find_one({"name": rows[-2][0]})
    assert resumed["created_by"] == "staff-7", "stored for whoever asked"


async def test_a_members_hardship_changed_by_import_or_update_announces_the_household_again(
    records, caller, station, mongo, unique
):
    """Notify plans festival visits from household.changed's flags, so a change of a member's
    hardship (or birth date) is announced as the household's."""
    headers = caller(stations=("st-shengli",))
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    members = [{"person_id": head, "relation_to_head": "self"}]
    household = await records.post(
        "/v1/households", json={"station_id": "st-shengli", "members": members}, headers=headers
    )
    assert household.status_code == 201, household.text

    async def announced() -> list[dict[str, Any]]:
        found = mongo[f"records_{unique}"]["outbox"].find({"topic": "records.household.v1"}).sort("created_at", 1)
        return [Envelope.from_bytes(d["payload"]).data async for d in found]

    assert [event["hardship"] for event in await announced()] == [False]
    book = Workbook()
    book.worksheets[0].append(["姓名", "身份证号", "类别", "困难类型"])
    book.worksheets[0].append(["陈小明", chen()["id_number"], "归侨", "低保"])
    content = io.BytesIO()
    book.save(content)
    import_id = (await upload(records, caller, content.getvalue())).json()["id"]
    committed = await records.post(f"/v1/imports/{import_id}/commit", json={}, headers=headers)
    assert committed.status_code == 200 and committed.json()["progress"]["updated"] == 1, committed.text
    assert [event["hardship"] for event in await announced()] == [False, True]

    version = (await records.get(f"/v1/people/{head}", headers=headers)).headers["ETag"]
    cleared = await records.patch(f"/v1/people/{head}", json={"hardship": []}, headers={**headers, "If-Match": version})
    assert cleared.status_code == 200, cleared.text
    assert [event["hardship"] for event in await announced()] == [False, True, False]
    renamed = await records.patch(
        f"/v1/people/{head}", json={"notes": "腿脚不便"}, headers={**headers, "If-Match": cleared.headers["ETag"]}
    )
    assert renamed.status_code == 200 and len(await announced()) == 3, "nothing the household event carries changed"


async def test_a_person_registered_while_the_import_commits_is_a_conflict_and_committing_again_goes_on(
    records, caller, station, mongo, unique, monkeypatch
):
    """Registered through the API between a chunk's lookup and its write: a 409, nothing half-stored."""
    headers = caller(stations=("st-shengli",))
    import_id = (await upload(records, caller, roster(GOOD))).json()["id"]
    chen_alone = chen(id_number=GOOD[0][3], name=GOOD[0][0])
    assert (await records.post("/v1/people", json=chen_alone, headers=headers)).status_code == 201

    async def nothing_on_file(records, aliases):  # the lookup ran before the registration
        return {}

    monkeypatch.setattr(import_chunks, "on_file_by", nothing_on_file)
    url = f"/v1/imports/{import_id}/commit"
    raced = await records.post(url, json={}, headers=headers)
    assert raced.status_code == 409 and raced.json()["error"]["code"] == "concurrent_change", raced.text
    assert await mongo[f"records_{unique}"]["people"].count_documents({}) == 1
    monkeypatch.undo()
    done = await records.post(url, json={}, headers=headers)
    assert done.status_code == 200 and done.json()["progress"]["created"] == 2, done.text
