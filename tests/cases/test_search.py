"""Searching cases through the API: every filter, scope, sort and cursor page, each query the
service sends served by an index; bad input is refused with the field at fault."""

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from liaison_cases.domain.cases import Category, Kind
from liaison_cases.domain.lifecycle import Action
from liaison_infra.auth import Role

from tests.apps import own_database
from tests.cases.seed import QUERIES, STAFF, acted, assigned, new_case, store, unindexed

TODAY = date.today()
DAY = timedelta(days=1)


@pytest.fixture
async def cases(endpoints, keys, unique, mongo) -> AsyncIterator[httpx.AsyncClient]:
    """Ten cases over three stations in two districts: c-1 to c-8 opened one day apart about
    200 days ago, c-9 more than a year ago, c-10 this week (one in each window of the search)."""
    db = mongo[f"cases_{unique}"]
    QUERIES.database, QUERIES.finds = db.name, []
    opened = [TODAY - 200 * DAY + i * DAY for i in range(9)]
    c1 = new_case("c-1", "st-1", "d-1", opened=opened[1], title="楼道灯坏了", originators=["p-1"], household_id="h-1")
    c2 = new_case("c-2", "st-1", "d-1", opened=opened[2], title="小区路灯不亮", category=Category.ROADS)
    c3 = new_case("c-3", "st-1", "d-1", opened=opened[3], title="养老金", kind=Kind.SUGGESTION, deputy_ids=["dep-1"])
    c4 = new_case("c-4", "st-2", "d-1", opened=opened[4], title="侨房政策咨询", category=Category.OVERSEAS_CHINESE)
    c5 = new_case("c-5", "st-3", "d-2", opened=opened[5], title="学校门口路灯", category=Category.ROADS)
    c6 = new_case("c-6", "st-3", "d-2", opened=opened[6], title="医保报销", originators=["p-1", "p-2"])
    c7 = new_case("c-7", "st-1", "d-1", opened=opened[7], title="路面坑洼", category=Category.ROADS)
    c8 = new_case("c-8", "st-3", "d-2", opened=opened[8], title="Street lamp", kind=Kind.OPINION)
    c9 = new_case("c-9", "st-1", "d-1", opened=TODAY - 400 * DAY, title="公园长椅损坏")
    c10 = new_case("c-10", "st-1", "d-1", opened=TODAY - 3 * DAY, title="下水道堵塞")
    seeded = [
        assigned(c1, TODAY - 150 * DAY, "dept-roads"),  # overdue, red
        assigned(c2, TODAY - 10 * DAY, "dept-roads", co=["dept-power"]),  # green
        c3,
        c4,
        assigned(c5, TODAY - 5 * DAY, "dept-power"),
        c6,
        acted(c7, TODAY - 20 * DAY, (Action.SUBMIT, STAFF, {})),
        c8,
        c9,
        c10,
    ]
    await store(db, seeded)
    async with own_database("cases", endpoints, keys, unique) as client:
        yield client


async def ids(cases: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[str]:
    response = await cases.get("/v1/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_filters_narrow_within_the_callers_scope(cases, caller, mongo, unique) -> None:
    staff = caller(stations=("st-1",))
    assert await ids(cases, staff) == ["c-10", "c-7", "c-3", "c-2", "c-1", "c-9"]  # newest first
    assert await ids(cases, staff, state="assigned") == ["c-2", "c-1"]
    assert await ids(cases, staff, state="submitted") == ["c-7"]
    assert await ids(cases, staff, category="roads_and_infrastructure") == ["c-7", "c-2"]
    assert await ids(cases, staff, category="roads_and_infrastructure", state="assigned") == ["c-2"]
    assert await ids(cases, staff, kind="suggestion") == ["c-3"]
    assert await ids(cases, staff, department_id="dept-power") == ["c-2"]  # as co-handler
    assert await ids(cases, staff, person_id="p-1") == ["c-1"]  # c-6 is p-1's too, in st-3
    assert await ids(cases, staff, deputy_id="dep-1") == ["c-3"]
    assert await ids(cases, staff, household_id="h-1") == ["c-1"]
    assert await ids(cases, staff, q="路灯") == ["c-2"]
    assert await ids(cases, staff, q="灯") == ["c-2", "c-1"]
    assert await ids(cases, staff, q="灯 楼道") == ["c-1"]
    assert await ids(cases, staff, station_id="st-3") == []  # outside the scope: nothing
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-2",))
    assert await ids(cases, supervisor, q="路灯") == ["c-5"]
    assert await ids(cases, supervisor, q="LAMP") == ["c-8"]
    assert await ids(cases, caller(Role.ADMIN), person_id="p-1") == ["c-6", "c-1"]
    assert await ids(cases, caller(Role.ADMIN), district_id="d-1", q="灯") == ["c-2", "c-1"]
    assert QUERIES.finds and await unindexed(mongo[f"cases_{unique}"], QUERIES.finds) == []


async def test_a_department_handler_sees_only_the_cases_their_department_handles(cases, caller) -> None:
    roads = caller(Role.DEPARTMENT_HANDLER, subject="h-roads", department="dept-roads")
    power = caller(Role.DEPARTMENT_HANDLER, subject="h-power", department="dept-power")
    assert await ids(cases, roads) == ["c-2", "c-1"]
    assert await ids(cases, power) == ["c-5", "c-2"]  # lead of c-5, co-handler of c-2
    assert await ids(cases, power, station_id="st-1") == ["c-2"]
    assert await ids(cases, caller(Role.DEPARTMENT_HANDLER, subject="h-none")) == []
    assert await ids(cases, caller(Role.DEPUTY), person_id="p-1") == []  # a token with no scope
    assert (await cases.get("/v1/cases/c-1", headers=power)).status_code == 404
    assert (await cases.get("/v1/cases/c-2", headers=power)).status_code == 200


async def test_deadline_colour_and_due_range(cases, caller) -> None:
    admin = caller(Role.ADMIN)
    assert await ids(cases, admin, overdue="true") == ["c-1"]
    assert await ids(cases, admin, colour="red") == ["c-1"]
    assert await ids(cases, admin, colour="green") == ["c-5", "c-2"]
    assert await ids(cases, admin, overdue="false", station_id="st-1") == ["c-2"]
    assert await ids(cases, admin, sort="due", limit=3) == ["c-1", "c-2", "c-5"]  # no deadline: last
    c1 = (await cases.get("/v1/cases/c-1", headers=admin)).json()
    assert await ids(cases, admin, due_to=c1["due"]) == ["c-1"]
    assert await ids(cases, admin, due_from=(date.fromisoformat(c1["due"]) + DAY).isoformat()) == ["c-5", "c-2"]
    page = (await cases.get("/v1/cases", params={"colour": "red"}, headers=admin)).json()["items"]
    assert page[0]["supervision"]["overdue"] is True and page[0]["supervision"]["working_days_left"] < 0
    assert "timeline" not in page[0]


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"stations": ("st-1", "st-3")}, {}),
        ({"districts": ("d-1", "d-2"), "stations": ("st-1",)}, {}),
        ({"role": Role.ADMIN}, {}),
        ({"role": Role.ADMIN}, {"sort": "due"}),
        ({"role": Role.ADMIN}, {"q": "灯"}),
    ],
)
async def test_cursor_pages_add_up_to_the_whole_list(cases, caller, mongo, unique, headers, params) -> None:
    scope = dict(headers)
    who = caller(scope.pop("role", Role.STATION_STAFF), **scope)
    whole = await ids(cases, who, limit=200, **params)
    paged, cursor = [], None
    while True:
        more: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = (await cases.get("/v1/cases", params={**params, "limit": 2, **more}, headers=who)).json()
        paged += [item["id"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert paged == whole and len(set(whole)) == len(whole) and len(whole) >= 3
    assert await unindexed(mongo[f"cases_{unique}"], QUERIES.finds) == []


async def test_transitions_keep_the_search_keys_current(cases, caller) -> None:
    staff = caller(stations=("st-1",))
    submitted = await cases.post("/v1/cases/c-3/submit", headers={**staff, "If-Match": '"1"'})
    assert submitted.status_code == 200, submitted.text
    assert await ids(cases, staff, state="submitted") == ["c-7", "c-3"]
    assert await ids(cases, staff, state="collected") == ["c-10", "c-9"]
    assert await ids(cases, staff, deputy_id="dep-1", state="submitted") == ["c-3"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "state"),
        ({"colour": "purple"}, "colour"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"due_from": "2026-02-30"}, "due_from"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "bm9waXBl"}, "cursor"),  # base64 of "nopipe"
        ({"q": "   "}, "q"),
        ({"sort": "title"}, "sort"),
    ],
)
async def test_bad_search_input_is_refused_with_the_field(cases, caller, params, field) -> None:
    response = await cases.get("/v1/cases", params=params, headers=caller(stations=("st-1",)))
    assert response.status_code == 422, response.text
    assert field in str(response.json()["error"])


async def test_a_case_read_is_scoped_and_a_handler_sees_only_their_department(cases, caller) -> None:
    assert (await cases.get("/v1/cases/c-1", headers=caller(stations=("st-2",)))).status_code == 404
    assert (await cases.get("/v1/cases/c-nope", headers=caller(Role.ADMIN))).status_code == 404
    c2 = (await cases.get("/v1/cases/c-2", headers=caller(districts=("d-1",)))).json()
    assert c2["supervision"]["co_handlers"][0]["department_id"] == "dept-power"
