"""The station hierarchy: every unit created or changed is announced (org_unit.*) with its name and
parent, a moved district takes its stations along, and a station stays in its district."""

from typing import Any

from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope

from tests.records.test_households_and_logs import outbox


def units(events: list[Envelope]) -> list[tuple[str, dict[str, Any], str | None, str | None]]:
    return [(e.type, e.data, e.station_id, e.district_id) for e in events if e.type.startswith("org_unit.")]


async def test_each_unit_created_is_announced_with_its_place(records, caller, station, mongo, unique) -> None:
    announced = units(await outbox(mongo, unique))
    assert announced[0] == (
        "org_unit.registered",
        {"unit_id": "r-guangxi", "level": "region", "name": "广西壮族自治区", "parent_id": None},
        None,
        None,
    )
    district = {"unit_id": "d-yufeng", "level": "district", "name": "鱼峰区", "parent_id": "c-liuzhou"}
    assert announced[2] == ("org_unit.registered", district, None, "d-yufeng")
    shengli = {"unit_id": "st-shengli", "level": "station", "name": "胜利社区联络站", "parent_id": "d-yufeng"}
    assert announced[3] == ("org_unit.registered", shengli, "st-shengli", "d-yufeng")
    assert len(announced) == 5
    outbox_docs = await mongo[f"records_{unique}"]["outbox"].find({"topic": "records.org.v1"}).to_list()
    assert sorted(doc["key"] for doc in outbox_docs) == sorted(e[1]["unit_id"] for e in announced)
    orphan = {"id": "st-x", "level": "station", "name": "x"}
    refused = await records.post("/v1/stations", json=orphan, headers=caller(Role.ADMIN))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "parent_required"
    assert len(units(await outbox(mongo, unique))) == 5  # nothing stored, nothing announced


async def test_a_district_moves_to_another_city_with_its_stations(records, caller, station, mongo, unique) -> None:
    admin = caller(Role.ADMIN)
    city = {"id": "c-guilin", "level": "city", "name": "桂林市", "parent_id": "r-guangxi"}
    assert (await records.post("/v1/stations", json=city, headers=admin)).status_code == 201
    read = await records.get("/v1/stations/d-yufeng", headers=admin)
    before_station = await records.get("/v1/stations/st-shengli", headers=admin)
    moved = await records.put(
        "/v1/stations/d-yufeng",
        json={"name": "鱼峰区（新）", "parent_id": "c-guilin"},
        headers={**admin, "If-Match": read.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["city_id"], moved.json()["name"], moved.headers["ETag"]) == ("c-guilin", "鱼峰区（新）", '"2"')
    for station_id in ("st-shengli", "st-other"):  # the stations below follow, their own parent unchanged
        shown = (await records.get(f"/v1/stations/{station_id}", headers=admin)).json()
        assert (shown["district_id"], shown["city_id"], shown["parent_id"]) == ("d-yufeng", "c-guilin", "d-yufeng")
    after_station = await records.get("/v1/stations/st-shengli", headers=admin)
    assert after_station.headers["ETag"] != before_station.headers["ETag"]
    assert (await records.get("/v1/stations/c-liuzhou", headers=admin)).json()["city_id"] == "c-liuzhou"
    last = units(await outbox(mongo, unique))[-1]
    updated = {"unit_id": "d-yufeng", "level": "district", "name": "鱼峰区（新）", "parent_id": "c-guilin"}
    assert last == ("org_unit.updated", updated, None, "d-yufeng")
    # A district supervisor still sees their stations: scope is by district, unchanged.
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-yufeng",))
    listed = (await records.get("/v1/stations", params={"level": "station"}, headers=supervisor)).json()
    assert [unit["id"] for unit in listed] == ["st-other", "st-shengli"]


async def test_a_change_is_refused_unless_admin_current_and_in_the_hierarchys_rules(
    records, caller, station, mongo, unique
) -> None:
    admin = caller(Role.ADMIN)
    read = await records.get("/v1/stations/st-shengli", headers=admin)
    current = {**admin, "If-Match": read.headers["ETag"]}
    renamed = {"name": "胜利联络站", "parent_id": "d-yufeng", "address": "柳州市胜利路1号"}
    for headers, body, status, code in (
        ({**caller(stations=("st-shengli",)), "If-Match": read.headers["ETag"]}, renamed, 403, "forbidden"),
        (admin, renamed, 428, "if_match_required"),
        ({**admin, "If-Match": '"7"'}, renamed, 412, "stale_version"),
        (current, {**renamed, "parent_id": "d-other"}, 422, "station_move_unsupported"),
        (current, {**renamed, "level": "district"}, 422, None),  # id and level never change
    ):
        refused = await records.put("/v1/stations/st-shengli", json=body, headers=headers)
        assert refused.status_code == status, refused.text
        assert code is None or refused.json()["error"]["code"] == code
    read_city = await records.get("/v1/stations/c-liuzhou", headers=admin)
    under_station = await records.put(
        "/v1/stations/c-liuzhou",
        json={"name": "柳州市", "parent_id": "st-shengli"},
        headers={**admin, "If-Match": read_city.headers["ETag"]},
    )
    assert under_station.status_code == 422 and under_station.json()["error"]["code"] == "invalid_parent"
    events_before = len(units(await outbox(mongo, unique)))
    done = await records.put("/v1/stations/st-shengli", json=renamed, headers=current)
    assert done.status_code == 200 and done.json()["address"] == "柳州市胜利路1号"
    assert units(await outbox(mongo, unique))[events_before:] == [
        (
            "org_unit.updated",
            {"unit_id": "st-shengli", "level": "station", "name": "胜利联络站", "parent_id": "d-yufeng"},
            "st-shengli",
            "d-yufeng",
        )
    ]
