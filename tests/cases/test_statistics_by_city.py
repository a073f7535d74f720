"""Figures by city: each city sums its districts' stations' cells, placed through the hierarchy
records announces at query time, so a moved station or district moves its figures; a caller sees
only the stations of their scope. Through the real bus, a district moved in records moves them."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from liaison_cases.domain.cases import Category, Kind
from liaison_cases.domain.statistics import Period
from liaison_cases.service_layer import cases as handlers
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.statistics import Dimension, StatisticsQuery, statistics
from liaison_infra.auth import Principal, Role
from liaison_infra.clock import CHINA

from tests.apps import Caller, serve
from tests.cases.org_events import place
from tests.cases.runtimes import cases_service, records_and_cases
from tests.infra.support import running, wait_until

# Station: (district, cases opened there). d-1 and d-2 are in c-1, d-3 in c-2; st-e is unplaced.
OPENED = {"st-a": ("d-1", 3), "st-b": ("d-1", 2), "st-c": ("d-2", 4), "st-d": ("d-3", 1), "st-e": ("d-9", 1)}
ADMIN = Principal("admin", frozenset({Role.ADMIN}), frozenset(), frozenset())
MONTH = datetime.now(CHINA).strftime("%Y-%m")


@pytest.fixture
async def service(endpoints, keys, unique) -> AsyncIterator[Cases]:
    async with cases_service(endpoints, keys, unique) as cases:
        staff = Principal("staff", frozenset({Role.STATION_STAFF}), frozenset(OPENED), frozenset())
        for station, (district, count) in OPENED.items():
            for n in range(count):
                await handlers.open_case(
                    cases,
                    staff,
                    station_id=station,
                    district_id=district,
                    kind=Kind.REQUEST,
                    category=Category.HOUSING,
                    title="t",
                    content="c",
                    originators=[],
                    case_id=f"c-{station}-{n}",
                )
        for unit, parent in (("st-a", "d-1"), ("st-b", "d-1"), ("st-c", "d-2"), ("st-d", "d-3")):
            await place(cases, unit, parent)
        for unit, parent in (("d-1", "c-1"), ("d-2", "c-1"), ("d-3", "c-2"), ("c-1", "r-1"), ("c-2", "r-1")):
            await place(cases, unit, parent)
        yield cases


async def by_city(cases: Cases, principal: Principal = ADMIN, **filters: str) -> dict[str | None, int]:
    query = StatisticsQuery(Dimension.CITY, Period.parse(MONTH[:4]), **filters)
    report = await statistics(cases, principal, query, min_cell=3)
    rows = {row["key"]: row["collected"] for row in report["rows"]}
    assert report["dimension"] == "city" and report["total"]["collected"] == sum(v or 0 for v in rows.values())
    return rows


async def test_a_city_sums_its_districts_stations_and_follows_moves(service: Cases) -> None:
    assert await by_city(service) == {"c-1": 9, "c-2": 1, None: 1}  # st-e: records has not placed it
    # A station moved to another district of another city, then a district moved to that city.
    later = datetime.now(UTC) + timedelta(seconds=1)
    await place(service, "st-b", "d-3", at=later, kind="updated")
    assert await by_city(service) == {"c-1": 7, "c-2": 3, None: 1}
    await place(service, "d-2", "c-2", at=later, kind="updated")
    await place(service, "st-e", "d-3", at=later)
    assert await by_city(service) == {"c-1": 3, "c-2": 8}
    # An older event arriving late (another topic's order, a replay) changes nothing.
    await place(service, "d-2", "c-1", at=later - timedelta(minutes=5), kind="updated")
    assert await by_city(service) == {"c-1": 3, "c-2": 8}


async def test_a_caller_sees_only_the_stations_of_their_scope(service: Cases) -> None:
    two_stations = Principal("staff", frozenset({Role.STATION_STAFF}), frozenset({"st-b", "st-d"}), frozenset())
    assert await by_city(service, two_stations) == {"c-1": 2, "c-2": 1}
    supervisor = Principal("sup", frozenset({Role.DISTRICT_SUPERVISOR}), frozenset(), frozenset({"d-1", "d-3"}))
    report = await statistics(service, supervisor, StatisticsQuery(Dimension.CITY, Period.parse(MONTH)), min_cell=3)
    rows = {row["key"]: row for row in report["rows"]}
    assert rows["c-1"]["collected"] == 5 and rows["c-1"]["suppressed"] is False
    assert rows["c-2"] == {**dict.fromkeys(rows["c-2"]), "key": "c-2", "suppressed": True}  # one case: too few
    assert await by_city(service, station_id="st-c") == {"c-1": 4}
    assert await by_city(service, district_id="d-3") == {"c-2": 1}


async def figures_by_city(cases: httpx.AsyncClient, headers: dict[str, str], *cities: str) -> dict[str, int]:
    """The rows of ``cities``: the consumer also opens cases from other tests' visits."""
    response = await cases.get("/v1/statistics", params={"dimension": "city", "period": MONTH}, headers=headers)
    assert response.status_code == 200, response.text
    return {row["key"]: row["collected"] for row in response.json()["rows"] if row["key"] in cities}


async def test_a_district_moved_in_records_moves_its_figures_to_the_new_city(
    endpoints, keys, unique, caller: Caller, mongo
) -> None:
    records_settings, cases_settings, records_runtime, cases_runtime = records_and_cases(endpoints, keys, unique)
    admin = caller(Role.ADMIN)
    # Ids of this test's own: the cases consumer also reads other tests' hierarchies.
    region, first, second, district, station = (f"{kind}-{unique}" for kind in ("r", "c1", "c2", "d", "st"))
    other_district, other_station = f"d2-{unique}", f"st2-{unique}"
    org_units = mongo[f"cases_{unique}"]["org_units"]

    async def placed(unit: str, parent: str) -> bool:
        return bool(await org_units.find_one({"_id": unit, "parent_id": parent}))

    async with (
        serve("records", records_settings) as records,
        serve("cases", cases_settings) as cases,
        running(records_runtime.relay()),
        running(cases_runtime.consumer()),
    ):
        for unit in (
            {"id": region, "level": "region", "name": "广西壮族自治区"},
            {"id": first, "level": "city", "name": "柳州市", "parent_id": region},
            {"id": second, "level": "city", "name": "桂林市", "parent_id": region},
            {"id": district, "level": "district", "name": "鱼峰区", "parent_id": first},
            {"id": other_district, "level": "district", "name": "秀峰区", "parent_id": second},
            {"id": station, "level": "station", "name": "胜利社区联络站", "parent_id": district},
            {"id": other_station, "level": "station", "name": "秀峰联络站", "parent_id": other_district},
        ):
            assert (await records.post("/v1/stations", json=unit, headers=admin)).status_code == 201
        for at, within, count in ((station, district, 2), (other_station, other_district, 1)):
            for _ in range(count):
                body = {"station_id": at, "district_id": within, "kind": "request", "category": "housing"}
                opened = await cases.post(
                    "/v1/cases", json={**body, "title": "路灯", "content": "坏了"}, headers=caller(stations=(at,))
                )
                assert opened.status_code == 201, opened.text
        await wait_until(lambda: placed(station, district), within=60)
        await wait_until(lambda: placed(district, first), within=60)
        await wait_until(lambda: placed(other_station, other_district), within=60)
        await wait_until(lambda: placed(other_district, second), within=60)
        assert await figures_by_city(cases, admin, first, second) == {first: 2, second: 1}

        read = await records.get(f"/v1/stations/{district}", headers=admin)
        moved = await records.put(
            f"/v1/stations/{district}",
            json={"name": "鱼峰区", "parent_id": second},
            headers={**admin, "If-Match": read.headers["ETag"]},
        )
        assert moved.status_code == 200, moved.text
        await wait_until(lambda: placed(district, second), within=60)
        assert await figures_by_city(cases, admin, first, second) == {second: 3}
        assert await figures_by_city(cases, caller(stations=(station,)), first, second) == {second: 2}
    await records_runtime.close()
    await cases_runtime.close()
