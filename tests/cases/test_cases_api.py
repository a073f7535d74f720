"""Cases through the API and from records' events, against the real servers."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime

from tests.apps import Caller, add_station, own_database, serve
from tests.cases.runtimes import records_and_cases
from tests.infra.support import forget_relay_position, running, wait_until


@pytest.fixture
async def cases(endpoints, keys, unique) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("cases", endpoints, keys, unique) as client:
        yield client


def handler(caller: Caller, department: str) -> dict[str, str]:
    return caller(Role.DEPARTMENT_HANDLER, subject=f"h-{department}", department=department)


async def step(cases, case_id: str, action: str, headers, version: int, **payload) -> httpx.Response:
    return await cases.post(
        f"/v1/cases/{case_id}/{action}", json=payload, headers={**headers, "If-Match": f'"{version}"'}
    )


async def add_departments(cases, caller: Caller, *ids: str) -> None:
    for department_id in ids:
        body = {"id": department_id, "name": department_id, "contacts": [{"name": "王科长", "phone": "0772-1234567"}]}
        saved = await cases.put(f"/v1/departments/{department_id}", json=body, headers=caller(Role.ADMIN))
        assert saved.status_code == 200, saved.text


async def test_a_case_goes_from_collected_to_closed_and_every_step_is_kept(cases, caller) -> None:
    staff = caller(stations=("st-1",))
    await add_departments(cases, caller, "dept-roads")
    opened = await cases.post(
        "/v1/cases",
        json={
            "station_id": "st-1",
            "kind": "request",
            "title": "楼道灯坏了",
            "content": "3栋2单元楼道灯坏了两周",
            "originators": ["p-1"],
        },
        headers=staff,
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    roads = handler(caller, "dept-roads")
    assert (await step(cases, case_id, "submit", staff, 1)).status_code == 200
    unknown = await step(cases, case_id, "assign", staff, 2, lead_department_id="dept-nowhere")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_department"
    assigned = await step(cases, case_id, "assign", staff, 2, lead_department_id="dept-roads")
    assert assigned.json()["state"] == "assigned" and assigned.json()["due"]
    assert assigned.json()["supervision"]["colour"] == "green"
    wrong = await step(cases, case_id, "close", staff, 3)
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "illegal_transition"
    outsider = await step(cases, case_id, "start", handler(caller, "dept-health"), 3)
    assert outsider.status_code == 404  # not their department's case
    assert (await step(cases, case_id, "start", roads, 3)).status_code == 200
    bad = await step(cases, case_id, "reply", roads, 4, result="Z", text="done")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "result"
    assert (await step(cases, case_id, "reply", roads, 4, result="A", text="已修复")).status_code == 200
    stale = await step(cases, case_id, "rate", staff, 4, satisfaction="satisfied")
    assert stale.status_code == 412
    assert (await step(cases, case_id, "rate", staff, 5, satisfaction="satisfied")).status_code == 200
    closed = await step(cases, case_id, "close", staff, 6)
    assert closed.json()["state"] == "closed" and closed.headers["ETag"] == '"7"'
    timeline = (await cases.get(f"/v1/cases/{case_id}/timeline", headers=staff)).json()
    assert [s["action"] for s in timeline] == ["collect", "submit", "assign", "start", "reply", "rate", "close"]
    assert [s["by"] for s in timeline][-3:] == ["h-dept-roads", "staff-1", "staff-1"]
    other_station = caller(stations=("st-2",))
    assert (await cases.get(f"/v1/cases/{case_id}", headers=other_station)).status_code == 404
    assert [c["id"] for c in (await cases.get("/v1/cases", headers=roads)).json()["items"]] == [case_id]


async def test_each_opinion_raised_on_a_visit_becomes_exactly_one_case(endpoints, keys, unique, caller, mongo) -> None:
    """records logs a visit → relay → Kafka → cases consumer → one case per opinion, even when replayed.

    The consumer reads the visit topic from its start, where other tests' visits are too: everything
    here is counted within this test's own station.
    """
    station = f"st-{unique}"
    records_settings, _, records_runtime, cases_runtime = records_and_cases(endpoints, keys, unique)
    admin, staff = caller(Role.ADMIN), caller(stations=(station,))
    async with serve("records", records_settings) as records:
        await add_station(records, admin, station)
        deputy = (
            await records.post(
                "/v1/deputies", json={"name": "李华", "level": "district", "station_ids": [station]}, headers=staff
            )
        ).json()["id"]
        returnee = {"station_id": station, "category": "returnee", "name": "陈小明"}
        person = (await records.post("/v1/people", json=returnee, headers=staff)).json()["id"]
        visit = {
            "station_id": station,
            "kind": "household_visit",
            "visited_on": datetime.now(UTC).date().isoformat(),
            "deputy_ids": [deputy],
            "opinions": [
                {"kind": "request", "text": "楼道灯坏了", "person_id": person},
                {"kind": "suggestion", "text": "多办侨法讲座"},
            ],
        }
        logged = await records.post("/v1/visits", json=visit, headers={**staff, "X-Correlation-ID": f"corr-{unique}"})
        visit_id = logged.json()["id"]
    cases_db = mongo[f"cases_{unique}"]

    async def two_cases() -> bool:
        return await cases_db["cases"].count_documents({"station_id": station}) == 2

    async def linked_in_the_file() -> bool:
        file = await mongo[f"records_{unique}"]["people"].find_one({"_id": person})
        return bool(file and file.get("cases"))

    async with (
        running(records_runtime.consumer()),
        running(cases_runtime.relay()),
        running(cases_runtime.consumer()),
    ):
        async with running(records_runtime.relay()):
            await wait_until(two_cases, within=60)
            await wait_until(linked_in_the_file, within=60)
        # Replay everything records ever published: still two cases.
        await forget_relay_position(records_runtime)
        async with running(records_runtime.relay()):
            await wait_until(lambda: _duplicates_seen(cases_runtime), within=60)
    stored = await cases_db["cases"].find({"station_id": station}).sort("_id", 1).to_list()
    assert [c["_id"] for c in stored] == [f"c-{visit_id}-1", f"c-{visit_id}-2"]
    assert [c["kind"] for c in stored] == ["request", "suggestion"] and stored[0]["state"] == "collected"
    assert stored[0]["origin"] == {"source": "visit", "ref_id": visit_id, "opinion_id": f"{visit_id}-1"}
    published = [Envelope.from_bytes(d["payload"]) async for d in cases_db["outbox"].find({})]
    opened = [envelope for envelope in published if envelope.station_id == station]
    assert sorted(e.type for e in opened) == ["case.opened", "case.opened"]
    # The correlation id of the HTTP request follows it through every event it caused.
    assert {e.correlationid for e in opened} == {f"corr-{unique}"}
    file = await mongo[f"records_{unique}"]["people"].find_one({"_id": person})
    assert [(link["case_id"], link["status"], link["title"]) for link in file["cases"]] == [
        (f"c-{visit_id}-1", "collected", "楼道灯坏了")
    ]
    # Erasing the person takes them out of the case; the case and its count stay.
    async with serve("records", records_settings) as records:
        assert (await records.post(f"/v1/people/{person}/erase", headers=staff)).status_code == 200

    async def dropped_from_the_case() -> bool:
        case = await cases_db["cases"].find_one({"_id": f"c-{visit_id}-1"})
        return bool(case and case["originators"] == [] and case["erased_originators"] == 1)

    async with running(records_runtime.relay()), running(cases_runtime.consumer()):
        await wait_until(dropped_from_the_case, within=60)
    await records_runtime.close()
    await cases_runtime.close()


async def _duplicates_seen(runtime: Runtime) -> bool:
    return runtime.metrics.consumer_duplicates._value.get() >= 1


async def test_loading_an_official_schedule_recomputes_open_deadlines(cases, caller) -> None:
    staff, admin = caller(stations=("st-1",)), caller(Role.ADMIN)
    await add_departments(cases, caller, "dept-roads")
    body = {"station_id": "st-1", "kind": "request", "title": "路灯", "content": "路灯坏了"}
    case_id = (await cases.post("/v1/cases", json=body, headers=staff)).json()["id"]
    await step(cases, case_id, "submit", staff, 1)
    assigned = (await step(cases, case_id, "assign", staff, 2, lead_department_id="dept-roads")).json()
    if not assigned["due_provisional"]:
        pytest.skip("the deadline falls in a year the calendar library already knows")
    due = assigned["due"]
    schedule = {"holidays": [due], "workdays": [], "source": "test fixture, not an official notice"}
    refused = await cases.put(f"/v1/calendar/{due[:4]}", json=schedule, headers=staff)
    assert refused.status_code == 403
    bad = await cases.put(f"/v1/calendar/{due[:4]}", json={**schedule, "holidays": ["2027-02-30"]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_schedule"
    loaded = await cases.put(f"/v1/calendar/{due[:4]}", json=schedule, headers=admin)
    assert loaded.json()["deadlines_changed"] == 1
    after = (await cases.get(f"/v1/cases/{case_id}", headers=staff)).json()
    assert after["due"] > due and after["due_provisional"] is False
    last = after["timeline"][-1]
    assert last["action"] == "recompute_deadline"
    assert last["data"] == {"before": due, "after": after["due"], "co_handlers": {}}
    assert len((await cases.get("/v1/categories", headers=staff)).json()) == 9
    listed = (await cases.get("/v1/departments", headers=staff)).json()
    assert [(d["id"], d["contacts"][0]["name"]) for d in listed] == [("dept-roads", "王科长")]
