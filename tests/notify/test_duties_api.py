"""/v1/duties: each caller sees the duties of their own scope, and nothing else exists for them."""

from collections.abc import AsyncIterator

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import generate_duties

from tests.apps import own_database
from tests.notify.duty_support import apply, envelope, household, local, own_notify


@pytest.fixture
async def notify(endpoints, keys, unique) -> AsyncIterator[Notify]:
    async with own_notify(endpoints, keys, unique) as notify:
        await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
        await household(notify, "h-2", "dep-b", at=local(2026, 10, 20))
        moved = {"household_id": "h-9", "station_id": "st-2", "previous_deputy_id": None, "deputy_id": "dep-a"}
        await apply(
            notify,
            envelope("assignment.changed", moved | {"reason": "新任"}, at=local(2026, 10, 20), district_id="d-2"),
        )
        await generate_duties(notify, local(2026, 11, 3))
        yield notify


@pytest.fixture
async def api(notify, endpoints, keys, unique) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("notify", endpoints, keys, unique) as client:
        yield client


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(duty["id"] for duty in response.json())


async def test_a_deputy_sees_their_own_duties_in_every_station(api, caller) -> None:
    deputy = caller(Role.DEPUTY, subject="dep-a", stations=("st-1",))
    mine = ["monthly_visit|2026-11|h-1", "monthly_visit|2026-11|h-9"]
    assert ids(await api.get("/v1/duties/mine", headers=deputy)) == mine
    assert ids(await api.get("/v1/duties", params={"station_id": "st-1"}, headers=deputy)) == mine[:1]
    assert ids(await api.get("/v1/duties", params={"deputy_id": "dep-b"}, headers=deputy)) == []
    assert (await api.get("/v1/duties/monthly_visit|2026-11|h-2", headers=deputy)).status_code == 404
    one = await api.get("/v1/duties/monthly_visit|2026-11|h-1", headers=deputy)
    assert one.json()["status"] == "open" and one.json()["reminders"][0] == "2026-11-01T09:00"


async def test_station_staff_and_supervisors_see_their_scope_by_period_and_status(api, caller) -> None:
    staff = caller(stations=("st-1",))
    station = await api.get("/v1/duties", params={"period_id": "2026-11"}, headers=staff)
    assert ids(station) == ["monthly_visit|2026-11|h-1", "monthly_visit|2026-11|h-2"]
    quarter = await api.get("/v1/duties", params={"period_id": "2026-Q4", "status": "open"}, headers=staff)
    assert ids(quarter) == ["quarterly_lecture|2026-Q4|st-1", "quarterly_study|2026-Q4|st-1"]
    assert ids(await api.get("/v1/duties", params={"status": "missed"}, headers=staff)) == []
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-2",))
    assert ids(await api.get("/v1/duties", params={"rule_id": "monthly_visit"}, headers=supervisor)) == [
        "monthly_visit|2026-11|h-9"
    ]
    assert (await api.get("/v1/duties", headers=caller(Role.AUDITOR, stations=("st-1",)))).status_code == 404
    bad = await api.get("/v1/duties", params={"status": "lost", "limit": 0}, headers=staff)
    assert bad.status_code == 422 and {p["field"] for p in bad.json()["error"]["problems"]} == {"status", "limit"}
