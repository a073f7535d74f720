"""A key rotation: records started on the rotated keyring re-encrypts every protected value and
blind index under the new version, in the background, without a new version of any file; so does
a start after the masks changed, for the files masked (or phones spelled) the older way."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from liaison_infra.auth import Role
from liaison_infra.mongo import Document
from liaison_infra.pii import Keyring, ensure_keyring_file, mask_phone, rotate
from liaison_records.adapters.people_store import MASKS_VERSION, PHONE_CONTEXT
from liaison_records.config import Settings
from liaison_records.service_layer.key_rotation import KEY_STATE
from pymongo.asynchronous.database import AsyncDatabase

from tests.apps import add_station, serve, service_settings
from tests.records.people_data import CHEN, chen, lin

STATION = ("st-shengli",)
REACH = "+84 90 123 4567"


def household(head: str) -> Document:
    members = [{"person_id": head, "relation_to_head": "self"}]
    return {
        "station_id": STATION[0],
        "members": members,
        "overseas_ties": [{"country": "VN", "relation": "brother", "how_to_reach": REACH}],
    }


DEPUTY = {"name": "李华", "level": "district", "station_ids": list(STATION), "mobile": "13877210000"}


def sealed_versions(document: Document) -> set[str]:
    """The key versions of every encrypted value and blind index in a stored file."""
    protected = [document["id_number"], *document["phones"], document["address"]["detail"]]
    tokens = [value["cipher"] for value in protected] + [*document["phone_index"], document["id_number_index"]]
    return {token.split(":")[0] for token in tokens}


@dataclass(frozen=True)
class Own:
    """Records on a database and a keyring file of the test's own."""

    settings: Settings
    db: Any  # as the ``mongo`` fixture gives it: documents read are indexed without a None check
    keyring: Path


@pytest.fixture
def own(endpoints, keys, unique, mongo, tmp_path: Path) -> Own:
    keyring = ensure_keyring_file(tmp_path / "pii-keyring.json")
    values = {"mongodb_database": f"records_{unique}", "pii_keyring_file": keyring}
    return Own(service_settings("records", endpoints, keys, **values), mongo[f"records_{unique}"], keyring)


async def passed(db: AsyncDatabase[Document], recorded: Document) -> None:
    """Wait for the background pass to end, recording ``recorded``."""
    for _ in range(100):
        if await db[KEY_STATE].find_one({"_id": "pii", **recorded}):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"records never finished its pass to {recorded}")


async def test_a_rotated_key_reseals_every_file_and_lookups_still_find_them(own: Own, caller) -> None:
    settings, db = own.settings, own.db
    headers = caller(stations=STATION)
    async with serve("records", settings) as records:
        await add_station(records, caller(Role.ADMIN), STATION[0])
        # A file without an ID number takes over its duplicate's: the duplicate, archived, keeps
        # its values sealed but gives up its lookup hashes.
        keep = (await records.post("/v1/people", json=chen(id_number=None, phones=[]), headers=headers)).json()
        again = {"allow_duplicates": "true"}
        duplicate = (await records.post("/v1/people", params=again, json=chen(), headers=headers)).json()
        merge = {"duplicate_id": duplicate["id"]}
        url = f"/v1/people/{keep['id']}"
        merged = await records.post(f"{url}/merge", json=merge, headers={**headers, "If-Match": '"1"'})
        assert merged.status_code == 200, merged.text
        deputy_id = (await records.post("/v1/deputies", json=DEPUTY, headers=headers)).json()["id"]
        household_id = (await records.post("/v1/households", json=household(keep["id"]), headers=headers)).json()["id"]
        history_before = (await records.get(f"{url}/history", headers=headers)).json()
    before = await db["people"].find_one({"_id": keep["id"]})
    assert sealed_versions(before) == {"v1"}

    rotate(own.keyring)
    async with serve("records", settings) as records:
        await passed(db, {"version": 2})
        after = await db["people"].find_one({"_id": keep["id"]})
        assert sealed_versions(after) == {"v2"}
        assert (after["version"], after["address"]["detail"]["masked"]) == (3, before["address"]["detail"]["masked"])
        retired = await db["people"].find_one({"_id": duplicate["id"]})
        assert retired["id_number"]["cipher"].startswith("v2:") and retired["phones"][0]["cipher"].startswith("v2:")
        assert "id_number_index" not in retired and retired.get("phone_index", []) == []
        stored_deputy = await db["deputies"].find_one({"_id": deputy_id})
        assert stored_deputy["mobile"]["cipher"].startswith("v2:") and stored_deputy["version"] == 1
        stored_household = await db["households"].find_one({"_id": household_id})
        assert stored_household["overseas_ties"][0]["how_to_reach"]["cipher"].startswith("v2:")
        shown = await records.get(f"/v1/households/{household_id}", params={"reveal": "true"}, headers=headers)
        assert shown.json()["overseas_ties"][0]["how_to_reach"] == REACH and shown.headers["ETag"] == '"2"'

        found = await records.get("/v1/people/lookup", params={"id_number": CHEN}, headers=headers)
        assert [p["id"] for p in found.json()] == [keep["id"]]
        revealed = await records.get(url, params={"reveal": "true"}, headers=headers)
        assert revealed.headers["ETag"] == '"3"' and revealed.json()["id_number"] == CHEN
        history = (await records.get(f"{url}/history", headers=headers)).json()
        assert history == history_before, "re-encryption is no change of the file"


async def test_files_stored_before_a_mask_or_a_spelling_changed_are_stored_anew_at_the_next_start(
    own: Own, caller
) -> None:
    settings, db = own.settings, own.db
    headers = caller(stations=STATION)
    async with serve("records", settings) as records:
        await add_station(records, caller(Role.ADMIN), STATION[0])
        person = (await records.post("/v1/people", json=chen(), headers=headers)).json()
        deputy_id = (await records.post("/v1/deputies", json=DEPUTY, headers=headers)).json()["id"]
        # Files with nothing to mask again: one without phones or ID number, and a tombstone.
        again = {"allow_duplicates": "true"}
        bare = await records.post("/v1/people", params=again, json=chen(id_number=None, phones=[]), headers=headers)
        family = household(bare.json()["id"])
        household_id = (await records.post("/v1/households", json=family, headers=headers)).json()["id"]
        erased = (await records.post("/v1/people", json=lin(), headers=headers)).json()
        erasure = await records.post(f"/v1/people/{erased['id']}/erase", headers=headers)
        assert (bare.status_code, erasure.status_code) == (201, 200)
    masked_now = (await db["people"].find_one({"_id": person["id"]}))["address"]["detail"]["masked"]
    # As older versions could have left them: the street shown, the mobile's middle four hidden
    # only, and phones stored as typed (and indexed so), one of them a dash.
    keyring, typed = Keyring.from_file(own.keyring), "138 7721-2345"
    old = {
        "address.detail.masked": "柳州市鱼峰区胜利路*********",
        "phones": [
            {"cipher": keyring.encrypt(typed, context=PHONE_CONTEXT), "masked": mask_phone(typed)},
            {"cipher": keyring.encrypt("-", context=PHONE_CONTEXT), "masked": "-"},  # no number at all
        ],
        "phone_index": [keyring.blind_index(typed, context=PHONE_CONTEXT)],
    }
    await db["people"].update_one({"_id": person["id"]}, {"$set": old})
    await db["deputies"].update_one({"_id": deputy_id}, {"$set": {"mobile.masked": "1387***0000"}})
    await db["households"].update_one({"_id": household_id}, {"$set": {"overseas_ties.0.how_to_reach": REACH}})
    await db[KEY_STATE].update_one({"_id": "pii"}, {"$set": {"version": 1}, "$unset": {"masks": ""}}, upsert=True)

    async with serve("records", settings) as records:
        await passed(db, {"masks": MASKS_VERSION})
        items = (await records.get("/v1/people", headers=headers)).json()["items"]
        [listed] = [item for item in items if item["id"] == person["id"]]
        assert listed["address"]["detail"] == masked_now and "胜利路" not in masked_now
        assert listed["phones"] == ["138****2345"]
        revealed = await records.get(f"/v1/people/{person['id']}", params={"reveal": "true"}, headers=headers)
        assert revealed.json()["phones"] == ["13877212345"]
        found = await records.get("/v1/people/lookup", params={"phone": "13877212345"}, headers=headers)
        assert [p["id"] for p in found.json()] == [person["id"]]
        stored = await db["people"].find_one({"_id": person["id"]})
        assert stored["version"] == 1 and sealed_versions(stored) == {"v1"}, "no new version, the same key"
        mobile = (await db["deputies"].find_one({"_id": deputy_id}))["mobile"]["masked"]
        assert mobile == "138****0000"
        # A way to reach a relative abroad, which older versions kept in clear, is sealed.
        stored_household = await db["households"].find_one({"_id": household_id})
        assert REACH not in str(stored_household) and stored_household["version"] == 2, "a change read before fails"
        shown = (await records.get(f"/v1/households/{household_id}", headers=headers)).json()
        assert shown["overseas_ties"][0]["how_to_reach"] == "+8***********67"


async def test_a_file_todays_rules_refuse_is_named_and_later_starts_check_only_it(own: Own, caller) -> None:
    settings, db = own.settings, own.db
    headers = caller(stations=STATION)
    async with serve("records", settings) as records:
        await add_station(records, caller(Role.ADMIN), STATION[0])
        refused = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
        other = (await records.post("/v1/people", json=lin(address=chen()["address"]), headers=headers)).json()["id"]
    shown = (await db["people"].find_one({"_id": refused}))["address"]["detail"]["masked"]
    older_mask = {"address.detail.masked": "柳州市鱼峰区胜利路*********"}
    four_and_four = CHEN[:4] + "*" * 10 + CHEN[-4:]  # as an older mask showed an ID number
    older_id = {"id_number.masked": four_and_four}
    await db["people"].update_one({"_id": refused}, {"$set": {"category": "overseas", **older_mask, **older_id}})
    entry = {"person_id": refused, "at": datetime.now(UTC), "by": "staff-1", "field": "id_number", "version": 2}
    await db["history"].insert_one({**entry, "before": four_and_four, "after": four_and_four})
    await db[KEY_STATE].update_one({"_id": "pii"}, {"$set": {"version": 1}, "$unset": {"masks": ""}}, upsert=True)
    async with serve("records", settings) as records:
        await passed(db, {"left.unreadable": {"people": [refused]}})
        state = await db[KEY_STATE].find_one({"_id": "pii"})
        assert "masks" not in state, "not recorded done: the file left may hold what an older key sealed"
        # Left as stored, it still shows no more than today's masks, nor does its history.
        today = CHEN[:4] + "*" * 12 + CHEN[-2:]
        read = (await records.get(f"/v1/people/{refused}", headers=headers)).json()
        assert read["id_number"] == today and read["address"]["detail"] == "柳州市鱼峰区" + "*" * 12
        history = (await records.get(f"/v1/people/{refused}/history", headers=headers)).json()
        assert [(h["before"], h["after"]) for h in history if h["field"] == "id_number"] == [(today, today)]
        corrected = {"category": "returnee"}
        url = f"/v1/people/{refused}"
        assert (await records.patch(url, json=corrected, headers={**headers, "If-Match": '"1"'})).status_code == 200

    # Corrected, it reads at the next start, which is recorded done; a file the pass did cover is
    # not scanned again.
    await db["people"].update_one({"_id": other}, {"$set": older_mask})
    async with serve("records", settings):
        await passed(db, {"masks": MASKS_VERSION, "left": {"$exists": False}})
    assert (await db["people"].find_one({"_id": refused}))["address"]["detail"]["masked"] == shown
    left_alone = (await db["people"].find_one({"_id": other}))["address"]["detail"]["masked"]
    assert left_alone == older_mask["address.detail.masked"]
