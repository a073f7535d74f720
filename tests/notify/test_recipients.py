"""Recipients: deputies follow records' events until they set their own preferences; channel
preferences and station or district contacts through the API, in scope, validated, nothing lost."""

from pathlib import Path
from typing import Any

from liaison_infra.auth import Role
from liaison_infra.harness.servers import Endpoints
from liaison_notify.adapters import recipients_store

from tests.apps import Caller, own_database
from tests.notify.delivery_support import START, delivering
from tests.notify.duty_support import apply, envelope


def route(channel: str, address: str | None = None) -> dict[str, str | None]:
    return {"channel": channel, "address": address}


def deputy_event(event_type: str, name: str, **channels: Any) -> Any:
    data = {
        "deputy_id": "dep-li",
        "name": name,
        "level": "district",
        "station_ids": ["st-1"],
        "channels": {"mobile": "13800000000", "wecom_id": "lihua", **channels},
        "term_start": None,
        "term_end": None,
    }
    return envelope(event_type, data, at=START)


async def test_deputy_events_set_routes_until_the_deputy_chooses(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, caller: Caller
) -> None:
    async with delivering(endpoints, keys, unique) as notify, own_database("notify", endpoints, keys, unique) as api:
        await apply(notify, deputy_event("deputy.registered", "李华", preferences=["sms", "wecom"], email="bad"))
        recipient = await recipients_store.find(notify.db, "deputy:dep-li")
        assert recipient is not None and recipient["station_id"] == ["st-1"]
        assert [(r["channel"], r["address"]) for r in recipient["routes"]] == [
            ("sms", "13800000000"),
            ("wecom", "lihua"),
            ("inbox", None),
        ], "preferred first, a malformed address left out, the inbox last"

        me = caller(Role.DEPUTY, subject="dep-li")
        chosen = {"channels": [{"channel": "email", "address": "li@example.org"}, {"channel": "inbox"}]}
        answer = await api.put("/v1/deputies/dep-li/channels", json=chosen, headers=me)
        assert answer.status_code == 200, answer.text
        await apply(notify, deputy_event("deputy.updated", "李华华", preferences=["wecom"]))

        shown = (await api.get("/v1/deputies/dep-li/channels", headers=me)).json()
        assert shown["name"] == "李华华"
        assert shown["channels"] == [
            {"channel": "email", "address": "li@example.org"},
            {"channel": "inbox", "address": None},
        ]
        assert shown["channels_set_by"] == "api"


async def test_channel_preferences_are_scoped_and_validated(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, caller: Caller
) -> None:
    async with delivering(endpoints, keys, unique) as notify, own_database("notify", endpoints, keys, unique) as api:
        await apply(notify, deputy_event("deputy.registered", "李华"))
        path = "/v1/deputies/dep-li/channels"
        good = {
            "channels": [{"channel": "dingtalk", "address": "token-1"}, {"channel": "sms", "address": "13900000000"}]
        }
        for stranger in (
            caller(Role.DEPUTY, subject="dep-wang", stations=("st-1",)),
            caller(Role.STATION_STAFF, stations=("st-2",)),
            caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",)),
        ):
            assert (await api.get(path, headers=stranger)).status_code == 404
            assert (await api.put(path, json=good, headers=stranger)).status_code == 404
        assert (await api.get("/v1/deputies/dep-nobody/channels", headers=caller(Role.ADMIN))).status_code == 404

        staff = caller(Role.STATION_STAFF, stations=("st-1",))
        assert (await api.put(path, json=good, headers=staff)).status_code == 200
        bad_inputs = {
            "unknown_channel": ({"channels": [{"channel": "pager", "address": "1"}]}, "channels.0.channel"),
            "invalid_address": ({"channels": [{"channel": "sms", "address": "12345"}]}, "channels.0"),
            "duplicate_channel": (
                {
                    "channels": [
                        {"channel": "sms", "address": "13900000000"},
                        {"channel": "sms", "address": "13900000001"},
                    ]
                },
                "channels.1",
            ),
            "inbox_not_last": (
                {"channels": [route("inbox"), route("sms", "13900000000")]},
                "channels.0",
            ),
            "extra_field": ({"channels": [], "colour": "red"}, "colour"),
        }
        for name, (body, field) in bad_inputs.items():
            answer = await api.put(path, json=body, headers=staff)
            assert answer.status_code == 422, name
            error = answer.json()["error"]
            assert error["field"] == field or any(p["field"] == field for p in error.get("problems", [])), (name, error)
        kept = (await api.get(path, headers=staff)).json()["channels"]
        assert [r["channel"] for r in kept] == ["dingtalk", "sms", "inbox"], "bad input changed nothing"


async def test_station_and_district_contacts(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, caller: Caller, mongo: Any
) -> None:
    async with own_database("notify", endpoints, keys, unique) as api:
        contacts = {
            "name": "胜利站站长",
            "district_id": "d-1",
            "channels": [{"channel": "sms", "address": "13700000000"}],
        }
        staff = caller(Role.STATION_STAFF, stations=("st-1",))
        assert (await api.put("/v1/stations/st-1/contacts", json=contacts, headers=staff)).status_code == 200
        assert (await api.put("/v1/stations/st-2/contacts", json=contacts, headers=staff)).status_code == 404
        supervisor = caller(Role.DISTRICT_SUPERVISOR, districts=("d-1",))
        shown = (await api.get("/v1/stations/st-1/contacts", headers=supervisor)).json()
        assert shown["id"] == "station_head:st-1" and shown["district_id"] == "d-1"
        other = caller(Role.DISTRICT_SUPERVISOR, districts=("d-9",))
        assert (await api.get("/v1/stations/st-1/contacts", headers=other)).status_code == 404

        district = {"name": "鱼峰区人大", "channels": [{"channel": "email", "address": "yf@example.org"}]}
        assert (await api.put("/v1/districts/d-1/contacts", json=district, headers=staff)).status_code == 404
        answer = await api.put("/v1/districts/d-1/contacts", json=district, headers=supervisor)
        assert answer.status_code == 200 and answer.json()["channels"][0]["channel"] == "email"
        assert (await api.put("/v1/districts/d-1/contacts", json={"name": ""}, headers=supervisor)).status_code == 422
        assert (await api.get("/v1/districts/d-1/contacts", headers=supervisor)).json()["name"] == "鱼峰区人大"
        assert (await api.get("/v1/districts/d-1/contacts")).status_code == 401

        # A station records placed in d-2: d-1's supervisor cannot claim it by naming d-1.
        await mongo[f"notify_{unique}"]["stations"].insert_one({"_id": "st-3", "district_id": "d-2"})
        claimed = await api.put("/v1/stations/st-3/contacts", json=contacts, headers=supervisor)
        assert claimed.status_code == 404
        own = caller(Role.DISTRICT_SUPERVISOR, districts=("d-2",))
        placed = await api.put("/v1/stations/st-3/contacts", json=contacts, headers=own)
        assert placed.status_code == 200 and placed.json()["district_id"] == "d-2"

        # A station head whose contacts were set before records placed the station: the district
        # given then no longer counts once the station is placed elsewhere.
        st4 = caller(Role.STATION_STAFF, stations=("st-4",))
        guessed = await api.put("/v1/stations/st-4/contacts", json={**contacts, "district_id": "d-9"}, headers=st4)
        assert guessed.status_code == 200
        await mongo[f"notify_{unique}"]["stations"].insert_one({"_id": "st-4", "district_id": "d-1"})
        assert (await api.get("/v1/stations/st-4/contacts", headers=other)).status_code == 404
        assert (await api.get("/v1/stations/st-4/contacts", headers=supervisor)).json()["district_id"] == "d-1"
