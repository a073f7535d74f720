"""How far a case may grow (comments, steps, merges) and where it may be counted and listed: a
full case refuses more and keeps what it holds; a case filled to every limit stays far below
MongoDB's 16 MB and the broker's 1 MB and still takes an extension and an official schedule; a
case counts in its station's district; an overdue cursor continues only its own list."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import bson
import httpx
import pytest
from liaison_cases.adapters.store import to_document
from liaison_cases.domain import limits
from liaison_cases.domain.announcements import announcements
from liaison_cases.domain.cases import Case, Reply, ResultCode, Step
from liaison_cases.domain.working_days import WorkingCalendar
from liaison_infra.auth import Role

from tests.apps import Caller, own_database
from tests.cases.org_events import place
from tests.cases.runtimes import cases_service
from tests.cases.seed import assigned, new_case, store
from tests.cases.test_cases_api import add_departments, handler, step

TODAY = date.today()
WIDE = "𠀀"  # four bytes in UTF-8: the widest a character is stored


@pytest.fixture
async def cases(endpoints, keys, unique, caller) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("cases", endpoints, keys, unique) as client:
        await add_departments(client, caller, "dept-roads")
        yield client


def grown(case: Case, steps: int, action: str = "comment", text: str = "再催一下") -> Case:
    """``case`` with ``steps`` more steps on its timeline, each with a comment ``text``."""
    step = Step(at=datetime.now(UTC), by="staff-1", action=action, from_state=case.state, to_state=case.state)
    more = [step.model_copy(update={"comment": text}) for _ in range(steps)]
    return case.model_copy(update={"timeline": [*case.timeline, *more]})


async def test_a_case_keeps_so_many_comments_and_steps_and_a_full_one_refuses_more(
    cases, caller: Caller, mongo, unique
) -> None:
    running = assigned(new_case("c-2", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads")
    # Reassigned over and over: room left only for what brings the case to its end.
    busy = assigned(new_case("c-3", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads")
    busy = grown(busy, limits.MAX_STEPS - limits.FINISHING_STEPS - len(busy.timeline), action="assign")
    full = assigned(new_case("c-5", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads")
    full = grown(full, limits.MAX_STEPS - len(full.timeline), action="assign")
    await store(
        mongo[f"cases_{unique}"],
        [grown(running, limits.MAX_COMMENTS), busy, full, new_case("c-4", "st-1", opened=TODAY)],
    )
    staff, roads, admin = caller(stations=("st-1",)), handler(caller, "dept-roads"), caller(Role.ADMIN)
    refused = await step(cases, "c-2", "comment", staff, 1, comment="还没修好")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_comments"
    started = await step(cases, "c-2", "start", roads, 1, comment="开始办理")  # the lifecycle goes on
    assert started.status_code == 200, started.text
    assert len(started.json()["timeline"]) == len(running.timeline) + limits.MAX_COMMENTS + 1
    before = (await cases.get("/v1/cases/c-3", headers=admin)).json()
    busy_up = await step(cases, "c-3", "comment", staff, 1, comment="催办")
    assert busy_up.status_code == 409 and busy_up.json()["error"]["code"] == "timeline_full", busy_up.text
    # Merged into it: refused, both unchanged.
    merged = await step(cases, "c-4", "merge", staff, 1, into_case_id="c-3")
    assert merged.status_code == 409 and merged.json()["error"]["code"] == "timeline_full"
    assert (await cases.get("/v1/cases/c-3", headers=admin)).json() == before
    assert (await cases.get("/v1/cases/c-4", headers=admin)).json()["state"] == "collected"
    # It can still be answered; a full one takes nothing.
    assert (await step(cases, "c-3", "start", roads, 1)).status_code == 200
    full_up = await step(cases, "c-5", "start", roads, 1)
    assert full_up.status_code == 409 and full_up.json()["error"]["code"] == "timeline_full", full_up.text


async def test_a_merge_that_would_answer_too_many_people_is_refused(cases, caller: Caller, mongo, unique) -> None:
    survivor = new_case("c-1", "st-1", opened=TODAY, originators=[f"p-{i}" for i in range(limits.MAX_ORIGINATORS)])
    await store(mongo[f"cases_{unique}"], [survivor, new_case("c-2", "st-1", opened=TODAY, originators=["p-new"])])
    staff = caller(stations=("st-1",))
    refused = await step(cases, "c-2", "merge", staff, 1, into_case_id="c-1")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "merge_too_large", refused.text
    assert (await step(cases, "c-2", "comment", staff, 1, comment="换个办法")).status_code == 200  # still open


def filled(case: Case) -> Case:
    """``case`` with every text and list at its limit, in the widest characters: one step short of
    full, each step carrying a comment and a reason, as many follow-up replies as steps."""
    note, text = WIDE * limits.NOTE_LENGTH, WIDE * limits.TEXT_LENGTH
    ids = [f"{i:03d}".ljust(limits.ID_LENGTH, "x") for i in range(limits.MAX_ORIGINATORS)]
    reply = Reply(result=ResultCode.B, text=text, department_id="dept-roads", at=datetime(2090, 3, 2, tzinfo=UTC))
    case = grown(case, limits.MAX_STEPS - 1 - len(case.timeline), action="hand_back", text=note)
    timeline = [s.model_copy(update={"data": {"reason": note}}) for s in case.timeline]
    co_handlers = [
        case.co_handlers[0].model_copy(update={"department_id": f"d-{i}", "opinion": text})
        for i in range(limits.MAX_CO_HANDLERS)
    ]
    return case.model_copy(
        update={
            "title": WIDE * limits.TITLE_LENGTH,
            "content": text,
            "originators": ids,
            "deputy_ids": ids[: limits.MAX_DEPUTIES],
            "co_handlers": co_handlers,
            "reply": reply,
            "follow_ups": [reply] * limits.MAX_STEPS,
            "merged_from": ids[: limits.MAX_STEPS],
            "timeline": timeline,
        }
    )


async def test_a_case_filled_to_every_limit_stays_small_and_still_changes(cases, caller: Caller, mongo, unique) -> None:
    # Assigned in a year no schedule covers; extended to six months, its deadline is a weekday an
    # official schedule then makes a holiday.
    start = date(2090, 3, 1)
    due = WorkingCalendar.with_library().add_months(start, 6).due
    assert due.weekday() < 5 and due.year == 2090
    case = filled(assigned(new_case("c-1", "st-1", "d-1", opened=start), start, "dept-roads", co=["dept-power"]))
    assert len(bson.encode(to_document(case))) < 8 * 1024 * 1024  # half of MongoDB's 16 MB
    assert all(len(event.model_dump_json()) < 100 * 1024 for event in announcements(case))  # a tenth of 1 MB
    await store(mongo[f"cases_{unique}"], [case])
    supervisor, admin = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",)), caller(Role.ADMIN)
    longest = WIDE * limits.NOTE_LENGTH
    extended = await step(cases, "c-1", "extend", supervisor, 1, months=6, reason=longest, comment=longest)
    assert extended.status_code == 200 and extended.json()["due"] == due.isoformat(), extended.text
    schedule = {"holidays": [due.isoformat()], "workdays": [], "source": "test fixture, not an official notice"}
    loaded = await cases.put("/v1/calendar/2090", json=schedule, headers=admin)
    assert loaded.status_code == 200 and loaded.json()["deadlines_changed"] >= 1, loaded.text
    after = (await cases.get("/v1/cases/c-1", headers=admin)).json()
    assert len(after["timeline"]) == limits.MAX_STEPS + 1  # the official schedule's step is always kept
    assert after["due"] > due.isoformat() and after["follow_ups"] == case.model_dump(mode="json")["follow_ups"]


async def test_a_case_counts_in_the_district_records_placed_its_station_in(
    endpoints, keys, unique, cases, caller: Caller, mongo
) -> None:
    async with cases_service(endpoints, keys, unique) as service:
        await place(service, "st-1", "d-1")
    staff = caller(stations=("st-1",))
    body = {"station_id": "st-1", "kind": "request", "title": "路灯", "content": "坏了"}
    elsewhere = await cases.post("/v1/cases", json={**body, "district_id": "d-9"}, headers=staff)
    assert elsewhere.status_code == 422 and elsewhere.json()["error"]["code"] == "district_mismatch"
    assert elsewhere.json()["error"]["field"] == "district_id"
    # Someone of another district cannot open one at the station by naming their own.
    outsider = caller(Role.DEPUTY, districts=("d-9",))
    claimed = await cases.post("/v1/cases", json={**body, "district_id": "d-9"}, headers=outsider)
    assert claimed.status_code == 404
    stored = mongo[f"cases_{unique}"]["cases"]
    assert await stored.count_documents({}) == 0
    derived = await cases.post("/v1/cases", json=body, headers=staff)
    named = await cases.post("/v1/cases", json={**body, "district_id": "d-1"}, headers=staff)
    assert [derived.json()["district_id"], named.json()["district_id"]] == ["d-1", "d-1"]
    # A station cases has not heard of yet keeps the district given.
    newcomer = {**body, "station_id": "st-new", "district_id": "d-5"}
    unknown = await cases.post("/v1/cases", json=newcomer, headers=caller(stations=("st-new",)))
    assert unknown.status_code == 201 and unknown.json()["district_id"] == "d-5"


async def test_an_overdue_cursor_continues_only_its_own_list(cases, caller: Caller, mongo, unique) -> None:
    long_ago = TODAY - timedelta(days=150)
    late = [
        assigned(new_case(f"c-{station}", station, "d-1", opened=long_ago), long_ago, "dept-roads")
        for station in ("st-1", "st-2")
    ]
    # An id stored before ids were checked breaks no list.
    late.append(assigned(new_case("c-bar", "st-3", "d|1", opened=long_ago), long_ago, "dept-roads"))
    await store(mongo[f"cases_{unique}"], late)
    admin = caller(Role.ADMIN)
    own = await cases.get("/v1/stations/st-2/overdue", params={"limit": 1}, headers=admin)
    assert [item["id"] for item in own.json()["items"]] == ["c-st-2"]
    for crafted in ("station:st-1|", "department:dept-roads|", "station:st-20|", "station:st-2"):
        cursor = base64.urlsafe_b64encode(crafted.encode()).decode()
        listed = await cases.get("/v1/stations/st-2/overdue", params={"cursor": cursor}, headers=admin)
        assert listed.status_code == 422 and listed.json()["error"]["code"] == "invalid_cursor", listed.text
    district = await cases.get("/v1/districts/d/overdue", headers=admin)
    assert district.status_code == 200, district.text
