"""Error paths of the records API: each refusal answers with its status, its code and the field it
names, and leaves what is stored as it was."""

import io
import zipfile
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime
from liaison_records.adapters.xlsx_import import BLOCK
from liaison_records.bootstrap import SPEC

from tests.apps import consume, service_settings
from tests.records.people_data import CHEN, chen, id_number, lin
from tests.records.test_households_and_logs import make_deputy, outbox
from tests.records.test_imports import roster, upload

STAFF = ("st-shengli",)
BOTH = ("st-shengli", "st-other")


async def stored(mongo, unique, *collections: str) -> dict[str, list[dict[str, Any]]]:
    """The collections as stored, for a before-and-after comparison around a refused write."""
    db = mongo[f"records_{unique}"]
    return {name: await db[name].find({}).sort("_id").to_list() for name in collections}


async def new_household(records, headers, *members: tuple[str, str]) -> str:
    body = {
        "station_id": "st-shengli",
        "members": [{"person_id": person, "relation_to_head": relation} for person, relation in members],
    }
    created = await records.post("/v1/households", json=body, headers=headers)
    assert created.status_code == 201, created.text
    household_id: str = created.json()["id"]
    return household_id


async def test_replacing_a_household_links_who_joins_unlinks_who_leaves_and_needs_the_current_version(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=STAFF)
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    spouse = (await records.post("/v1/people", json=lin(), headers=headers)).json()["id"]
    son = lin(name="陈志强", relation="child", id_number=id_number("450203", "19800101", "135"), phones=[])
    child = (await records.post("/v1/people", json=son, headers=headers)).json()["id"]
    household = await new_household(records, headers, (head, "self"), (spouse, "spouse"))
    deputy = await make_deputy(records, caller, "李华")
    url = f"/v1/households/{household}"
    assigned = await records.put(f"{url}/deputy", json={"deputy_id": deputy}, headers={**headers, "If-Match": '"1"'})
    assert assigned.status_code == 200 and assigned.headers["ETag"] == '"2"', assigned.text
    replacement = {
        "members": [{"person_id": head, "relation_to_head": "self"}, {"person_id": child, "relation_to_head": "child"}]
    }
    before = await stored(mongo, unique, "people", "households", "history", "outbox")

    stale = await records.put(url, json=replacement, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.json()["error"]["code"] == "stale_version" and stale.json()["error"]["current_version"] == 2
    missing = await records.put(url, json=replacement, headers=headers)
    assert missing.status_code == 428, missing.text
    assert missing.json()["error"]["code"] == "if_match_required" and missing.json()["error"]["field"] == "If-Match"
    assert await stored(mongo, unique, "people", "households", "history", "outbox") == before, "nothing changed"

    replaced = await records.put(url, json=replacement, headers={**headers, "If-Match": '"2"'})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["ETag"] == '"3"' and replaced.json()["head_person_id"] == head
    joined = (await records.get(f"/v1/people/{child}", headers=headers)).json()
    assert (joined["household_id"], joined["deputy_id"]) == (household, deputy)
    left = (await records.get(f"/v1/people/{spouse}", headers=headers)).json()
    assert (left["household_id"], left["deputy_id"]) == (None, None)
    stayed = (await records.get(f"/v1/people/{head}", headers=headers)).json()
    assert (stayed["household_id"], stayed["deputy_id"]) == (household, deputy)
    history = (await records.get(f"/v1/people/{spouse}/history", headers=headers)).json()
    assert ("household_id", household, None) in [(h["field"], h["before"], h["after"]) for h in history]
    found = (await records.get("/v1/people", params={"household_id": household}, headers=headers)).json()["items"]
    assert sorted(p["id"] for p in found) == sorted([head, child])
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "household.changed" and [m["person_id"] for m in event.data["members"]] == [head, child]


async def test_merging_refuses_the_same_file_different_id_numbers_and_different_households(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=STAFF)
    again = {"allow_duplicates": "true"}
    keep = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    other_number = id_number("450203", "19480503", "135")  # same name and birth date, another person
    namesake = await records.post("/v1/people", params=again, json=chen(id_number=other_number), headers=headers)
    assert namesake.status_code == 201, namesake.text
    unnumbered = await records.post("/v1/people", params=again, json=chen(id_number=None, phones=[]), headers=headers)
    assert unnumbered.status_code == 201, unnumbered.text
    await new_household(records, headers, (keep, "self"))
    await new_household(records, headers, (unnumbered.json()["id"], "self"))
    current = (await records.get(f"/v1/people/{keep}", headers=headers)).headers["ETag"]
    before = await stored(mongo, unique, "people", "households", "history", "outbox")

    for duplicate, status, code, field in (
        (keep, 422, "same_person", "duplicate_id"),
        (namesake.json()["id"], 409, "different_id_numbers", "duplicate_id"),
        (unnumbered.json()["id"], 409, "different_households", "duplicate_id"),
    ):
        refused = await records.post(
            f"/v1/people/{keep}/merge", json={"duplicate_id": duplicate}, headers={**headers, "If-Match": current}
        )
        assert refused.status_code == status, (code, refused.text)
        assert refused.json()["error"]["code"] == code, refused.text
        if field is not None:
            assert refused.json()["error"]["field"] == field, refused.text

    assert await stored(mongo, unique, "people", "households", "history", "outbox") == before, "nothing changed"
    for person in (keep, namesake.json()["id"], unnumbered.json()["id"]):
        shown = (await records.get(f"/v1/people/{person}", headers=headers)).json()
        assert shown["status"] == "active" and shown.get("merged_into") is None


async def test_a_household_goes_only_to_a_deputy_serving_its_station(records, caller, station, mongo, unique) -> None:
    headers, both = caller(stations=STAFF), caller(stations=BOTH)
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    household = await new_household(records, headers, (head, "self"))
    serving = await make_deputy(records, caller, "李华")
    elsewhere_body = {"name": "王芳", "level": "district", "station_ids": ["st-other"], "mobile": "13877210001"}
    registered = await records.post("/v1/deputies", json=elsewhere_body, headers=both)
    assert registered.status_code == 201, registered.text
    elsewhere = registered.json()["id"]
    url = f"/v1/households/{household}/deputy"

    before = await stored(mongo, unique, "people", "households", "history", "outbox")
    for deputy in (elsewhere, "dep-nowhere"):
        refused = await records.put(url, json={"deputy_id": deputy}, headers={**both, "If-Match": '"1"'})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert (error["code"], error["field"]) == ("deputy_not_serving", "deputy_id"), error
    assert await stored(mongo, unique, "people", "households", "history", "outbox") == before, "nothing changed"

    assigned = await records.put(url, json={"deputy_id": serving}, headers={**headers, "If-Match": '"1"'})
    assert assigned.status_code == 200, assigned.text
    before = await stored(mongo, unique, "people", "households", "history", "outbox", "audit")
    handover = {"to_deputy_id": elsewhere, "reason": "换届"}
    refused = await records.post(f"/v1/deputies/{serving}/handover", json=handover, headers=both)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("deputy_not_serving", "to_deputy_id"), error
    assert await stored(mongo, unique, "people", "households", "history", "outbox", "audit") == before
    shown = (await records.get(f"/v1/households/{household}", headers=headers)).json()
    assert shown["deputy_id"] == serving
    assert (await records.get(f"/v1/people/{head}", headers=headers)).json()["deputy_id"] == serving


def case_event(kind: str, case_id: str, state: str, title: str, originators: list[str]) -> Envelope:
    return Envelope(
        source="cases",
        type=kind,
        subject=case_id,
        time=datetime.now(UTC),
        dataschema=f"urn:liaison:{kind}:v1",
        station_id="st-shengli",
        district_id="d-yufeng",
        correlationid=uuid4().hex,
        data={"case_id": case_id, "state": state, "title": title, "originators": originators},
    )


async def test_a_later_event_of_a_case_updates_the_files_link_instead_of_adding_one(
    records, caller, station, endpoints, keys, unique
) -> None:
    headers = caller(stations=STAFF)
    person = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    runtime = Runtime(service_settings("records", endpoints, keys, mongodb_database=f"records_{unique}"), SPEC)
    try:
        await consume(runtime, case_event("case.opened", "c-1", "open", "楼道灯坏了", [person]))
        await consume(runtime, case_event("case.opened", "c-2", "open", "医保报销难", [person]))
        await consume(
            runtime, case_event("case.status_changed", "c-1", "in_progress", "楼道灯坏了（已派单）", [person])
        )
    finally:
        await runtime.close()

    read = await records.get(f"/v1/people/{person}", headers=headers)
    assert read.status_code == 200, read.text
    links = {link["case_id"]: (link["status"], link["title"]) for link in read.json()["cases"]}
    assert len(read.json()["cases"]) == 2, read.json()["cases"]
    assert links == {"c-1": ("in_progress", "楼道灯坏了（已派单）"), "c-2": ("open", "医保报销难")}
    assert read.headers["ETag"] == '"4"', "each link changed bumps the file's version"


async def test_looking_up_an_id_number_with_a_wrong_check_digit_is_a_422_naming_it(records, caller, station) -> None:
    headers = caller(stations=STAFF)
    assert (await records.post("/v1/people", json=chen(), headers=headers)).status_code == 201
    mistyped = CHEN[:-1] + ("0" if CHEN[-1] != "0" else "1")
    response = await records.get("/v1/people/lookup", params={"id_number": mistyped}, headers=headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("id_number_check_digit", "id_number"), error
    assert mistyped not in response.text, "the number looked up is not echoed back"


async def test_another_districts_supervisor_sees_nothing_of_this_station(records, caller, station) -> None:
    headers = caller(stations=STAFF)
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    household = await new_household(records, headers, (head, "self"))
    deputy = await make_deputy(records, caller, "李华")
    today = datetime.now(UTC).date().isoformat()
    visit = {
        "station_id": "st-shengli",
        "kind": "household_visit",
        "visited_on": today,
        "deputy_ids": [deputy],
        "household_ids": [household],
    }
    assert (await records.post("/v1/visits", json=visit, headers=headers)).status_code == 201
    own = caller(Role.DISTRICT_SUPERVISOR, districts=("d-yufeng",), subject="sup-yufeng")
    stranger = caller(Role.DISTRICT_SUPERVISOR, districts=("d-elsewhere",), subject="sup-elsewhere")

    reads = [
        (f"/v1/people/{head}", "person_not_found"),
        (f"/v1/people/{head}/history", "person_not_found"),
        (f"/v1/households/{household}", "household_not_found"),
        (f"/v1/deputies/{deputy}", "deputy_not_found"),
    ]
    for path, code in reads:
        assert (await records.get(path, headers=own)).status_code == 200, path  # the supervisor of its district
        hidden = await records.get(path, headers=stranger)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == code, (path, hidden.text)

    lists = [
        ("/v1/people", {}),
        ("/v1/people", {"station_id": "st-shengli"}),
        ("/v1/people/lookup", {"id_number": CHEN}),
        ("/v1/people/lookup", {"phone": "13877212345"}),
        ("/v1/households", {}),
        ("/v1/households", {"station_id": "st-shengli"}),
        ("/v1/deputies", {}),
        ("/v1/deputies", {"station_id": "st-shengli"}),
        ("/v1/visits", {}),
        ("/v1/visits", {"household_id": household}),
    ]
    for path, params in lists:
        seen = (await records.get(path, params=params, headers=own)).json()
        assert (seen["items"] if isinstance(seen, dict) else seen) != [], (path, params)
        listed = await records.get(path, params=params, headers=stranger)
        assert listed.status_code == 200, (path, listed.text)
        items = listed.json()["items"] if isinstance(listed.json(), dict) else listed.json()
        assert items == [], (path, params, items)


async def test_a_station_outside_the_callers_scope_is_not_found(records, caller, station) -> None:
    path = "/v1/stations/st-shengli"
    for allowed in (
        caller(Role.ADMIN),
        caller(stations=STAFF),
        caller(Role.DISTRICT_SUPERVISOR, districts=("d-yufeng",)),
    ):
        shown = await records.get(path, headers=allowed)
        assert shown.status_code == 200 and shown.json()["id"] == "st-shengli", shown.text
    missing = await records.get("/v1/stations/st-nowhere", headers=caller(Role.ADMIN))
    assert missing.status_code == 404, missing.text
    for outsider in (
        caller(stations=("st-other",)),
        caller(Role.DISTRICT_SUPERVISOR, districts=("d-elsewhere",)),
    ):
        hidden = await records.get(path, headers=outsider)
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["error"]["code"] == missing.json()["error"]["code"], "as if it did not exist"
        assert "胜利" not in hidden.text


async def test_a_name_of_punctuation_alone_is_refused_where_a_name_is_given(records, caller, station, mongo, unique):
    """A stray "?" or "-" is nobody's name: a 422 naming the field, and in an import a problem of
    its row (the commit stores the others), never a 500."""
    headers = caller(stations=STAFF)
    person = (await records.post("/v1/people", json=chen(), headers=headers)).json()
    before = await stored(mongo, unique, "people", "history")
    for name in (":", "-", "·", "\u001b"):
        registered = await records.post("/v1/people", json=lin(name=name), headers=headers)
        renamed = await records.patch(
            f"/v1/people/{person['id']}", json={"name": name}, headers={**headers, "If-Match": '"1"'}
        )
        for response in (registered, renamed):
            assert response.status_code == 422 and response.json()["error"]["field"] == "name", (name, response.text)
    assert await stored(mongo, unique, "people", "history") == before

    good = ("林美华", "女", "1952-08-17", id_number("450203", "19520817", "246"), "", "印尼", "侨眷", "下岗")
    uploaded = (await upload(records, caller, roster([("?", *good[1:3], CHEN, *good[4:]), good]))).json()
    assert [(p["row"], p["field"]) for p in uploaded["report"]["problems"]] == [(3, "name")]
    committed = await records.post(f"/v1/imports/{uploaded['id']}/commit", json={"mode": "valid_rows"}, headers=headers)
    assert committed.status_code == 200 and committed.json()["progress"]["created"] == 1, committed.text


async def test_a_log_dated_before_liaison_stations_existed_is_refused(records, caller, station) -> None:
    """Such a day is a typo; notify's festival calendar could not place it either."""
    headers = caller(stations=STAFF)
    deputy = await make_deputy(records, caller, "李华")
    person = (await records.post("/v1/people", json=chen(), headers=headers)).json()
    common = {"station_id": "st-shengli", "deputy_ids": [deputy]}
    visit = {**common, "kind": "household_visit", "person_ids": [person["id"]], "visited_on": "1800-01-01"}
    activity = {**common, "kind": "lecture", "title": "侨法宣讲", "attendees": 1, "held_on": "1999-12-31"}
    for path, body, field in (("/v1/visits", visit, "visited_on"), ("/v1/activities", activity, "held_on")):
        response = await records.post(path, json=body, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
        assert (await records.get(path, headers=headers)).json() == []
    assert (
        await records.post("/v1/activities", json={**activity, "held_on": "2000-01-01"}, headers=headers)
    ).status_code == 201


async def test_a_log_whose_opinions_together_the_bus_could_not_carry_is_refused(records, caller, station) -> None:
    """200 opinions of 2,000 characters each made an event over the bus's limit: 60,000 in all."""
    headers = caller(stations=STAFF)
    person = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    opinion = {"kind": "suggestion", "text": "𠀀" * 2000, "person_id": person}
    activity = {
        "station_id": "st-shengli",
        "kind": "lecture",
        "title": "侨法宣讲",
        "attendees": 40,
        "held_on": "2026-11-01",
    }
    over = await records.post("/v1/activities", json={**activity, "opinions": [opinion] * 31}, headers=headers)
    assert over.status_code == 422 and over.json()["error"]["field"] == "opinions", over.text
    assert (await records.get("/v1/activities", headers=headers)).json() == []
    held = await records.post("/v1/activities", json={**activity, "opinions": [opinion] * 30}, headers=headers)
    assert held.status_code == 201, held.text


async def test_a_body_that_is_not_json_is_refused_in_the_one_error_shape(records, caller, station) -> None:
    headers = {**caller(stations=STAFF), "Content-Type": "application/json"}
    for body in (b"{not json", b"\xff\xfe\x00", b""):
        response = await records.post("/v1/people", content=body, headers=headers)
        assert response.status_code in (400, 422) and set(response.json()) == {"error"}, (body, response.text)
        assert response.json()["error"]["code"] in ("bad_request", "invalid_request"), response.text
        assert response.json()["error"]["field"] is None, "the body as a whole, not a field"
    assert (await records.get("/v1/people", headers=headers)).json()["items"] == []


async def test_only_an_open_file_joins_a_household_and_a_member_who_died_may_stay(
    records, caller, station, mongo, unique
):
    headers = caller(stations=STAFF)
    again = {"allow_duplicates": "true"}
    keep = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    merged = (
        await records.post("/v1/people", params=again, json=chen(id_number=None, phones=[]), headers=headers)
    ).json()["id"]
    merging = await records.post(
        f"/v1/people/{keep}/merge", json={"duplicate_id": merged}, headers={**headers, "If-Match": '"1"'}
    )
    assert merging.status_code == 200, merging.text
    spouse = (await records.post("/v1/people", json=lin(), headers=headers)).json()["id"]
    before = await stored(mongo, unique, "people", "households")
    body = {"station_id": "st-shengli", "members": [{"person_id": merged, "relation_to_head": "self"}]}
    refused = await records.post("/v1/households", json=body, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "closed_file", refused.text
    assert await stored(mongo, unique, "people", "households") == before

    household = await new_household(records, headers, (keep, "self"), (spouse, "spouse"))
    closed = await records.post(
        f"/v1/people/{keep}/close", json={"status": "deceased"}, headers={**headers, "If-Match": '"3"'}
    )
    assert closed.status_code == 200, closed.text
    members = [{"person_id": keep, "relation_to_head": "self"}, {"person_id": spouse, "relation_to_head": "spouse"}]
    kept = await records.put(
        f"/v1/households/{household}",
        json={"members": members, "notes": "户主已故"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert kept.status_code == 200, kept.text
    deputy = await make_deputy(records, caller, "李华")
    url = f"/v1/households/{household}/deputy"
    assigned = await records.put(url, json={"deputy_id": deputy}, headers={**headers, "If-Match": '"2"'})
    assert assigned.status_code == 200, assigned.text


async def test_a_lone_surrogate_is_a_422_even_where_only_the_store_would_refuse_it(records, caller, station) -> None:
    """JSON lets a text hold half a UTF-16 pair, which no store can take; an error repeating it
    is still written (ASCII escapes)."""
    headers = {**caller(stations=STAFF), "Content-Type": "application/json"}
    registered = await records.post(
        "/v1/people", content='{"category":"returnee","name":"陈","station_id":"\\ud800"}', headers=headers
    )
    assert registered.status_code == 422 and registered.json()["error"]["code"] == "invalid_text", registered.text
    created = await records.post("/v1/people", json=chen(), headers=headers)
    patched = await records.patch(
        f"/v1/people/{created.json()['id']}",
        content='{"\\ud800": 1}',
        headers={**headers, "If-Match": created.headers["ETag"]},
    )
    assert patched.status_code == 422 and patched.json()["error"]["field"] == "\ud800", patched.text
    mapped = await records.put("/v1/imports/imp-1/mapping", content='{"a\\u0000b": "name"}', headers=headers)
    assert mapped.status_code == 422 and mapped.json()["error"]["field"] == "a\x00b.[key]", mapped.text
    assert (await records.get(f"/v1/people/{created.json()['id']}", headers=headers)).json()["version"] == 1


async def test_a_workbook_holding_what_no_spreadsheet_program_writes_is_refused_at_upload(records, caller, station):
    """This Python's XML parser takes time growing with the square of one token's length: a 413 kB
    upload holding a 400 MB comment held the API for hours. Such a file is refused before any parse."""
    plain = roster([["陈明", "男", "1950-03-01", "", "", "MY", "归侨", "退休"]])

    def with_sheet_tail(tail: bytes) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(plain)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
            for info in source.infolist():
                data = source.read(info)
                copy.writestr(info, data + tail if info.filename == "xl/worksheets/sheet1.xml" else data)
        return out.getvalue()

    for tail in (b"<!--" + b" " * 1000 + b"-->", b"<?pi ?>", b"<x" + b" " * (2 * BLOCK) + b"/>"):
        refused = await upload(records, caller, with_sheet_tail(tail))
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unreadable_file", refused.text
    taken = await upload(records, caller, plain)
    assert taken.status_code == 201 and taken.json()["report"]["rows"] == 1, taken.text
