"""Case events keep each file's list of the cases its person raised: the kept file of a merge
carries its duplicate's cases, and an erased file shows none."""

from datetime import UTC, datetime
from uuid import uuid4

from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime
from liaison_records.bootstrap import SPEC

from tests.apps import consume, service_settings
from tests.records.people_data import chen, lin


def case_event(case_id: str, state: str, originators: list[str]) -> Envelope:
    data = {"case_id": case_id, "state": state, "title": "楼道灯坏了", "originators": originators}
    return Envelope(
        source="cases",
        type="case.assigned",
        subject=case_id,
        time=datetime.now(UTC),
        dataschema="urn:liaison:case.assigned:v1",
        station_id="st-shengli",
        district_id="d-yufeng",
        correlationid=uuid4().hex,
        data=data,
    )


async def test_a_case_reaches_the_kept_file_of_a_merge_and_never_an_erased_one(
    records, caller, station, endpoints, keys, unique, mongo
) -> None:
    headers = caller(stations=("st-shengli",))
    keep = (await records.post("/v1/people", json=chen(id_number=None), headers=headers)).json()
    again = {"allow_duplicates": "true"}
    twin = (await records.post("/v1/people", params=again, json=chen(), headers=headers)).json()
    gone = (await records.post("/v1/people", json=lin(), headers=headers)).json()
    merge = {"duplicate_id": twin["id"]}
    merged = await records.post(f"/v1/people/{keep['id']}/merge", json=merge, headers={**headers, "If-Match": '"1"'})
    assert merged.status_code == 200, merged.text
    assert (await records.post(f"/v1/people/{gone['id']}/erase", headers=headers)).status_code == 200
    runtime = Runtime(service_settings("records", endpoints, keys, mongodb_database=f"records_{unique}"), SPEC)
    try:
        await consume(runtime, case_event("c-1", "assigned", [twin["id"], gone["id"]]))
    finally:
        await runtime.close()

    people = mongo[f"records_{unique}"]["people"]
    kept = await people.find_one({"_id": keep["id"]})
    assert [(c["case_id"], c["status"]) for c in kept["cases"]] == [("c-1", "assigned")]
    history = (await records.get(f"/v1/people/{keep['id']}/history", headers=headers)).json()
    assert [(h["field"], h["before"], h["after"], h["by"]) for h in history][-1] == (
        "cases.c-1",
        None,
        "assigned",
        "cases",
    )
    assert history[-1]["version"] == kept["version"], "the version the change made"
    tombstone = await people.find_one({"_id": gone["id"]})
    assert tombstone.get("cases", []) == [] and "楼道灯坏了" not in str(tombstone)
