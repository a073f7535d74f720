"""People's files through the records API, against the real servers."""

import asyncio
from typing import Any

import httpx
from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services
from liaison_records.domain.events import PERSON_TOPIC

from tests.apps import bus_settings
from tests.infra.support import read_topic, relayed_everything, running, wait_until
from tests.records.people_data import CHEN, chen, lin


async def register(records, caller, body, **params) -> httpx.Response:
    return await records.post("/v1/people", json=body, params=params, headers=caller(stations=("st-shengli",)))


async def test_a_registered_file_is_masked_versioned_and_encrypted_at_rest(
    records, caller, station, endpoints, mongo, unique
) -> None:
    response = await register(records, caller, chen())
    assert response.status_code == 201, response.text
    person = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/v1/people/{person['id']}"
    assert person["name"] == "陈小明" and person["station_id"] == "st-shengli" and person["district_id"] == "d-yufeng"
    assert person["pinyin"] == "chen xiao ming"  # derived, as the search reads it
    assert person["birth_date"] == "1948-05-03" and person["gender"] == "male"  # derived from the ID number
    assert person["id_number"] == CHEN[:4] + "*" * 12 + CHEN[-2:]
    assert person["phones"] == ["138****2345"]
    assert person["address"]["community"] == "胜利社区" and "胜利路12号" not in person["address"]["detail"]
    raw = await mongo[f"records_{unique}"]["people"].find_one({"_id": person["id"]})
    flat = str(raw)
    assert CHEN not in flat and "13877212345" not in flat and "胜利路12号" not in flat


async def test_reveal_is_for_staff_only_and_audited(records, caller, station, mongo, unique) -> None:
    person = (await register(records, caller, chen())).json()
    revealed = await records.get(
        f"/v1/people/{person['id']}", params={"reveal": "true"}, headers=caller(stations=("st-shengli",))
    )
    assert revealed.status_code == 200
    assert revealed.json()["id_number"] == CHEN and revealed.json()["phones"] == ["13877212345"]
    deputy = caller(Role.DEPUTY, stations=("st-shengli",), subject="deputy-li")
    assert (await records.get(f"/v1/people/{person['id']}", headers=deputy)).json()["phones"] == ["138****2345"]
    refused = await records.get(f"/v1/people/{person['id']}", params={"reveal": "true"}, headers=deputy)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    audit = await mongo[f"records_{unique}"]["audit"].find({}, {"_id": 0, "action": 1, "subject": 1, "by": 1}).to_list()
    assert audit == [{"action": "reveal_person", "subject": person["id"], "by": "staff-1"}]
    # Like every document, audit and history entries say where: the station and its district.
    for kept in ("audit", "history"):
        where = await mongo[f"records_{unique}"][kept].find_one({}, {"_id": 0, "station_id": 1, "district_id": 1})
        assert where == {"station_id": "st-shengli", "district_id": "d-yufeng"}, kept


async def test_the_same_id_number_is_refused_and_nothing_is_added(records, caller, station, mongo, unique) -> None:
    first = (await register(records, caller, chen())).json()
    again = await register(records, caller, chen(name="陈晓明", phones=[]))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_id_number"
    assert again.json()["error"]["existing_id"] == first["id"]
    listed = await records.get("/v1/people", headers=caller(stations=("st-shengli",)))
    assert [p["id"] for p in listed.json()["items"]] == [first["id"]]
    outsider = caller(stations=("st-other",))
    elsewhere = await records.post("/v1/people", json=chen(station_id="st-other"), headers=outsider)
    assert elsewhere.status_code == 409 and elsewhere.json()["error"]["code"] == "duplicate_id_number"
    assert "existing_id" not in elsewhere.json()["error"] and "st-shengli" not in elsewhere.text
    # Only the outsider learnt of a file they cannot see: the file keeps who asked.
    audit = mongo[f"records_{unique}"]["audit"].find({}, {"_id": 0, "action": 1, "subject": 1, "roles": 1})
    assert await audit.to_list() == [
        {"action": "told_on_file_elsewhere", "subject": first["id"], "roles": ["station_staff"]}
    ]


async def test_likely_duplicates_are_returned_for_the_user_to_decide(records, caller, station) -> None:
    first = (await register(records, caller, lin())).json()
    same_phone = lin(id_number=None, name="林梅华")
    response = await register(records, caller, same_phone)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "possible_duplicates"
    assert response.json()["error"]["field"] == "allow_duplicates"
    assert [c["id"] for c in response.json()["error"]["candidates"]] == [first["id"]]
    kept = await register(records, caller, same_phone, allow_duplicates="true")
    assert kept.status_code == 201


async def test_bad_input_gets_a_422_naming_the_field_and_stores_nothing(records, caller, station) -> None:
    cases = [
        (chen(id_number=CHEN[:-1] + ("0" if CHEN[-1] != "0" else "1")), "id_number", "id_number_check_digit"),
        (chen(country="XX"), "country", None),
        (chen(country="CN"), "country", None),  # coming back from China makes nobody a 归侨
        (chen(birth_date="1950-01-01"), "birth_date", "birth_date_mismatch"),
        (chen(category="alien"), "category", None),
        (chen(relation="spouse"), "relation", None),
        ({**chen(), "shoe_size": 42}, "shoe_size", None),
        (chen(status="erased"), "status", "erased_by_erasure"),
    ]
    for body, field, code in cases:
        response = await register(records, caller, body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        assert error["field"] == field, error
        if code is not None:
            assert error["code"] == code, error
    listed = await records.get("/v1/people", headers=caller(stations=("st-shengli",)))
    assert listed.json()["items"] == []
    suriname = await register(records, caller, chen(country="sr"))  # any ISO 3166-1 country abroad
    assert suriname.status_code == 201 and suriname.json()["country"] == "SR"


async def test_changes_need_the_current_version_and_are_kept_field_by_field(records, caller, station) -> None:
    headers = caller(stations=("st-shengli",))
    person = (await register(records, caller, chen())).json()
    url = f"/v1/people/{person['id']}"
    changed = await records.patch(
        url,
        json={"hardship": ["living_alone", "chronic_illness"], "address": {"building": "4栋"}},
        headers={**headers, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["address"]["community"] == "胜利社区" and changed.json()["address"]["building"] == "4栋"
    stale = await records.patch(url, json={"name": "陈大明"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["error"] == {**stale.json()["error"], "code": "stale_version", "current_version": 2}
    missing = await records.patch(url, json={"name": "陈大明"}, headers=headers)
    assert missing.status_code == 428
    bad = await records.patch(url, json={"phones": ["not a phone" * 30]}, headers={**headers, "If-Match": '"2"'})
    assert bad.status_code == 422
    nothing = await records.patch(url, json={"phones": ["（ - ）"]}, headers={**headers, "If-Match": '"2"'})
    assert nothing.status_code == 422 and nothing.json()["error"]["field"].startswith("phones")
    erased = await records.patch(url, json={"status": "erased"}, headers={**headers, "If-Match": '"2"'})
    assert erased.status_code == 422 and erased.json()["error"]["code"] == "erased_by_erasure"
    assert (await records.get(url, headers=headers)).json()["name"] == "陈小明"
    moved = {"phones": ["13977250000"], "address": {"detail": "胜利路14号2栋101"}}
    assert (await records.patch(url, json=moved, headers={**headers, "If-Match": '"2"'})).status_code == 200
    history = (await records.get(f"{url}/history", headers=headers)).json()
    assert [(h["field"], h["before"], h["after"]) for h in history] == [
        ("*", None, "registered"),
        ("address.building", "华侨新村3栋", "4栋"),
        ("hardship", ["living_alone"], ["living_alone", "chronic_illness"]),
        # Masked as the file shows them: no street, no house number, no room.
        ("address.detail", "柳州市鱼峰区" + "*" * 14, "*" * 11),
        ("phones", ["138****2345"], ["139****0000"]),
    ]
    assert all(h["by"] == "staff-1" for h in history)


async def test_a_stored_file_todays_rules_refuse_is_read_as_stored_and_corrected_by_an_update(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=("st-shengli",))
    person = (await register(records, caller, chen())).json()
    url = f"/v1/people/{person['id']}"
    people = mongo[f"records_{unique}"]["people"]
    await people.update_one({"_id": person["id"]}, {"$set": {"category": "overseas"}})  # refused since
    stored = await people.find_one({"_id": person["id"]})

    revealed = await records.get(url, params={"reveal": "true"}, headers=headers)
    assert revealed.status_code == 200 and revealed.json()["category"] == "overseas"
    assert revealed.json()["id_number"] == CHEN and revealed.json()["phones"] == ["13877212345"]
    exported = await records.get("/v1/people/export", params={"reveal": "true"}, headers=headers)
    assert exported.status_code == 200
    for refused in (
        await records.patch(url, json={"name": "陈大明"}, headers={**headers, "If-Match": '"1"'}),
        await records.post(f"{url}/erase", headers=headers),  # its tombstone would keep the category
    ):
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "stored_file_refused" and error["field"] == "category"
        assert error["fields"] == ["category"] and error["person_id"] == person["id"]
    assert await people.find_one({"_id": person["id"]}) == stored, "nothing written"

    corrected = await records.patch(url, json={"category": "returnee"}, headers={**headers, "If-Match": '"1"'})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["category"] == "returnee" and corrected.headers["ETag"] == '"2"'
    history = (await records.get(f"{url}/history", headers=headers)).json()
    assert [(h["field"], h["before"], h["after"]) for h in history[1:]] == [("category", "overseas", "returnee")]
    renamed = await records.patch(url, json={"name": "陈大明"}, headers={**headers, "If-Match": '"2"'})
    assert renamed.status_code == 200 and renamed.json()["name"] == "陈大明"

    # Erasure needs only what the tombstone keeps to pass: a refused year of return goes with the rest.
    other = (await register(records, caller, lin())).json()
    await people.update_one({"_id": other["id"]}, {"$set": {"return_year": 1800}})
    erased = await records.post(f"/v1/people/{other['id']}/erase", headers=headers)
    assert erased.status_code == 200, erased.text
    tombstone = await people.find_one({"_id": other["id"]})
    assert tombstone["status"] == "erased" and "return_year" not in tombstone and not tombstone["phones"]


async def test_an_update_that_races_to_an_id_number_on_file_is_a_conflict_not_a_500(
    records, caller, station, monkeypatch
) -> None:
    """Another update took the ID number between this one's duplicate check and its write."""
    from liaison_records.service_layer import people

    headers = caller(stations=("st-shengli",))
    first = (await register(records, caller, chen())).json()
    second = (await register(records, caller, lin())).json()

    async def checked_before_the_other(records, principal, person) -> None:
        return None

    monkeypatch.setattr(people, "_refuse_duplicate_id_number", checked_before_the_other)
    url = f"/v1/people/{second['id']}"
    as_chen = {"id_number": CHEN, "birth_date": "1948-05-03", "gender": "male"}
    raced = await records.patch(url, json=as_chen, headers={**headers, "If-Match": '"1"'})
    assert raced.status_code == 409 and raced.json()["error"]["code"] == "concurrent_change", raced.text
    monkeypatch.undo()
    assert (await records.get(url, headers=headers)).json()["id_number"] == second["id_number"], "nothing written"
    again = await records.patch(url, json=as_chen, headers={**headers, "If-Match": '"1"'})
    assert again.status_code == 409 and again.json()["error"]["existing_id"] == first["id"]


async def test_a_file_is_transferred_to_the_station_the_person_moved_to_by_whoever_serves_both(
    records, caller, station, mongo, unique
) -> None:
    shengli, other = caller(stations=("st-shengli",)), caller(stations=("st-other",))
    district = caller(districts=("d-yufeng",))
    person = (await register(records, caller, chen())).json()
    url = f"/v1/people/{person['id']}"
    closed = await records.post(f"{url}/close", json={"status": "moved_away"}, headers={**shengli, "If-Match": '"1"'})
    assert closed.status_code == 200, closed.text
    again = await records.post("/v1/people", json=chen(station_id="st-other"), headers=other)
    assert again.status_code == 409 and "transfer" in again.json()["error"]["message"]
    assert "existing_id" not in again.json()["error"], "not named to a station that cannot see it"

    moving = {"station_id": "st-other"}
    for headers, refused in (
        ({**shengli, "If-Match": '"2"'}, (404, "station_not_found")),  # st-other is not theirs
        ({**other, "If-Match": '"2"'}, (404, "person_not_found")),  # nor is the file
        ({**district, "If-Match": '"1"'}, (412, "stale_version")),
    ):
        response = await records.post(f"{url}/transfer", json=moving, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == refused, response.text
    same = await records.post(
        f"{url}/transfer", json={"station_id": "st-shengli"}, headers={**district, "If-Match": '"2"'}
    )
    assert same.status_code == 422 and same.json()["error"]["code"] == "same_station"

    # A file the station made meanwhile may be the same person (the same phone): the user decides.
    twin = await records.post("/v1/people", json=chen(id_number=None, station_id="st-other"), headers=other)
    assert twin.status_code == 201, twin.text
    doubted = await records.post(f"{url}/transfer", json=moving, headers={**district, "If-Match": '"2"'})
    assert doubted.status_code == 409 and doubted.json()["error"]["code"] == "possible_duplicates", doubted.text
    assert "transfer again" in doubted.json()["error"]["message"]
    assert [c["id"] for c in doubted.json()["error"]["candidates"]] == [twin.json()["id"]]
    decided = {**moving, "allow_duplicates": True}
    moved = await records.post(f"{url}/transfer", json=decided, headers={**district, "If-Match": '"2"'})
    assert moved.status_code == 200, moved.text
    assert moved.json()["station_id"] == "st-other" and moved.json()["status"] == "active"
    assert moved.headers["ETag"] == '"3"'
    assert (await records.get(url, headers=shengli)).status_code == 404
    history = (await records.get(url + "/history", headers=other)).json()
    assert [(h["field"], h["before"], h["after"]) for h in history[-2:]] == [
        ("station_id", "st-shengli", "st-other"),
        ("status", "moved_away", "active"),
    ]
    outbox = mongo[f"records_{unique}"]["outbox"].find({"topic": PERSON_TOPIC}).sort("created_at", -1)
    last = Envelope.from_bytes((await outbox.to_list(1))[0]["payload"])
    assert last.type == "returnee.updated" and last.station_id == "st-other"
    assert last.data["changed_fields"] == ["station_id", "status"]

    deceased = (await register(records, caller, lin())).json()
    closed = {"status": "deceased"}
    assert (
        await records.post(f"/v1/people/{deceased['id']}/close", json=closed, headers={**shengli, "If-Match": '"1"'})
    ).status_code == 200
    stays = await records.post(
        f"/v1/people/{deceased['id']}/transfer", json=moving, headers={**district, "If-Match": '"2"'}
    )
    assert stays.status_code == 409 and stays.json()["error"]["code"] == "closed_file", stays.text

    members = [{"person_id": person["id"], "relation_to_head": "self"}]
    household = await records.post("/v1/households", json={"station_id": "st-other", "members": members}, headers=other)
    assert household.status_code == 201, household.text
    version = (await records.get(url, headers=other)).headers["ETag"]
    back = await records.post(
        f"{url}/transfer", json={"station_id": "st-shengli"}, headers={**district, "If-Match": version}
    )
    assert back.status_code == 409 and back.json()["error"]["code"] == "in_household", back.text
    assert back.json()["error"]["household_id"] == household.json()["id"]


async def test_another_stations_file_does_not_exist_for_the_caller(records, caller, station) -> None:
    person = (await register(records, caller, chen())).json()
    outsider = caller(stations=("st-other",))
    assert (await records.get(f"/v1/people/{person['id']}", headers=outsider)).status_code == 404
    assert (await records.get("/v1/people", headers=outsider)).json()["items"] == []
    assert (await records.get("/v1/people/lookup", params={"id_number": CHEN}, headers=outsider)).json() == []
    supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-yufeng",))
    assert (await records.get(f"/v1/people/{person['id']}", headers=supervisor)).status_code == 200
    foreign = await records.post("/v1/people", json=chen(), headers=outsider)
    assert foreign.status_code == 404 and foreign.json()["error"]["field"] == "station_id"


async def test_lookup_by_id_number_or_phone_goes_through_keyed_hashes(records, caller, station, mongo, unique) -> None:
    """A file found confirms the whole number its masked view hides: each is audited."""
    headers = caller(stations=("st-shengli",))
    person = (await register(records, caller, chen())).json()
    by_id = await records.get("/v1/people/lookup", params={"id_number": CHEN.lower()}, headers=headers)
    assert [p["id"] for p in by_id.json()] == [person["id"]]
    by_phone = await records.get("/v1/people/lookup", params={"phone": " 13877212345 "}, headers=headers)
    assert [p["id"] for p in by_phone.json()] == [person["id"]]
    # One number however it is written: at registration (full-width, dashes) and at lookup.
    lin_file = lin(phones=["１３９-7725 4321"])
    other = (await register(records, caller, lin_file)).json()
    for written in ("13977254321", "139-7725-4321", "(139) 7725 4321"):
        found = await records.get("/v1/people/lookup", params={"phone": written}, headers=headers)
        assert [p["id"] for p in found.json()] == [other["id"]], written
    neither = await records.get("/v1/people/lookup", headers=headers)
    assert neither.status_code == 422 and neither.json()["error"]["code"] == "one_key_required"
    nobody = await records.get("/v1/people/lookup", params={"phone": "13600000000"}, headers=headers)
    assert nobody.json() == []
    audit = mongo[f"records_{unique}"]["audit"].find({}, {"_id": 0, "action": 1, "subject": 1, "station_id": 1})
    assert await audit.to_list() == [
        {"action": "lookup_by_id_number", "subject": person["id"], "station_id": "st-shengli"},
        {"action": "lookup_by_phone", "subject": person["id"], "station_id": "st-shengli"},
        *[{"action": "lookup_by_phone", "subject": other["id"], "station_id": "st-shengli"}] * 3,
    ]


async def test_closing_and_erasing_publish_and_erasure_leaves_no_personal_data(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=("st-shengli",))
    person = (await register(records, caller, chen())).json()
    closed = await records.post(
        f"/v1/people/{person['id']}/close", json={"status": "deceased"}, headers={**headers, "If-Match": '"1"'}
    )
    assert closed.status_code == 200 and closed.json()["status"] == "deceased"
    db = mongo[f"records_{unique}"]
    from liaison_infra.envelope import Envelope

    async def outbox_events() -> list[Envelope]:
        return [Envelope.from_bytes(doc["payload"]) async for doc in db["outbox"].find({"key": person["id"]})]

    events = await outbox_events()
    assert [e.type for e in events] == ["returnee.registered", "returnee.updated", "returnee.archived"]
    assert events[0].data["person"]["name"] == "陈小明" and events[2].data == {
        "person_id": person["id"],
        "status": "deceased",
        "merged_into": None,
    }
    erased = await records.post(f"/v1/people/{person['id']}/erase", headers=headers)
    assert erased.status_code == 200
    raw = await db["people"].find_one({"_id": person["id"]})
    assert raw["name"] == "(erased)" and raw["id_number"] is None and raw["phones"] == [] and raw["status"] == "erased"
    assert raw["birth_date"] == "1948-01-01" and raw["country"] == "VN"  # anonymous counts still work
    history = await db["history"].find({"person_id": person["id"]}).to_list()
    assert [h["after"] for h in history] == ["erased"]
    assert (await records.get("/v1/people/lookup", params={"id_number": CHEN}, headers=headers)).json() == []
    events = await outbox_events()
    assert [e.type for e in events] == ["returnee.erased"]
    assert CHEN not in str([e.data for e in events]) and "13877212345" not in str([e.data for e in events])


async def test_merging_completes_the_kept_file_joins_histories_and_archives_the_duplicate(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=("st-shengli",))
    keep = (await register(records, caller, chen(phones=[], country=None))).json()
    duplicate = (
        await register(records, caller, chen(id_number=None, name="陈小明", tags=["党员"]), allow_duplicates="true")
    ).json()
    await records.patch(
        f"/v1/people/{duplicate['id']}", json={"notes": "来自旧花名册"}, headers={**headers, "If-Match": '"1"'}
    )
    stale = await records.post(
        f"/v1/people/{keep['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers={**headers, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    merged = await records.post(
        f"/v1/people/{keep['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers={**headers, "If-Match": '"1"'}
    )
    assert merged.status_code == 200, merged.text
    body = merged.json()
    assert body["phones"] == ["138****2345"] and body["country"] == "VN" and body["tags"] == ["党员"]
    assert body["notes"] == "来自旧花名册" and merged.headers["ETag"] == '"2"'
    retired = (await records.get(f"/v1/people/{duplicate['id']}", headers=headers)).json()
    assert retired["status"] == "archived" and retired["merged_into"] == keep["id"]
    history = (await records.get(f"/v1/people/{keep['id']}/history", headers=headers)).json()
    assert {"notes", "phones", "country", "tags"} <= {h["field"] for h in history}
    assert any(h.get("merged_from") == duplicate["id"] for h in history)
    assert any(h["after"] == f"merged from {duplicate['id']}" for h in history)
    from liaison_infra.envelope import Envelope

    last = [
        Envelope.from_bytes(d["payload"])
        async for d in mongo[f"records_{unique}"]["outbox"].find({}).sort([("created_at", -1), ("order", -1)]).limit(1)
    ]
    assert last[0].data == {"person_id": duplicate["id"], "status": "archived", "merged_into": keep["id"]}
    again = await records.post(
        f"/v1/people/{keep['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers={**headers, "If-Match": '"2"'}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "cannot_merge"
    etag = (await records.get(f"/v1/people/{duplicate['id']}", headers=headers)).headers["ETag"]
    back = await records.post(
        f"/v1/people/{duplicate['id']}/merge", json={"duplicate_id": keep["id"]}, headers={**headers, "If-Match": etag}
    )
    assert back.status_code == 409 and back.json()["error"]["code"] == "cannot_merge", "never into a merged file"
    # A merged duplicate is read-only (its person's file is the kept one): not reopened, not noted.
    for change in ({"status": "active"}, {"notes": "住胜利路12号"}):
        late = await records.patch(f"/v1/people/{duplicate['id']}", json=change, headers={**headers, "If-Match": etag})
        assert late.status_code == 409 and late.json()["error"]["code"] == "merged_file", late.text
    own = (await records.get(f"/v1/people/{duplicate['id']}/history", headers=headers)).json()
    assert own[0]["after"] == "registered" and own[0]["merged_from"] == duplicate["id"], "still read from the duplicate"

    # The duplicate is the same person: erasing the kept file erases it too, and its history.
    assert (await records.post(f"/v1/people/{keep['id']}/erase", headers=headers)).status_code == 200
    raw = await mongo[f"records_{unique}"]["people"].find_one({"_id": duplicate["id"]})
    assert raw["name"] == "(erased)" and raw["status"] == "erased"
    assert "党员" not in str(raw) and "来自旧花名册" not in str(raw)
    assert await mongo[f"records_{unique}"]["history"].count_documents({"person_id": duplicate["id"]}) == 0
    erased = mongo[f"records_{unique}"]["outbox"].find({"key": duplicate["id"]})
    assert [Envelope.from_bytes(d["payload"]).type async for d in erased] == ["returnee.erased"]


async def household_events(mongo, unique, household_id: str) -> list[Envelope]:
    docs = mongo[f"records_{unique}"]["outbox"].find({"key": household_id}).sort([("created_at", 1), ("order", 1)])
    return [Envelope.from_bytes(doc["payload"]) async for doc in docs]


async def test_merging_and_erasing_announce_the_households_they_change(records, caller, station, mongo, unique) -> None:
    headers = caller(stations=("st-shengli",))
    keep = (await register(records, caller, chen(phones=[], hardship=["minimum_living"]))).json()["id"]
    duplicate_file = chen(id_number=None, hardship=[])
    duplicate = (await register(records, caller, duplicate_file, allow_duplicates="true")).json()["id"]
    spouse = (await register(records, caller, lin())).json()["id"]
    members = [
        {"person_id": duplicate, "relation_to_head": "self"},
        {"person_id": spouse, "relation_to_head": "spouse"},
    ]
    body = {"station_id": "st-shengli", "members": members}
    created = await records.post("/v1/households", json=body, headers=headers)
    assert created.status_code == 201, created.text
    household = created.json()["id"]
    merged = await records.post(
        f"/v1/people/{keep}/merge", json={"duplicate_id": duplicate}, headers={**headers, "If-Match": '"1"'}
    )
    assert merged.status_code == 200, merged.text
    announced = await household_events(mongo, unique, household)
    assert [e.type for e in announced] == ["household.changed", "household.changed"]
    assert announced[-1].data["members"] == [
        {"person_id": keep, "relation_to_head": "self"},
        {"person_id": spouse, "relation_to_head": "spouse"},
    ]
    assert announced[-1].data["head_person_id"] == keep and announced[0].data["hardship"] is False
    assert announced[-1].data["hardship"] is True  # the survivor's file is read after the merge
    assert (await records.post(f"/v1/people/{keep}/erase", headers=headers)).status_code == 200
    after = await household_events(mongo, unique, household)
    assert len(after) == 3 and after[-1].data["members"] == [{"person_id": spouse, "relation_to_head": "spouse"}]
    assert after[-1].data["head_person_id"] is None and after[-1].data["hardship"] is False
    stored = (await records.get(f"/v1/households/{household}", headers=headers)).json()
    assert stored["members"] == after[-1].data["members"] and stored["head_person_id"] is None


async def test_merging_two_members_of_one_household_leaves_the_survivor_once_heading_if_either_did(
    records, caller, station
) -> None:
    headers = caller(stations=("st-shengli",))
    for person, heads in ((chen, "keep"), (lin, "duplicate")):
        keep = (await register(records, caller, person())).json()["id"]
        duplicate = (await register(records, caller, person(id_number=None), allow_duplicates="true")).json()["id"]
        head, other = (keep, duplicate) if heads == "keep" else (duplicate, keep)
        members = [{"person_id": head, "relation_to_head": "self"}, {"person_id": other, "relation_to_head": "other"}]
        body = {"station_id": "st-shengli", "members": members}
        created = await records.post("/v1/households", json=body, headers=headers)
        assert created.status_code == 201, created.text
        version = (await records.get(f"/v1/people/{keep}", headers=headers)).headers["ETag"]
        merge = {"duplicate_id": duplicate}
        merged = await records.post(f"/v1/people/{keep}/merge", json=merge, headers={**headers, "If-Match": version})
        assert merged.status_code == 200, merged.text
        stored = (await records.get(f"/v1/households/{created.json()['id']}", headers=headers)).json()
        assert stored["members"] == [{"person_id": keep, "relation_to_head": "self"}], heads
        assert stored["head_person_id"] == keep, heads


async def test_a_duplicate_keeps_its_history_through_two_merges_and_takes_it_when_erased(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(stations=("st-shengli",))
    again = {"allow_duplicates": "true"}
    born: dict[str, Any] = {"id_number": None, "birth_date": "1948-05-03", "phones": []}
    first, second, last = [
        (await register(records, caller, chen(**born, notes=f"第{n}份"), **again)).json()["id"] for n in range(3)
    ]
    for keep, duplicate in ((second, first), (last, second)):
        version = (await records.get(f"/v1/people/{keep}", headers=headers)).headers["ETag"]
        merge = {"duplicate_id": duplicate}
        merged = await records.post(f"/v1/people/{keep}/merge", json=merge, headers={**headers, "If-Match": version})
        assert merged.status_code == 200, merged.text
    own = (await records.get(f"/v1/people/{first}/history", headers=headers)).json()
    assert [(h["after"], h["merged_from"]) for h in own] == [("registered", first)], "the first merge's mark is kept"
    doubted = await register(records, caller, chen(**born))
    assert doubted.status_code == 409 and "register again" in doubted.json()["error"]["message"]
    assert [c["id"] for c in doubted.json()["error"]["candidates"]] == [last], "the survivor stands for its copies"

    assert (await records.post(f"/v1/people/{first}/erase", headers=headers)).status_code == 200
    survivor = (await records.get(f"/v1/people/{last}/history", headers=headers)).json()
    assert first not in {h.get("merged_from") for h in survivor}, "its entries go with it"
    assert await mongo[f"records_{unique}"]["history"].count_documents({"merged_from": first}) == 0
    # An older version let two files be merged into each other: erasing one still ends.
    await mongo[f"records_{unique}"]["people"].update_one({"_id": last}, {"$set": {"merged_into": second}})
    erased = await asyncio.wait_for(records.post(f"/v1/people/{last}/erase", headers=headers), timeout=30)
    assert erased.status_code == 200, erased.text


async def test_erasure_forgets_the_persons_events_yet_relays_those_not_sent(
    records, caller, station, mongo, unique, endpoints, keys
) -> None:
    headers = caller(stations=("st-shengli",))
    outbox = mongo[f"records_{unique}"]["outbox"]
    settings = bus_settings("records", endpoints, keys, unique)
    runtime = Runtime(settings, installed_services()["records"].spec)

    async def naming_the_person() -> list[str]:
        return [doc["_id"] async for doc in outbox.find({}) if "陈小明".encode() in doc["payload"]]

    try:
        async with running(runtime.relay()):  # the relay now has a position to resume from
            await wait_until(lambda: relayed_everything(runtime))
        person = (await register(records, caller, chen())).json()["id"]
        changed = await records.patch(
            f"/v1/people/{person}", json={"notes": "搬家"}, headers={**headers, "If-Match": '"1"'}
        )
        assert changed.status_code == 200, changed.text
        assert len(await naming_the_person()) == 2
        assert (await records.post(f"/v1/people/{person}/erase", headers=headers)).status_code == 200
        left = [Envelope.from_bytes(doc["payload"]) async for doc in outbox.find({"key": person})]
        assert [e.type for e in left] == ["returnee.erased"]
        assert await naming_the_person() == []
        async with running(runtime.relay()):
            await wait_until(lambda: relayed_everything(runtime))
    finally:
        await runtime.close()
    relayed = [Envelope.from_bytes(r.value) for r in await read_topic(settings, PERSON_TOPIC, expected=3)]
    # What had not been sent before the erasure still went out, in order, before the erasure.
    assert [e.type for e in relayed if e.subject == person] == [
        "returnee.registered",
        "returnee.updated",
        "returnee.erased",
    ]


async def test_many_files_may_lack_an_id_number_and_many_may_be_erased(records, caller, station) -> None:
    headers = caller(stations=("st-shengli",))
    first = await register(records, caller, lin(id_number=None, phones=[]))
    second = await register(records, caller, chen(id_number=None, phones=[]))
    assert first.status_code == second.status_code == 201, second.text
    for person in (first.json(), second.json()):
        erased = await records.post(f"/v1/people/{person['id']}/erase", headers=headers)
        assert erased.status_code == 200 and erased.json()["status"] == "erased"
