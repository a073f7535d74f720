"""Through the real bus: records assigns a deputy and logs a visit → relay → Kafka → notify's consumer."""

from datetime import UTC, datetime

from liaison_infra.auth import Role
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services
from liaison_notify.adapters.duties_store import DUTIES

from tests.apps import add_station, bus_settings, serve
from tests.infra.support import running, wait_until


async def test_a_visit_logged_in_records_fulfils_the_assigned_deputys_monthly_visit(
    endpoints, keys, unique, caller, mongo
) -> None:
    records_settings = bus_settings("records", endpoints, keys, unique)
    notify_settings = bus_settings("notify", endpoints, keys, unique, service_name=f"notify-{unique}")
    services = installed_services()
    records_runtime = Runtime(records_settings, services["records"].spec)
    notify_runtime = Runtime(notify_settings, services["notify"].spec)
    admin, staff = caller(Role.ADMIN), caller(stations=("st-1",))
    today = datetime.now(UTC).date()
    notify_db = mongo[f"notify_{unique}"]

    async def known(household_id: str) -> bool:
        return bool(await notify_db["households"].find_one({"_id": household_id, "deputy_id": {"$ne": None}}))

    async with (
        serve("records", records_settings) as records,
        running(records_runtime.relay()),
        running(notify_runtime.consumer()),
    ):
        await add_station(records, admin, "st-1")
        new_deputy = {"name": "李华", "level": "district", "station_ids": ["st-1"]}
        deputy = (await records.post("/v1/deputies", json=new_deputy, headers=staff)).json()["id"]
        returnee = {"station_id": "st-1", "category": "returnee", "name": "陈小明"}
        person = (await records.post("/v1/people", json=returnee, headers=staff)).json()["id"]
        members = [{"person_id": person, "relation_to_head": "self"}]
        created = await records.post("/v1/households", json={"station_id": "st-1", "members": members}, headers=staff)
        assert created.status_code == 201, created.text
        household = created.json()["id"]
        assigned = await records.put(
            f"/v1/households/{household}/deputy",
            json={"deputy_id": deputy},
            headers={**staff, "If-Match": created.headers["ETag"]},
        )
        assert assigned.status_code == 200, assigned.text
        await wait_until(lambda: known(household), within=60)
        visit = {
            "station_id": "st-1",
            "kind": "household_visit",
            "visited_on": today.isoformat(),
            "deputy_ids": [deputy],
            "household_ids": [household],
        }
        logged = await records.post("/v1/visits", json=visit, headers=staff)
        assert logged.status_code == 201, logged.text
        duty_id = f"monthly_visit|{today:%Y-%m}|{household}"

        async def fulfilled() -> bool:
            duty = await notify_db[DUTIES].find_one({"_id": duty_id})
            return bool(duty and duty["status"] == "fulfilled")

        await wait_until(fulfilled, within=60)
    duty = await notify_db[DUTIES].find_one({"_id": duty_id})
    assert duty is not None
    assert (duty["deputy_id"], duty["district_id"], duty["fulfilled_by"]) == (
        deputy,
        "d-1",
        f"visit:{logged.json()['id']}",
    )
    stored = await notify_db["households"].find_one({"_id": household})
    assert stored is not None and stored["deputy_id"] == deputy and stored["district_id"] == "d-1"
    await records_runtime.close()
    await notify_runtime.close()
