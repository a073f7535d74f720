"""/v1/statistics: scope per role, small cells suppressed for aggregates-only roles, bad queries
answered 422 with details, and the admin's rebuild giving the same figures."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_infra.clock import CHINA

from tests.apps import Caller, serve, service_settings

MIN_CELL = 3
MONTH = datetime.now(CHINA).strftime("%Y-%m")


@pytest.fixture
async def cases(endpoints, keys, unique) -> AsyncIterator[httpx.AsyncClient]:
    settings = service_settings(
        "cases", endpoints, keys, mongodb_database=f"cases_{unique}", statistics_min_cell=MIN_CELL
    )
    async with serve("cases", settings) as client:
        yield client


async def open_case(cases: httpx.AsyncClient, caller: Caller, station: str, district: str, category: str) -> str:
    body = {"station_id": station, "district_id": district, "kind": "request", "category": category}
    opened = await cases.post(
        "/v1/cases", json={**body, "title": "路灯", "content": "路灯坏了"}, headers=caller(stations=(station,))
    )
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["id"]
    return case_id


async def assign(cases: httpx.AsyncClient, caller: Caller, case_id: str, station: str, department: str) -> None:
    staff = caller(stations=(station,))
    for version, action, payload in ((1, "submit", {}), (2, "assign", {"lead_department_id": department})):
        done = await cases.post(
            f"/v1/cases/{case_id}/{action}", json=payload, headers={**staff, "If-Match": f'"{version}"'}
        )
        assert done.status_code == 200, done.text


async def figures(cases: httpx.AsyncClient, headers: dict[str, str], **params: str) -> httpx.Response:
    return await cases.get("/v1/statistics", params={"period": MONTH, **params}, headers=headers)


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in report["rows"]}


@pytest.fixture
async def opened(cases, caller) -> list[str]:
    """st-1 (d-1): three road cases (two assigned to dept-roads) and one housing case; st-2 (d-2): one."""
    department = {"id": "dept-roads", "name": "区住建局"}
    assert (await cases.put("/v1/departments/dept-roads", json=department, headers=caller(Role.ADMIN))).is_success
    ids = [await open_case(cases, caller, "st-1", "d-1", "roads_and_infrastructure") for _ in range(3)]
    ids.append(await open_case(cases, caller, "st-1", "d-1", "housing"))
    ids.append(await open_case(cases, caller, "st-2", "d-2", "housing"))
    await assign(cases, caller, ids[0], "st-1", "dept-roads")
    await assign(cases, caller, ids[1], "st-1", "dept-roads")
    await assign(cases, caller, ids[4], "st-2", "dept-roads")
    return ids


async def test_each_role_sees_the_figures_of_its_scope(cases, caller, opened) -> None:
    staff = caller(stations=("st-1",))
    mine = (await figures(cases, staff, dimension="category")).json()
    assert mine["total"]["collected"] == 4 and mine["suppressed_below"] is None
    assert {k: r["collected"] for k, r in by_key(mine).items()} == {"housing": 1, "roads_and_infrastructure": 3}
    assert by_key(mine)["roads_and_infrastructure"]["in_progress"] == 3
    assert (await figures(cases, staff, dimension="station", station_id="st-2")).status_code == 404

    admin = (await figures(cases, caller(Role.ADMIN), dimension="station")).json()
    assert {k: r["collected"] for k, r in by_key(admin).items()} == {"st-1": 4, "st-2": 1}

    roads = caller(Role.DEPARTMENT_HANDLER, subject="h-roads", department="dept-roads")
    theirs = (await figures(cases, roads, dimension="department")).json()
    assert [(r["key"], r["collected"]) for r in theirs["rows"]] == [("dept-roads", 3)]
    by_station = (await figures(cases, roads, dimension="station")).json()
    assert {k: r["collected"] for k, r in by_key(by_station).items()} == {"st-1": 2, "st-2": 1}
    refused = await figures(cases, roads, dimension="category")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "department_figures_only"


async def test_scopes_of_several_places_and_filters_within_them(cases, caller, opened) -> None:
    def collected(report: dict[str, Any]) -> dict[str, int]:
        return {key: row["collected"] for key, row in by_key(report).items()}

    two = caller(stations=("st-1", "st-2"))
    assert collected((await figures(cases, two, dimension="station")).json()) == {"st-1": 4, "st-2": 1}
    assert collected((await figures(cases, two, dimension="district", station_id="st-2")).json()) == {"d-2": 1}
    mixed = caller(stations=("st-2",), districts=("d-1",))  # station or district: either kind of scope
    assert collected((await figures(cases, mixed, dimension="station")).json()) == {"st-1": 4, "st-2": 1}
    # A filter of the other kind than the scope narrows it: st-2 is not in d-1.
    outside = (await figures(cases, caller(districts=("d-1",)), dimension="station", station_id="st-2")).json()
    assert outside["total"]["collected"] == 0 and outside["rows"] == []


async def test_small_cells_are_suppressed_for_aggregates_only_roles(cases, caller, opened) -> None:
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))
    report = (await figures(cases, supervisor, dimension="category")).json()
    assert report["suppressed_below"] == MIN_CELL
    rows = by_key(report)
    assert (
        rows["roads_and_infrastructure"]["suppressed"] is False and rows["roads_and_infrastructure"]["collected"] == 3
    )
    assert rows["housing"]["suppressed"] is True and rows["housing"]["collected"] is None  # marked, not zero
    assert report["total"]["suppressed"] is False and report["total"]["collected"] == 4
    auditor = caller(Role.AUDITOR, stations=("st-2",))
    hidden = (await figures(cases, auditor, dimension="department")).json()
    assert hidden["total"] == {**dict.fromkeys(hidden["total"]), "key": None, "suppressed": True}
    assert (await figures(cases, supervisor, dimension="station", district_id="d-2")).status_code == 404


async def test_bad_queries_are_refused_with_details_and_change_nothing(cases, caller, opened) -> None:
    admin = caller(Role.ADMIN)
    before = (await figures(cases, admin, dimension="category")).json()
    for params, field in (
        ({"dimension": "category", "period": "2026-13"}, "period"),
        ({"dimension": "galaxy"}, "dimension"),
        ({"dimension": "category", "colour": "red"}, "colour"),
        ({}, "dimension"),
    ):
        refused = await figures(cases, admin, **params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["error"]["field"] == field, refused.json()
    assert (await cases.post("/v1/statistics/rebuild", headers=caller(stations=("st-1",)))).status_code == 403
    rebuilt = await cases.post("/v1/statistics/rebuild", headers=admin)
    # Two stations, a month and a year each.
    assert rebuilt.status_code == 200 and rebuilt.json() == {"cells": 4, "settled": True}
    assert (await figures(cases, admin, dimension="category")).json() == before
    quarter = f"{MONTH[:4]}-Q{(int(MONTH[5:]) + 2) // 3}"
    assert (await figures(cases, admin, dimension="month", period=quarter)).json()["rows"][0]["key"] == MONTH
