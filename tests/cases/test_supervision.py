"""督办: colours from the working days left, and overdue lists per station, district and
department (co-handlers' sub-deadlines included), served by an index."""

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from liaison_cases.domain.lifecycle import Action
from liaison_cases.domain.supervision import Colour, SupervisionPolicy, Supervisor
from liaison_cases.domain.working_days import WorkingCalendar
from liaison_infra.auth import Role

from tests.apps import own_database
from tests.cases.seed import CALENDAR, QUERIES, acted, assigned, handler, new_case, store, unindexed

WEEKENDS_ONLY = WorkingCalendar()
ASSIGNED, DUE = date(2026, 3, 2), date(2026, 4, 10)  # a Monday and a Friday: 29 working days apart


@pytest.mark.parametrize(
    ("today", "left", "colour"),
    [
        (date(2026, 3, 3), 28, Colour.GREEN),
        (date(2026, 4, 2), 6, Colour.GREEN),  # 6 > 20% of 29
        (date(2026, 4, 3), 5, Colour.YELLOW),
        (date(2026, 4, 6), 4, Colour.YELLOW),
        (date(2026, 4, 7), 3, Colour.RED),
        (date(2026, 4, 10), 0, Colour.RED),
        (date(2026, 4, 13), -1, Colour.RED),
    ],
)
def test_the_colour_follows_the_working_days_left(today: date, left: int, colour: Colour) -> None:
    watched = Supervisor(today, WEEKENDS_ONLY).watch(ASSIGNED, DUE)
    assert (watched["working_days_left"], watched["colour"]) == (left, colour)
    assert watched["overdue"] is (today > DUE)


def test_the_thresholds_are_settings_and_holidays_are_not_time_left() -> None:
    lenient = Supervisor(date(2026, 4, 8), WEEKENDS_ONLY, SupervisionPolicy(red_working_days=1, yellow_share=0.1))
    assert lenient.watch(ASSIGNED, DUE)["colour"] == Colour.YELLOW
    # 2026 National Day: 1–7 October off, Saturday 10 October worked; from 30 September to
    # Friday 9 October there are only two working days left (8 and 9 October).
    national_day = Supervisor(date(2026, 9, 30), CALENDAR).watch(date(2026, 7, 1), date(2026, 10, 9))
    assert (national_day["working_days_left"], national_day["colour"]) == (2, Colour.RED)


def test_only_a_running_case_is_supervised_and_co_handlers_until_their_opinion() -> None:
    case = new_case("c-1", "st-1", opened=date(2026, 3, 1))
    supervisor = Supervisor(date(2026, 4, 20), CALENDAR)
    assert supervisor.of(case) is None
    running = assigned(case, date(2026, 3, 2), "dept-roads", co=["dept-power", "dept-health"])
    watched = supervisor.of(running)
    assert watched is not None and watched["colour"] == Colour.GREEN
    assert [(co["department_id"], co["overdue"]) for co in watched["co_handlers"]] == [
        ("dept-power", True),
        ("dept-health", True),
    ]
    answered = acted(running, date(2026, 3, 20), (Action.CO_OPINION, handler("dept-power"), {"opinion": "同意"}))
    assert [co["department_id"] for co in (supervisor.of(answered) or {})["co_handlers"]] == ["dept-health"]


TODAY = date.today()
DAY = timedelta(days=1)


@pytest.fixture
async def cases(endpoints, keys, unique, mongo) -> AsyncIterator[httpx.AsyncClient]:
    """c-1 st-1 late (roads); c-2 st-1 on time (roads), but its co-handler power is late; c-3 st-2
    late (power); c-4 st-1 answered after its deadline (no longer running); c-5 st-1 on time."""
    QUERIES.database, QUERIES.finds = f"cases_{unique}", []
    long_ago, recently = TODAY - 150 * DAY, TODAY - 40 * DAY
    replied = assigned(new_case("c-4", "st-1", "d-1", opened=long_ago), long_ago, "dept-roads")
    reply = {"result": "A", "text": "已解决"}
    roads = handler("dept-roads")
    seeded = [
        assigned(new_case("c-1", "st-1", "d-1", opened=long_ago), long_ago, "dept-roads"),
        assigned(new_case("c-2", "st-1", "d-1", opened=recently), recently, "dept-roads", co=["dept-power"]),
        assigned(new_case("c-3", "st-2", "d-1", opened=long_ago), long_ago + DAY, "dept-power"),
        acted(replied, TODAY - DAY, (Action.START, roads, {}), (Action.REPLY, roads, reply)),
        assigned(new_case("c-5", "st-1", "d-1", opened=TODAY), TODAY, "dept-roads"),
    ]
    await store(mongo[f"cases_{unique}"], seeded)
    async with own_database("cases", endpoints, keys, unique) as client:
        yield client


async def overdue(cases: httpx.AsyncClient, path: str, headers: dict[str, str], **params: str | int) -> list[str]:
    response = await cases.get(f"/v1/{path}/overdue", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [f"{item['id']}:{item['overdue']['department_id']}" for item in response.json()["items"]]


async def test_overdue_lists_per_station_district_and_department(cases, caller, mongo, unique) -> None:
    staff, admin = caller(stations=("st-1",)), caller(Role.ADMIN)
    assert await overdue(cases, "stations/st-1", staff) == ["c-1:dept-roads"]
    assert await overdue(cases, "stations/st-2", staff) == []  # not theirs
    assert await overdue(cases, "districts/d-1", caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))) == [
        "c-1:dept-roads",
        "c-3:dept-power",
    ]
    assert await overdue(cases, "departments/dept-roads", admin) == ["c-1:dept-roads"]
    power = caller(Role.DEPARTMENT_HANDLER, subject="h-power", department="dept-power")
    assert await overdue(cases, "departments/dept-power", power) == ["c-3:dept-power", "c-2:dept-power"]
    assert await overdue(cases, "departments/dept-power", staff) == ["c-2:dept-power"]  # st-1 only
    assert await overdue(cases, "departments/dept-roads", power) == []
    items = (await cases.get("/v1/departments/dept-power/overdue", headers=admin)).json()["items"]
    assert [(item["id"], item["overdue"]["co_handler"]) for item in items] == [("c-3", False), ("c-2", True)]
    assert items[1]["supervision"]["colour"] == "green"  # the lead is on time; only the co-handler is late
    assert items[1]["supervision"]["co_handlers"][0]["overdue"] is True
    assert await unindexed(mongo[f"cases_{unique}"], QUERIES.finds) == []


async def test_the_overdue_list_pages_by_cursor_and_a_given_opinion_leaves_it(cases, caller) -> None:
    admin = caller(Role.ADMIN)
    first = (await cases.get("/v1/departments/dept-power/overdue", params={"limit": 1}, headers=admin)).json()
    assert [item["id"] for item in first["items"]] == ["c-3"] and first["next_cursor"]
    params = {"limit": 1, "cursor": first["next_cursor"]}
    second = (await cases.get("/v1/departments/dept-power/overdue", params=params, headers=admin)).json()
    assert [item["id"] for item in second["items"]] == ["c-2"] and second["next_cursor"] is None
    power = caller(Role.DEPARTMENT_HANDLER, subject="h-power", department="dept-power")
    roads = caller(Role.DEPARTMENT_HANDLER, subject="h-roads", department="dept-roads")
    for who, body, status in ((power, {"opinion": " "}, 422), (roads, {"opinion": "主办"}, 403), (power, None, 422)):
        refused = await cases.post("/v1/cases/c-2/co_opinion", json=body, headers={**who, "If-Match": '"1"'})
        assert refused.status_code == status, refused.text
    unchanged = (await cases.get("/v1/cases/c-2", headers=admin)).json()
    assert unchanged["version"] == 1 and unchanged["co_handlers"][0]["opinion"] is None
    given = await cases.post(
        "/v1/cases/c-2/co_opinion", json={"opinion": "同意主办意见"}, headers={**power, "If-Match": '"1"'}
    )
    assert given.status_code == 200, given.text
    assert given.json()["supervision"]["co_handlers"] == []
    assert await overdue(cases, "departments/dept-power", admin) == ["c-3:dept-power"]


async def test_every_read_shows_the_colour(cases, caller) -> None:
    staff = caller(stations=("st-1",))
    colours = {
        case_id: (await cases.get(f"/v1/cases/{case_id}", headers=staff)).json()["supervision"]
        for case_id in ("c-1", "c-4", "c-5")
    }
    assert colours["c-1"]["colour"] == "red" and colours["c-1"]["overdue"] is True
    assert colours["c-4"] is None  # replied: no deadline runs
    assert colours["c-5"]["colour"] == "green" and colours["c-5"]["working_days_left"] > 50


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/planets/p-1/overdue", 422),
        ("/v1/stations/st-1/overdue?limit=0", 422),
        ("/v1/stations/st-1/overdue?cursor=%25%25", 422),
        ("/v1/stations/st-1/overdue?cursor=bm9waXBl", 422),
    ],
)
async def test_bad_overdue_requests_are_refused(cases, caller, path, status) -> None:
    response = await cases.get(path, headers=caller(stations=("st-1",)))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"]


async def test_an_official_schedule_moves_co_handlers_sub_deadlines_too(cases, caller, mongo, unique) -> None:
    case = assigned(
        new_case("c-9", "st-1", "d-1", opened=date(2026, 12, 14)), date(2026, 12, 15), "dept-roads", ["dept-power"]
    )
    if not case.co_handlers[0].due_provisional:
        pytest.skip("the calendar library already knows 2027")
    assert case.co_handlers[0].due == date(2027, 1, 15)  # a Friday: one month after assignment
    await store(mongo[f"cases_{unique}"], [case])
    schedule = {"holidays": ["2027-01-15"], "workdays": [], "source": "test fixture, not an official notice"}
    loaded = await cases.put("/v1/calendar/2027", json=schedule, headers=caller(Role.ADMIN))
    assert loaded.status_code == 200, loaded.text
    after = (await cases.get("/v1/cases/c-9", headers=caller(Role.ADMIN))).json()
    assert after["co_handlers"][0]["due"] == "2027-01-18" and after["co_handlers"][0]["due_provisional"] is False
    assert after["due"] == str(case.due) and after["due_provisional"] is False
    assert after["timeline"][-1]["data"]["co_handlers"] == {"dept-power": "2027-01-18"}
