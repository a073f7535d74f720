"""并案: a merged case's originators join the surviving case, its reply is visible from the merged
case, and records links the surviving case into every originator's file."""

from collections.abc import AsyncIterator

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services

from tests.apps import Caller, own_database, serve, service_settings
from tests.cases.test_cases_api import add_departments, handler, step
from tests.infra.support import running, wait_until


async def open_case(cases: httpx.AsyncClient, headers: dict[str, str], title: str, originator: str) -> str:
    body = {"station_id": "st-1", "kind": "request", "title": title, "content": title, "originators": [originator]}
    opened = await cases.post("/v1/cases", json=body, headers=headers)
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["id"]
    return case_id


async def assigned_case(cases: httpx.AsyncClient, caller: Caller, title: str, originator: str) -> str:
    staff = caller(stations=("st-1",))
    case_id = await open_case(cases, staff, title, originator)
    assert (await step(cases, case_id, "submit", staff, 1)).status_code == 200
    assert (await step(cases, case_id, "assign", staff, 2, lead_department_id="dept-roads")).status_code == 200
    return case_id


async def test_every_originator_gets_the_reply_of_the_surviving_case(endpoints, keys, unique, caller, mongo) -> None:
    settings = {"broker_check_seconds": 0.5}
    cases_settings = service_settings(
        "cases", endpoints, keys, mongodb_database=f"cases_{unique}", service_name=f"cases-{unique}", **settings
    )
    records_settings = service_settings(
        "records", endpoints, keys, mongodb_database=f"records_{unique}", service_name=f"records-{unique}", **settings
    )
    first, second = f"p-{unique}-1", f"p-{unique}-2"
    people = mongo[f"records_{unique}"]["people"]
    await people.insert_many([{"_id": person, "version": 1} for person in (first, second)])
    staff, roads = caller(stations=("st-1",)), handler(caller, "dept-roads")
    async with serve("cases", cases_settings) as cases:
        await add_departments(cases, caller, "dept-roads")
        duplicate = await open_case(cases, staff, "楼道灯坏了", first)
        survivor = await assigned_case(cases, caller, "3栋楼道灯坏了", second)
        merged = await step(cases, duplicate, "merge", staff, 1, into_case_id=survivor, comment="同一楼道")
        assert merged.status_code == 200, merged.text
        assert (merged.json()["state"], merged.json()["merged_into"]) == ("merged", survivor)
        both = (await cases.get(f"/v1/cases/{survivor}", headers=staff)).json()
        assert both["originators"] == [second, first] and both["merged_from"] == [duplicate]
        assert (both["timeline"][-1]["action"], both["timeline"][-1]["data"]) == ("absorb", {"case_id": duplicate})
        assert (await step(cases, survivor, "start", roads, 4)).status_code == 200
        assert (await step(cases, survivor, "reply", roads, 5, result="A", text="已更换灯泡")).status_code == 200
        seen_from_duplicate = (await cases.get(f"/v1/cases/{duplicate}", headers=staff)).json()
        assert seen_from_duplicate["answered_by"]["id"] == survivor
        assert seen_from_duplicate["answered_by"]["reply"]["text"] == "已更换灯泡"
    outbox = [Envelope.from_bytes(d["payload"]) async for d in mongo[f"cases_{unique}"]["outbox"].find({})]
    about_survivor = [(e.type, e.data["originators"]) for e in outbox if e.subject == survivor]
    assert ("case.merged", [second, first]) in about_survivor and ("case.replied", [second, first]) in about_survivor
    assert [e.data["merged_into"] for e in outbox if e.subject == duplicate and e.type == "case.merged"] == [survivor]

    services = installed_services()
    cases_runtime = Runtime(cases_settings, services["cases"].spec)
    records_runtime = Runtime(records_settings, services["records"].spec)

    async def both_files_show_the_reply() -> bool:
        files = await people.find({}).to_list()
        links = [{(link["case_id"], link["status"]) for link in file.get("cases", [])} for file in files]
        return len(links) == 2 and all((survivor, "replied") in found for found in links)

    async with running(cases_runtime.relay()), running(records_runtime.consumer()):
        await wait_until(both_files_show_the_reply, within=60)
    first_file = await people.find_one({"_id": first})
    assert first_file is not None
    assert {(link["case_id"], link["status"]) for link in first_file["cases"]} == {
        (duplicate, "merged"),
        (survivor, "replied"),
    }
    await cases_runtime.close()
    await records_runtime.close()


@pytest.fixture
async def cases(endpoints, keys, unique, caller) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("cases", endpoints, keys, unique) as client:
        await add_departments(client, caller, "dept-roads")
        yield client


async def test_a_merge_is_refused_with_the_reason_and_changes_nothing(cases, caller) -> None:
    staff = caller(stations=("st-1",))
    duplicate = await open_case(cases, staff, "路灯", "p-1")
    survivor = await assigned_case(cases, caller, "路灯不亮", "p-2")
    refusals = [
        (caller(Role.DEPUTY, stations=("st-1",)), {"into_case_id": survivor}, 403, "illegal_transition"),
        (staff, {"into_case_id": duplicate}, 422, "same_case"),
        (staff, {"into_case_id": "c-nowhere"}, 404, "case_not_found"),
        (staff, {}, 422, "required"),
        (caller(stations=("st-2",)), {"into_case_id": survivor}, 404, "case_not_found"),
    ]
    for who, payload, status, code in refusals:
        refused = await step(cases, duplicate, "merge", who, 1, **payload)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), refused.text
    roads = handler(caller, "dept-roads")
    assert (await step(cases, survivor, "start", roads, 3)).status_code == 200
    assert (await step(cases, survivor, "reply", roads, 4, result="D", text="无法解决")).status_code == 200
    answered = await step(cases, duplicate, "merge", staff, 1, into_case_id=survivor)
    assert (answered.status_code, answered.json()["error"]["code"]) == (409, "merge_target_closed")
    after = (await cases.get(f"/v1/cases/{duplicate}", headers=staff)).json()
    assert (after["state"], after["version"], len(after["timeline"])) == ("collected", 1, 1)
    assert (await cases.get(f"/v1/cases/{survivor}", headers=staff)).json()["originators"] == ["p-2"]
