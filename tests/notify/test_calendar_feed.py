"""A deputy's private calendar feed: a secret URL without a bearer token, rotatable, and carrying
the deputy's duties and their station's quarterly activities as all-day events with stable UIDs."""

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest
from icalendar import Calendar
from liaison_infra.auth import Role
from liaison_infra.clock import china_day, utc_now
from liaison_notify.domain.calendar import event_uid
from liaison_notify.domain.duties import DutyStatus
from liaison_notify.domain.periods import month_window, quarter_window

from tests.apps import own_database
from tests.notify.duty_records import duty, store

TODAY = china_day(utc_now())
MONTH = month_window(TODAY)
QUARTER = quarter_window(TODAY)
VISIT = duty("monthly_visit", MONTH, "hh-1", station_id="st-a", deputy_id="d-1")
DONE = duty("monthly_visit", MONTH, "hh-2", station_id="st-a", deputy_id="d-1", status=DutyStatus.FULFILLED)
LECTURE = duty("quarterly_lecture", QUARTER, "st-a", station_id="st-a")
STUDY = duty("quarterly_study", QUARTER, "st-a", station_id="st-a")
OTHER_DEPUTY = duty("monthly_visit", MONTH, "hh-3", station_id="st-a", deputy_id="d-2")
OTHER_STATION = duty("quarterly_lecture", QUARTER, "st-b", station_id="st-b")
LONG_AGO = duty("monthly_visit", month_window(TODAY - timedelta(days=200)), "hh-1", station_id="st-a", deputy_id="d-1")


@pytest.fixture
async def notify(endpoints, keys, unique, mongo) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("notify", endpoints, keys, unique) as client:
        await store(mongo[f"notify_{unique}"], VISIT, DONE, LECTURE, STUDY, OTHER_DEPUTY, OTHER_STATION, LONG_AGO)
        yield client


def events(body: bytes) -> dict[str, dict[str, object]]:
    calendar = Calendar.from_ical(body)
    return {
        str(event["UID"]): {
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
            "summary": str(event["SUMMARY"]),
            "description": str(event["DESCRIPTION"]),
        }
        for event in calendar.walk("VEVENT")
    }


async def new_feed(notify: httpx.AsyncClient, caller, deputy: str = "d-1") -> str:
    response = await notify.post("/v1/calendar/token", headers=caller(Role.DEPUTY, stations=("st-a",), subject=deputy))
    assert response.status_code == 201, response.text
    path: str = response.json()["path"]
    assert path == f"/v1/calendar/{response.json()['token']}.ics"
    return path


async def test_the_feed_carries_the_deputys_duties_and_the_stations_activities(notify, caller) -> None:
    path = await new_feed(notify, caller)
    response = await notify.get(path)  # no Authorization header: the secret is the path
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    found = events(response.content)
    assert set(found) == {event_uid(d) for d in (VISIT, DONE, LECTURE, STUDY)}
    visit = found[event_uid(VISIT)]
    assert (visit["start"], visit["end"]) == (MONTH.first_day, MONTH.last_day + timedelta(days=1))
    assert isinstance(visit["start"], date) and not hasattr(visit["start"], "hour")  # all-day
    assert visit["summary"] == "每月一走访：hh-1" and "待完成" in str(visit["description"])
    assert "已完成" in str(found[event_uid(DONE)]["description"])
    lecture = found[event_uid(LECTURE)]
    assert (lecture["start"], lecture["end"]) == (QUARTER.first_day, QUARTER.last_day + timedelta(days=1))
    assert lecture["summary"] == "每季一宣讲"
    again = await notify.get(path)
    assert set(events(again.content)) == set(found)  # stable UIDs: the phone updates, never duplicates


async def test_a_wrong_token_is_not_found_and_rotation_retires_the_old_url(notify, caller) -> None:
    wrong = await notify.get("/v1/calendar/not-a-token.ics")
    assert wrong.status_code == 404
    assert wrong.json()["error"]["code"] == "not_found"
    old = await new_feed(notify, caller)
    new = await new_feed(notify, caller)
    assert (await notify.get(old)).status_code == 404
    assert (await notify.get(new)).status_code == 200
    other = await new_feed(notify, caller, deputy="d-2")
    assert set(events((await notify.get(other)).content)) == {event_uid(d) for d in (OTHER_DEPUTY, LECTURE, STUDY)}


async def test_only_a_signed_in_deputy_gets_a_feed(notify, caller) -> None:
    anonymous = await notify.post("/v1/calendar/token")
    assert anonymous.status_code == 401
    staff = await notify.post("/v1/calendar/token", headers=caller(Role.STATION_STAFF, stations=("st-a",)))
    assert staff.status_code == 403
    assert staff.json()["error"]["code"] == "not_a_deputy"


async def test_the_feed_follows_the_stations_records_says_the_deputy_serves(notify, caller, mongo, unique) -> None:
    path = await new_feed(notify, caller)  # a token made while the deputy served st-a
    moved = {"kind": "deputy", "name": "李代表", "station_id": ["st-b"]}  # as deputy.updated stores it
    await mongo[f"notify_{unique}"]["recipients"].insert_one({"_id": "deputy:d-1", **moved})
    found = set(events((await notify.get(path)).content))
    assert found == {event_uid(d) for d in (VISIT, DONE, OTHER_STATION)}, "st-b's lecture, no longer st-a's"
