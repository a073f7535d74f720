"""Scope on every endpoint: another station's staff finds nothing of this station's and can
change nothing of it; what exists there is answered as not found, never as forbidden."""

from datetime import UTC, datetime

from tests.records.people_data import chen, lin
from tests.records.test_households_and_logs import make_deputy
from tests.records.test_imports import GOOD, XLSX, roster

MINE = ("st-shengli",)


async def test_another_stations_staff_sees_and_changes_nothing(records, caller, station, mongo, unique) -> None:
    headers = caller(stations=MINE)
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    spouse = (await records.post("/v1/people", json=lin(), headers=headers)).json()["id"]
    members = [{"person_id": head, "relation_to_head": "self"}, {"person_id": spouse, "relation_to_head": "spouse"}]
    household = (
        await records.post("/v1/households", json={"station_id": "st-shengli", "members": members}, headers=headers)
    ).json()["id"]
    deputy = await make_deputy(records, caller, "李华")
    other_deputy = await make_deputy(records, caller, "王芳")
    today = datetime.now(UTC).date().isoformat()
    visit = {"station_id": "st-shengli", "kind": "household_visit", "visited_on": today, "deputy_ids": [deputy]}
    visit["household_ids"] = [household]
    assert (await records.post("/v1/visits", json=visit, headers=headers)).status_code == 201
    activity = {"station_id": "st-shengli", "kind": "lecture", "held_on": today, "title": "侨法宣讲", "attendees": 9}
    assert (await records.post("/v1/activities", json=activity, headers=headers)).status_code == 201
    upload = await records.post(
        "/v1/imports", params={"station_id": "st-shengli"}, content=roster(GOOD), headers={**headers, **XLSX}
    )
    imported = upload.json()["id"]
    db = mongo[f"records_{unique}"]
    before = {name: await db[name].find({}).sort("_id").to_list() for name in ("people", "households", "deputies")}

    outsider = caller(stations=("st-other",))
    hidden = [
        ("GET", f"/v1/people/{head}", None),
        ("GET", f"/v1/people/{head}/history", None),
        ("PATCH", f"/v1/people/{head}", {"name": "陈大明"}),
        ("POST", f"/v1/people/{head}/close", {"status": "moved_away"}),
        ("POST", f"/v1/people/{head}/merge", {"duplicate_id": spouse}),
        ("POST", f"/v1/people/{head}/erase", None),
        ("GET", f"/v1/households/{household}", None),
        ("PUT", f"/v1/households/{household}", {"members": members[:1]}),
        ("PUT", f"/v1/households/{household}/deputy", {"deputy_id": deputy}),
        ("GET", f"/v1/deputies/{deputy}", None),
        ("PUT", f"/v1/deputies/{deputy}", {"name": "李华", "level": "district", "station_ids": ["st-shengli"]}),
        ("POST", f"/v1/deputies/{deputy}/handover", {"to_deputy_id": other_deputy, "reason": "换届"}),
        ("GET", f"/v1/imports/{imported}", None),
        ("PUT", f"/v1/imports/{imported}/mapping", {}),
        ("POST", f"/v1/imports/{imported}/commit", {}),
        ("POST", "/v1/visits", visit),
        ("POST", "/v1/activities", activity),
        ("POST", "/v1/imports?station_id=st-shengli", None),
    ]
    for method, path, body in hidden:
        extra = {} if method == "GET" else {"If-Match": '"1"'}  # the version is right: only scope refuses
        response = await records.request(method, path, json=body, headers={**outsider, **extra})
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert response.json()["error"]["code"], (method, path)

    mine = {"station_id": "st-shengli"}  # naming this station narrows the outsider's scope, never widens it
    empty = [
        ("/v1/people", {}),
        ("/v1/people", mine),
        ("/v1/households", {}),
        ("/v1/households", mine),
        ("/v1/deputies", {}),
        ("/v1/deputies", mine),
        ("/v1/visits", {}),
        ("/v1/visits", mine),
        ("/v1/activities", {}),
        ("/v1/activities", mine),
        ("/v1/people/lookup", {"phone": "13877212345"}),
    ]
    for path, params in empty:
        listed = (await records.get(path, params=params, headers=outsider)).json()
        items = listed["items"] if isinstance(listed, dict) else listed
        assert items == [], (path, listed)
    exported = await records.get("/v1/people/export", headers=outsider)
    assert exported.status_code == 200 and "陈小明".encode() not in exported.content
    after = {name: await db[name].find({}).sort("_id").to_list() for name in ("people", "households", "deputies")}
    assert after == before
