"""Bulletins (通报): issued by station staff, frozen (later case edits do not change them), one per
station and period, read within scope, small cells suppressed for aggregates-only roles."""

from liaison_infra.auth import Role

from tests.cases.test_statistics_api import MIN_CELL, MONTH, cases, figures, open_case, opened

__all__ = ["cases", "opened"]  # fixtures shared with the statistics API tests


async def test_a_bulletin_is_frozen_and_read_within_scope(cases, caller, opened) -> None:
    staff = caller(stations=("st-1",))
    issued = await cases.post("/v1/bulletins", json={"station_id": "st-1", "period": MONTH}, headers=staff)
    assert issued.status_code == 201, issued.text
    bulletin = issued.json()
    assert bulletin["id"] == f"b-st-1-{MONTH}" and bulletin["district_id"] == "d-1"
    assert bulletin["total"]["collected"] == 4 and bulletin["issued_by"] == "staff-1"
    assert {row["key"]: row["collected"] for row in bulletin["category"]} == {
        "housing": 1,
        "roads_and_infrastructure": 3,
    }

    # Later edits move the statistics, never the bulletin.
    await open_case(cases, caller, "st-1", "d-1", "housing")
    roads = caller(Role.DEPARTMENT_HANDLER, subject="h-roads", department="dept-roads")
    for version, action, payload in ((3, "start", {}), (4, "reply", {"result": "A", "text": "已修复"})):
        done = await cases.post(
            f"/v1/cases/{opened[0]}/{action}", json=payload, headers={**roads, "If-Match": f'"{version}"'}
        )
        assert done.status_code == 200, done.text
    live = (await figures(cases, staff, dimension="category")).json()["total"]
    assert (live["collected"], live["resolved"], bulletin["total"]["resolved"]) == (5, 1, 0)
    read = await cases.get(f"/v1/bulletins/{bulletin['id']}", headers=staff)
    assert read.status_code == 200 and read.json() == {**bulletin, "suppressed_below": None}

    again = await cases.post("/v1/bulletins", json={"station_id": "st-1", "period": MONTH}, headers=staff)
    assert again.status_code == 409 and again.json()["error"]["code"] == "bulletin_exists"
    assert (await cases.get(f"/v1/bulletins/{bulletin['id']}", headers=staff)).json() == read.json()

    listed = await cases.get("/v1/bulletins", params={"period": MONTH}, headers=staff)
    assert [b["id"] for b in listed.json()] == [bulletin["id"]]
    other = caller(stations=("st-2",))
    assert (await cases.get("/v1/bulletins", headers=other)).json() == []
    assert (await cases.get(f"/v1/bulletins/{bulletin['id']}", headers=other)).status_code == 404
    handler = caller(Role.DEPARTMENT_HANDLER, department="dept-roads")
    assert (await cases.get("/v1/bulletins", headers=handler)).status_code == 403

    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))
    seen = (await cases.get(f"/v1/bulletins/{bulletin['id']}", headers=supervisor)).json()
    assert seen["suppressed_below"] == MIN_CELL and seen["total"]["collected"] == 4
    rows = {row["key"]: row for row in seen["category"]}
    assert rows["housing"] == {**dict.fromkeys(rows["housing"]), "key": "housing", "suppressed": True}
    assert rows["roads_and_infrastructure"]["collected"] == 3


async def test_only_station_staff_issue_bulletins_for_their_own_station(cases, caller, opened) -> None:
    body = {"station_id": "st-1", "period": MONTH}
    deputy = await cases.post("/v1/bulletins", json=body, headers=caller(Role.DEPUTY, stations=("st-1",)))
    assert deputy.status_code == 403
    elsewhere = await cases.post("/v1/bulletins", json=body, headers=caller(stations=("st-2",)))
    assert elsewhere.status_code == 404
    staff = caller(stations=("st-1",))
    for bad, field in (({**body, "period": "Q3"}, "period"), ({"period": MONTH}, "station_id")):
        refused = await cases.post("/v1/bulletins", json=bad, headers=staff)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field
    assert (await cases.get("/v1/bulletins", headers=staff)).json() == []  # nothing was stored
    year = await cases.post("/v1/bulletins", json={**body, "period": MONTH[:4]}, headers=staff)
    assert year.status_code == 201 and year.json()["total"]["collected"] == 4
