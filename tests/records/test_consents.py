"""Consent records in a person's file: add, list, withdraw; versioned, with history; scope enforced."""

from typing import Any

from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope

from tests.records.people_data import chen

STAFF = {"stations": ("st-shengli",)}


def consent(**overrides: Any) -> dict[str, Any]:
    return {
        "purpose": "走访信息登记及联系",
        "given_by": "陈小明本人",
        "given_at": "2026-03-01T10:00:00+08:00",
        "valid_until": "2030-12-31",
        **overrides,
    }


async def registered(records, caller) -> str:
    response = await records.post("/v1/people", json=chen(), headers=caller(**STAFF))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_consent_is_a_versioned_change_of_the_file_with_history_and_an_event(
    records, caller, station, mongo, unique
) -> None:
    headers = caller(**STAFF)
    person_id = await registered(records, caller)
    url = f"/v1/people/{person_id}/consents"
    given = await records.post(url, json=consent(), headers={**headers, "If-Match": '"1"'})
    assert given.status_code == 201, given.text
    body = given.json()
    assert given.headers["ETag"] == '"2"' and given.headers["Location"] == f"{url}/{body['id']}"
    assert body["purpose"] == "走访信息登记及联系" and body["given_by"] == "陈小明本人"
    assert body["state"] == "active" and body["recorded_by"] == "staff-1" and body["withdrawn_at"] is None
    file = await records.get(f"/v1/people/{person_id}", headers=headers)
    assert file.headers["ETag"] == '"2"' and [c["id"] for c in file.json()["consents"]] == [body["id"]]
    listed = await records.get(url, headers=headers)
    assert listed.headers["ETag"] == '"2"' and listed.json() == [body]
    history = (await records.get(f"/v1/people/{person_id}/history", headers=headers)).json()
    assert history[-1]["field"] == f"consents.{body['id']}" and history[-1]["before"] is None
    assert history[-1]["after"]["purpose"] == "走访信息登记及联系" and history[-1]["version"] == 2
    outbox = mongo[f"records_{unique}"]["outbox"].find({"topic": "records.person.v1"})
    outbox = outbox.sort([("created_at", 1), ("order", 1)])
    events = [Envelope.from_bytes(document["payload"]) async for document in outbox]
    assert [(e.type, e.data.get("changed_fields")) for e in events] == [
        ("returnee.registered", None),
        ("returnee.updated", ["consents"]),
    ]


async def test_an_expired_consent_shows_as_expired(records, caller, station) -> None:
    headers = caller(**STAFF)
    person_id = await registered(records, caller)
    lapsed = consent(purpose="照片用于宣传", given_at="2019-05-01T09:00:00+08:00", valid_until="2020-05-01")
    given = await records.post(f"/v1/people/{person_id}/consents", json=lapsed, headers={**headers, "If-Match": '"1"'})
    assert given.status_code == 201, given.text
    assert given.json()["state"] == "expired"
    file = (await records.get(f"/v1/people/{person_id}", headers=headers)).json()
    assert [(c["purpose"], c["state"]) for c in file["consents"]] == [("照片用于宣传", "expired")]
    open_ended = consent(valid_until=None)
    given = await records.post(
        f"/v1/people/{person_id}/consents", json=open_ended, headers={**headers, "If-Match": '"2"'}
    )
    assert given.json()["state"] == "active"


async def test_a_withdrawn_consent_stays_in_the_file_and_cannot_be_withdrawn_twice(records, caller, station) -> None:
    headers = caller(**STAFF)
    person_id = await registered(records, caller)
    url = f"/v1/people/{person_id}/consents"
    consent_id = (await records.post(url, json=consent(), headers={**headers, "If-Match": '"1"'})).json()["id"]
    stale = await records.post(f"{url}/{consent_id}/withdraw", headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    withdrawn = await records.post(f"{url}/{consent_id}/withdraw", headers={**headers, "If-Match": '"2"'})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.headers["ETag"] == '"3"'
    assert withdrawn.json()["state"] == "withdrawn" and withdrawn.json()["withdrawn_by"] == "staff-1"
    assert withdrawn.json()["purpose"] == "走访信息登记及联系"
    again = await records.post(f"{url}/{consent_id}/withdraw", headers={**headers, "If-Match": '"3"'})
    assert again.status_code == 409 and again.json()["error"]["code"] == "consent_withdrawn"
    read = await records.get(f"{url}/{consent_id}", headers=headers)
    assert read.headers["ETag"] == '"3"' and read.json() == withdrawn.json()
    history = (await records.get(f"/v1/people/{person_id}/history", headers=headers)).json()
    assert {h["field"] for h in history if h["version"] == 3} == {
        f"consents.{consent_id}.withdrawn_at",
        f"consents.{consent_id}.withdrawn_by",
    }


async def test_bad_consents_get_a_4xx_naming_the_field_and_change_nothing(records, caller, station) -> None:
    headers = caller(**STAFF)
    person_id = await registered(records, caller)
    url = f"/v1/people/{person_id}/consents"
    for body, field in [
        (consent(valid_until="2026-02-28"), None),  # ends before it was given
        (consent(given_at="2026-03-01T10:00:00"), "given_at"),  # no time zone
        (consent(purpose=""), "purpose"),
        ({**consent(), "scope": "all"}, "scope"),
        ({key: value for key, value in consent().items() if key != "given_by"}, "given_by"),
    ]:
        response = await records.post(url, json=body, headers={**headers, "If-Match": '"1"'})
        assert response.status_code == 422, (body, response.text)
        if field is not None:
            assert response.json()["error"]["field"] == field, response.json()
    assert (await records.post(url, json=consent(), headers=headers)).status_code == 428
    missing = await records.post(f"{url}/c-nothing/withdraw", headers={**headers, "If-Match": '"1"'})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "consent_not_found"
    assert (await records.get(f"{url}/c-nothing", headers=headers)).status_code == 404
    patched = await records.patch(
        f"/v1/people/{person_id}", json={"consents": [consent()]}, headers={**headers, "If-Match": '"1"'}
    )
    assert patched.status_code == 422 and patched.json()["error"]["field"] == "consents"  # only through /consents
    listed = await records.get(url, headers=headers)
    assert listed.json() == [] and listed.headers["ETag"] == '"1"'


async def test_consents_answer_only_within_scope_and_only_staff_record_them(records, caller, station) -> None:
    headers = caller(**STAFF)
    person_id = await registered(records, caller)
    url = f"/v1/people/{person_id}/consents"
    assert (await records.post(url, json=consent(), headers={**headers, "If-Match": '"1"'})).status_code == 201
    outsider = caller(stations=("st-other",))
    assert (await records.get(url, headers=outsider)).status_code == 404
    refused = await records.post(url, json=consent(), headers={**outsider, "If-Match": '"2"'})
    assert refused.status_code == 404
    deputy = caller(Role.DEPUTY, stations=("st-shengli",), subject="deputy-li")
    assert len((await records.get(url, headers=deputy)).json()) == 1
    forbidden = await records.post(url, json=consent(), headers={**deputy, "If-Match": '"2"'})
    assert forbidden.status_code == 403
    assert len((await records.get(url, headers=headers)).json()) == 1


async def test_merging_keeps_the_duplicates_consents(records, caller, station) -> None:
    headers = caller(**STAFF)
    keep = await registered(records, caller)
    duplicate = await records.post(
        "/v1/people", json=chen(id_number=None), params={"allow_duplicates": "true"}, headers=headers
    )
    duplicate_id = duplicate.json()["id"]
    given = await records.post(
        f"/v1/people/{duplicate_id}/consents", json=consent(), headers={**headers, "If-Match": '"1"'}
    )
    merged = await records.post(
        f"/v1/people/{keep}/merge", json={"duplicate_id": duplicate_id}, headers={**headers, "If-Match": '"1"'}
    )
    assert merged.status_code == 200, merged.text
    assert [c["id"] for c in merged.json()["consents"]] == [given.json()["id"]]
