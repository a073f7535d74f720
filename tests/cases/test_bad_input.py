"""Bad input gets a 4xx naming the field, never a 500, and changes nothing stored (what a fuzzer
found against a running station): bounded texts and lists, ids, a comment that is not a string,
a calendar year, a period in other scripts' digits."""

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from liaison_cases.domain import limits
from liaison_cases.domain.lifecycle import Action
from liaison_cases.domain.statistics import Period
from liaison_infra.auth import Role
from liaison_infra.domain_errors import InvalidInput

from tests.apps import Caller, own_database
from tests.cases.seed import STAFF as STATION_STAFF
from tests.cases.seed import acted, assigned, handler, new_case, store
from tests.cases.test_cases_api import add_departments, step

TODAY = date.today()
CO = "co_department_ids"
TOO_LONG_ID = "p" * 25_000  # the fuzzer's: 50 of them made an event no broker takes (now a 413 body)


@pytest.fixture
async def cases(endpoints, keys, unique, mongo, caller) -> AsyncIterator[httpx.AsyncClient]:
    """c-assigned (roads leads, power co-handles), c-running (in progress), c-submitted, all st-1."""
    roads = handler("dept-roads")
    running = assigned(new_case("c-running", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads")
    await store(
        mongo[f"cases_{unique}"],
        [
            assigned(new_case("c-assigned", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads", co=["dept-power"]),
            acted(running, TODAY, (Action.START, roads, {})),
            acted(new_case("c-submitted", "st-1", "d-1", opened=TODAY), TODAY, (Action.SUBMIT, STATION_STAFF, {})),
        ],
    )
    async with own_database("cases", endpoints, keys, unique) as client:
        await add_departments(client, caller, "dept-roads", "dept-power")
        yield client


def named(response: httpx.Response, field: str) -> bool:
    """A 422 whose body names ``field``, as the error or one of its problems."""
    if response.status_code != 422:
        return False
    error = response.json()["error"]
    return error["field"] == field or any(p["field"] == field for p in error.get("problems", []))


NEW_CASE = {"station_id": "st-1", "district_id": "d-1", "kind": "request", "title": "路灯", "content": "坏了"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": "长" * (limits.TITLE_LENGTH + 1)}, "title"),
        ({"title": "   "}, "title"),
        ({"content": "长" * (limits.TEXT_LENGTH + 1)}, "content"),
        ({"originators": [f"p-{i}" for i in range(limits.NEW_ORIGINATORS + 1)]}, "originators"),
        ({"originators": [TOO_LONG_ID] * 10}, "originators.0"),
        ({"station_id": "st-1|x"}, "station_id"),
        ({"district_id": "d|1"}, "district_id"),
        ({"originators": ["p|1"]}, "originators.0"),
    ],
)
async def test_a_new_case_with_an_unbounded_text_list_or_id_is_refused(
    cases, caller: Caller, mongo, unique, change, field
) -> None:
    refused = await cases.post("/v1/cases", json={**NEW_CASE, **change}, headers=caller(stations=("st-1",)))
    assert named(refused, field), refused.text
    assert await mongo[f"cases_{unique}"]["cases"].count_documents({}) == 3  # the seeded ones only
    assert await mongo[f"cases_{unique}"]["outbox"].count_documents({}) == 0


NOTE, TEXT = "长" * (limits.NOTE_LENGTH + 1), "长" * (limits.TEXT_LENGTH + 1)
STAFF, ROADS, POWER, SUPERVISOR = "staff", "roads", "power", "supervisor"


@pytest.mark.parametrize(
    ("case_id", "action", "who", "payload", "field"),
    [
        ("c-assigned", "comment", STAFF, {"comment": NOTE}, "comment"),
        ("c-assigned", "hand_back", ROADS, {"reason": NOTE}, "reason"),
        ("c-assigned", "hand_back", ROADS, {"reason": "派错了", "comment": NOTE}, "comment"),
        ("c-assigned", "extend", SUPERVISOR, {"months": 6, "reason": NOTE}, "reason"),
        ("c-assigned", "co_opinion", POWER, {"opinion": TEXT}, "opinion"),
        ("c-running", "reply", ROADS, {"result": "A", "text": TEXT}, "text"),
        ("c-submitted", "assign", STAFF, {"lead_department_id": TOO_LONG_ID}, "lead_department_id"),
        (
            "c-submitted",
            "assign",
            STAFF,
            {"lead_department_id": "dept-roads", "co_department_ids": [f"d-{i}" for i in range(11)]},
            "co_department_ids",
        ),
        (
            "c-submitted",
            "assign",
            STAFF,
            {"lead_department_id": "dept-roads", "co_department_ids": 0},
            "co_department_ids",
        ),
        (
            "c-submitted",
            "assign",
            STAFF,
            {"lead_department_id": "dept-roads", "co_department_ids": {}},
            "co_department_ids",
        ),
        ("c-submitted", "merge", STAFF, {"into_case_id": "c|1"}, "into_case_id"),
        ("c-submitted", "merge", STAFF, {"into_case_id": TOO_LONG_ID}, "into_case_id"),
        # A comment that is not a string: the step refused it with pydantic's error, a 500.
        ("c-assigned", "comment", STAFF, {"comment": 5}, "comment"),
        ("c-assigned", "start", ROADS, {"comment": {"text": "开始办理"}}, "comment"),
        ("c-assigned", "co_opinion", POWER, {"opinion": "同意", "comment": ["好"]}, "comment"),
    ],
)
async def test_an_action_with_a_bad_text_is_refused_and_changes_nothing(
    cases, caller: Caller, case_id, action, who, payload, field
) -> None:
    headers = {
        STAFF: caller(stations=("st-1",)),
        ROADS: caller(Role.DEPARTMENT_HANDLER, subject="h-roads", department="dept-roads"),
        POWER: caller(Role.DEPARTMENT_HANDLER, subject="h-power", department="dept-power"),
        SUPERVISOR: caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",)),
    }[who]
    admin = caller(Role.ADMIN)
    before = (await cases.get(f"/v1/cases/{case_id}", headers=admin)).json()
    refused = await step(cases, case_id, action, headers, 1, **payload)
    assert named(refused, field), refused.text
    assert (await cases.get(f"/v1/cases/{case_id}", headers=admin)).json() == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/districts/d%7C1/overdue",
        f"/v1/stations/{'s' * 101}/overdue",
        "/v1/cases?station_id=st-1%7Cx",
        "/v1/statistics?dimension=station&period=2026&station_id=st%7C1",
    ],
)
async def test_an_id_with_a_bar_or_too_long_is_refused_where_it_is_read(cases, caller: Caller, path) -> None:
    refused = await cases.get(path, headers=caller(Role.ADMIN))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", refused.text


@pytest.mark.parametrize(
    ("year", "body", "field"),
    [
        ("99999999999999999999", {}, "year"),  # an OverflowError (500) when stored
        ("1999", {}, "year"),
        ("2101", {}, "year"),
        ("2030", {"holidays": [f"2030-01-{d:02d}" for d in range(1, 29)] * 15}, "holidays"),
        ("2030", {"workdays": ["2030-01-05" + " " * 1000]}, "workdays.0"),
        ("2030", {"source": "长" * (limits.SOURCE_LENGTH + 1)}, "source"),
    ],
)
async def test_a_calendar_year_out_of_range_or_an_oversized_schedule_is_refused(
    cases, caller: Caller, mongo, unique, year, body, field
) -> None:
    schedule = {"holidays": [], "workdays": [], "source": "国办发明电〔2029〕1号", **body}
    refused = await cases.put(f"/v1/calendar/{year}", json=schedule, headers=caller(Role.ADMIN))
    assert named(refused, field), refused.text
    assert await mongo[f"cases_{unique}"]["calendar_years"].count_documents({}) == 0


@pytest.mark.parametrize("period", ["٢٠٢٦-Q1", "２０２６", "2026-٠٣", "۲۰۲۶"])
async def test_a_period_in_other_digits_than_ascii_is_refused(cases, caller: Caller, mongo, unique, period) -> None:
    with pytest.raises(InvalidInput):
        Period.parse(period)
    staff = caller(stations=("st-1",))
    figures = await cases.get("/v1/statistics", params={"dimension": "station", "period": period}, headers=staff)
    assert named(figures, "period"), figures.text
    issued = await cases.post("/v1/bulletins", json={"station_id": "st-1", "period": period}, headers=staff)
    assert named(issued, "period"), issued.text
    assert await mongo[f"cases_{unique}"]["bulletins"].count_documents({}) == 0
