"""/v1/rules: who may change which rules, versioned with If-Match, and bad input refused whole."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.adapters.rules_store import RULE_OVERRIDES
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import generate_duties

from tests.apps import own_database
from tests.notify.duty_support import household, local, own_notify, visit_logged

STATION_RULE = "/v1/rules/stations/st-1/monthly_visit"
DISTRICT_RULE = "/v1/rules/districts/d-1/monthly_visit"


@pytest.fixture
async def notify(endpoints, keys, unique) -> AsyncIterator[Notify]:
    async with own_notify(endpoints, keys, unique) as notify:
        await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))  # station st-1 of district d-1
        yield notify


@pytest.fixture
async def api(notify, endpoints, keys, unique) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("notify", endpoints, keys, unique) as client:
        yield client


async def put(api, path: str, headers, version: int | None, body: Any) -> httpx.Response:
    match = {"If-Match": f'"{version}"'} if version is not None else {}
    return await api.put(path, json=body, headers={**headers, **match})


async def test_station_staff_change_their_station_and_the_change_wins_over_the_district(api, caller, notify) -> None:
    staff, supervisor = caller(stations=("st-1",)), caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))
    listed = await api.get("/v1/rules/stations/st-1", headers=staff)
    assert listed.status_code == 200 and len(listed.json()) == 7
    read = await api.get(STATION_RULE, headers=staff)
    assert read.headers["ETag"] == '"0"' and read.json()["changes"] == {}
    assert (await put(api, STATION_RULE, staff, None, {"days_after": 1})).status_code == 428
    reminders = [{"anchor": "start", "days": 4, "at": "10:30"}, {"anchor": "end", "days": 2}]
    changed = await put(api, STATION_RULE, staff, 0, {"reminders": reminders})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"1"' and changed.json()["updated_by"] == "staff-1"
    assert (await put(api, STATION_RULE, staff, 0, {"days_after": 1})).status_code == 412
    hiding: list[dict[str, Any]] = [{"enabled": False}, {"escalation": []}]  # what shows the district the misses
    for change in hiding:
        refused = await put(api, STATION_RULE, staff, 1, change)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "district_oversight", refused.text
    overseen = await put(api, STATION_RULE, supervisor, 1, {"reminders": reminders, "enabled": True})
    assert overseen.status_code == 200, overseen.text
    district = await put(api, DISTRICT_RULE, supervisor, 0, {"quiet_hours": {"start": "20:00", "end": "08:30"}})
    assert district.status_code == 200, district.text
    rule = (await api.get(STATION_RULE, headers=staff)).json()["rule"]
    assert rule["quiet_hours"] == {"start": "20:00:00", "end": "08:30:00"}  # inherited from the district
    assert [r["at"] for r in rule["reminders"]] == ["10:30:00", "09:00:00"]  # the station's own

    await generate_duties(notify, local(2026, 11, 3))
    duty = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert duty is not None
    assert [r["occurrence"] for r in duty["reminders"]] == ["2026-11-05T10:30", "2026-11-28T09:00"]


async def test_only_the_roles_in_scope_may_change_rules(api, caller) -> None:
    body = {"enabled": False}
    assert (await put(api, STATION_RULE, caller(stations=("st-2",)), 0, body)).status_code == 404
    assert (await put(api, STATION_RULE, caller(Role.DEPUTY, stations=("st-1",)), 0, body)).status_code == 403
    other_district = caller(Role.DISTRICT_SUPERVISOR, districts=("d-2",))
    assert (await put(api, STATION_RULE, other_district, 0, body)).status_code == 404
    assert (await put(api, DISTRICT_RULE, caller(stations=("st-1",)), 0, body)).status_code == 404
    assert (await api.get(DISTRICT_RULE, headers=caller(Role.AUDITOR))).status_code == 404
    admin = await put(api, DISTRICT_RULE, caller(Role.ADMIN), 0, body)
    assert admin.status_code == 200 and admin.json()["rule"]["enabled"] is False


async def test_bad_rules_are_refused_with_details_and_nothing_stored_changes(api, caller) -> None:
    staff = caller(stations=("st-1",))
    kept = {"reminders": [{"anchor": "end", "days": 0, "at": "20:30"}]}
    assert (await put(api, STATION_RULE, staff, 0, kept)).status_code == 200
    cases = [
        ({"reminders": [{"anchor": "middle", "days": 1}]}, "invalid_request", "reminders.0.anchor"),
        ({"reminders": [{"anchor": "start", "days": -1}]}, "invalid_request", "reminders.0.days"),
        ({"quiet_hours": {"start": "25:00"}}, "invalid_request", "quiet_hours.start"),
        ({"quiet_hours": {"start": "21:00:00+08:00"}}, "invalid_request", "quiet_hours.start"),  # local, no offset
        ({"reminders": [{"anchor": "start", "days": 1, "at": "08:00Z"}]}, "invalid_request", "reminders.0.at"),
        ({"colour": "red"}, "invalid_request", "colour"),
        ({"reminder_template": "monthly_vist"}, "invalid_request", "reminder_template"),
        ({"reminder_template": "duty_missed"}, "invalid_request", "reminder_template"),  # needs escalated_to
        ({"escalation_template": "weekly_digest"}, "invalid_request", "escalation_template"),
        (
            {"escalation": [{"to": "district", "after_days": 5}, {"to": "station_head", "after_days": 0}]},
            "invalid_rule",
            None,
        ),
        (kept | {"quiet_hours": {"start": "20:00", "end": "08:00"}}, "invalid_rule", None),  # 20:30 is now quiet
    ]
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))  # may change the ladder too
    for body, code, field in cases:
        refused = await put(api, STATION_RULE, supervisor, 1, body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["code"] == code and refused.json()["error"]["field"] == field, refused.text
    breaking = await put(api, DISTRICT_RULE, supervisor, 0, {"quiet_hours": {"start": "20:00", "end": "08:00"}})
    assert breaking.status_code == 422 and breaking.json()["error"]["station_id"] == "st-1"
    assert (await put(api, "/v1/rules/stations/st-1/no_such_rule", staff, 0, {})).status_code == 404
    admin = caller(Role.ADMIN)
    for odd in ("st%00x", "st\u200f1", "s" * 65):  # a NUL, a right-to-left mark, too long: no station's id
        odd_scope = await put(api, f"/v1/rules/stations/{odd}/monthly_visit", admin, 0, {})
        assert odd_scope.status_code == 422 and odd_scope.json()["error"]["field"] == "scope_id", odd_scope.text
    stored = await api.get(STATION_RULE, headers=staff)
    assert stored.headers["ETag"] == '"1"'
    assert stored.json()["changes"] == {
        "reminders": [{"anchor": "end", "days": 0, "at": "20:30:00", "working_days": False}]
    }
    assert (await api.get(DISTRICT_RULE, headers=supervisor)).headers["ETag"] == '"0"'


async def test_layers_that_do_not_hold_together_stop_neither_the_api_nor_the_scans(api, caller, notify) -> None:
    # Each stored on its own (a station's change made before notify knew its district, say):
    # a last-day reminder at 20:30, and quiet hours from 20:00 over the district.
    late = {"reminders": [{"anchor": "end", "days": 0, "at": "20:30"}]}
    quiet = {"quiet_hours": {"start": "20:00", "end": "08:00"}}
    for owner, changes in (("station:st-1", late), ("district:d-1", quiet)):
        stored = {"owner": owner, "rule_id": "monthly_visit", "changes": changes, "version": 1}
        await notify.db[RULE_OVERRIDES].insert_one({"_id": f"{owner}:monthly_visit", **stored})

    read = await api.get(STATION_RULE, headers=caller(stations=("st-1",)))

    assert read.status_code == 200, read.text
    assert read.json()["rule"]["quiet_hours"]["start"] == "20:00:00", "the district holds; the station is left out"
    assert await generate_duties(notify, local(2026, 11, 1)) > 0
    assert await notify.db[DUTIES].count_documents({"station_id": "st-1", "rule_id": "monthly_visit"}) == 1


async def test_times_an_older_version_stored_with_an_offset_are_read_as_the_stations_wall_clock(
    api, caller, notify
) -> None:
    # Quiet hours 22:00-07:00 and a reminder at 06:30 on the 1st, each stored with an offset.
    changes = {
        "quiet_hours": {"start": "22:00:00+08:00", "end": "07:00:00+08:00"},
        "reminders": [{"anchor": "start", "days": 0, "at": "06:30:00Z", "working_days": False}],
    }
    stored = {"owner": "station:st-1", "rule_id": "monthly_visit", "changes": changes, "version": 1}
    await notify.db[RULE_OVERRIDES].insert_one({"_id": "station:st-1:monthly_visit", **stored})

    read = await api.get(STATION_RULE, headers=caller(stations=("st-1",)))
    assert read.status_code == 200, read.text
    assert read.json()["rule"]["quiet_hours"] == {"start": "22:00:00", "end": "07:00:00"}
    assert await generate_duties(notify, local(2026, 11, 1)) > 0
    duty = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert duty is not None
    assert [r["occurrence"] for r in duty["reminders"]] == ["2026-11-01T07:00"], "06:30 local, out of quiet hours"
    await visit_logged(notify, "v-1", "h-1", "2026-11-12", at=local(2026, 11, 12, 18))  # not dead-lettered
    assert (await notify.db[DUTIES].find_one({"_id": duty["_id"]}) or {})["status"] == "fulfilled"
