"""Deputies, households and assignments, the change of term, and the visit and activity logs."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from liaison_infra.auth import Role
from liaison_infra.clock import china_day
from liaison_infra.envelope import Envelope
from liaison_records.adapters.people_store import IN_HOUSEHOLD
from liaison_records.service_layer.elderly import DAILY_STATE, ELDERLY
from liaison_records.service_layer.households import elderly_born_by
from liaison_records.service_layer.logs import ERASED_MENTION, ERASED_TEXT

from tests.apps import own_database
from tests.infra.support import wait_until
from tests.records.people_data import chen, lin

STAFF = ("st-shengli",)


async def outbox(mongo, unique) -> list[Envelope]:
    docs = mongo[f"records_{unique}"]["outbox"].find({}).sort([("created_at", 1), ("order", 1)])
    return [Envelope.from_bytes(doc["payload"]) async for doc in docs]


async def make_family(records, caller) -> tuple[str, str]:
    headers = caller(stations=STAFF)
    head = (await records.post("/v1/people", json=chen(), headers=headers)).json()["id"]
    spouse = (await records.post("/v1/people", json=lin(), headers=headers)).json()["id"]
    return head, spouse


async def make_deputy(records, caller, name: str, **extra) -> str:
    body = {
        "name": name,
        "level": "district",
        "station_ids": ["st-shengli"],
        "mobile": "+86 138-7721-0000",
        "wecom_id": f"wx-{name}",
        "preferences": ["wecom", "sms"],
        **extra,
    }
    response = await records.post("/v1/deputies", json=body, headers=caller(stations=STAFF))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_deputy_is_registered_with_channels_and_a_protected_mobile(records, caller, station, mongo, unique):
    deputy_id = await make_deputy(records, caller, "李华")
    shown = (await records.get(f"/v1/deputies/{deputy_id}", headers=caller(stations=STAFF))).json()
    assert shown["mobile"] == "138****0000" and shown["preferences"] == ["wecom", "sms"]
    # A department handling cases reads no deputy's channels, one by one as in the list.
    handler = caller(Role.DEPARTMENT_HANDLER, stations=STAFF)
    for path in (f"/v1/deputies/{deputy_id}", "/v1/deputies"):
        assert (await records.get(path, headers=handler)).status_code == 403, path
    raw = await mongo[f"records_{unique}"]["deputies"].find_one({"_id": deputy_id})
    assert "13877210000" not in str(raw) and raw["district_ids"] == ["d-yufeng"]
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "deputy.registered" and event.data["channels"]["mobile"] == "13877210000"
    bad = await records.post(
        "/v1/deputies",
        json={"name": "x", "level": "district", "station_ids": ["st-shengli"], "mobile": "12345"},
        headers=caller(stations=STAFF),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "mobile"
    outside = await records.post(
        "/v1/deputies",
        json={"name": "x", "level": "district", "station_ids": ["st-other"]},
        headers=caller(stations=STAFF),
    )
    assert outside.status_code == 422 and outside.json()["error"]["code"] == "unknown_station"


async def test_a_deputys_term_of_office_is_changed_on_the_version_read_and_announced(
    records, caller, station, mongo, unique
):
    headers = caller(stations=STAFF)
    deputy_id = await make_deputy(records, caller, "李华")
    body = {"name": "李华", "level": "city", "station_ids": ["st-shengli"], "mobile": "13877210000"}
    term = {"term_start": "2022-01-01", "term_end": "2026-12-31"}
    url = f"/v1/deputies/{deputy_id}"

    changed = await records.put(url, json={**body, **term}, headers={**headers, "If-Match": '"1"'})

    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"' and changed.json()["level"] == "city"
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "deputy.updated" and event.subject == deputy_id
    assert {k: event.data[k] for k in ("term_start", "term_end", "level")} == {**term, "level": "city"}
    stale = await records.put(url, json={**body, "name": "李华华"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code in (409, 412) and (await records.get(url, headers=headers)).json()["name"] == "李华"
    backwards = {"term_start": "2026-12-31", "term_end": "2022-01-01"}
    reversed_term = await records.put(url, json={**body, **backwards}, headers={**headers, "If-Match": '"2"'})
    assert reversed_term.status_code == 422 and reversed_term.json()["error"]["field"] == "term_end"
    assert (await records.get(url, headers=headers)).json()["term_end"] == "2026-12-31"


async def test_one_stations_staff_change_a_shared_deputy_without_taking_the_other_station_away(
    records, caller, station
):
    both = ["st-shengli", "st-other"]
    body = {"name": "李华", "level": "district", "station_ids": both, "mobile": "13877210000"}
    registered = await records.post("/v1/deputies", json=body, headers=caller(stations=tuple(both)))
    url, mine = f"/v1/deputies/{registered.json()['id']}", caller(stations=STAFF)
    body["station_ids"] = ["st-shengli"]

    changed = await records.put(url, json=body, headers={**mine, "If-Match": '"1"'})

    assert changed.status_code == 200, changed.text
    assert changed.json()["station_ids"] == both, "st-other is not st-shengli's to take away"
    named = await records.put(url, json={**body, "station_ids": both}, headers={**mine, "If-Match": '"2"'})
    assert named.status_code == 200 and named.json()["station_ids"] == both
    other = caller(stations=("st-other",))
    dropped = await records.put(url, json={**body, "station_ids": ["st-other"]}, headers={**other, "If-Match": '"3"'})
    assert dropped.status_code == 200 and dropped.json()["station_ids"] == ["st-other", "st-shengli"]
    nowhere = {**body, "station_ids": ["st-nowhere"]}
    elsewhere = await records.put(url, json=nowhere, headers={**mine, "If-Match": '"4"'})
    assert elsewhere.status_code == 422 and elsewhere.json()["error"]["field"] == "station_ids"


async def test_a_household_links_its_members_and_announces_itself(records, caller, station, mongo, unique):
    headers = caller(stations=STAFF)
    head, spouse = await make_family(records, caller)
    body = {
        "station_id": "st-shengli",
        "members": [
            {"person_id": head, "relation_to_head": "self"},
            {"person_id": spouse, "relation_to_head": "spouse"},
        ],
        "overseas_ties": [{"country": "vn", "relation": "brother", "how_to_reach": "via WeChat"}],
    }
    created = await records.post("/v1/households", json=body, headers=headers)
    assert created.status_code == 201, created.text
    household = created.json()
    assert household["head_person_id"] == head and household["overseas_ties"][0]["country"] == "VN"
    person = (await records.get(f"/v1/people/{spouse}", headers=headers)).json()
    assert person["household_id"] == household["id"]
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "household.changed"
    assert event.data["elderly"] is True and event.data["hardship"] is False  # the head was born in 1948
    twice = await records.post(
        "/v1/households", json={**body, "members": [{"person_id": spouse, "relation_to_head": "self"}]}, headers=headers
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "in_another_household"
    headless = await records.post(
        "/v1/households", json={**body, "members": [{"person_id": head, "relation_to_head": "child"}]}, headers=headers
    )
    assert headless.status_code == 422 and headless.json()["error"]["field"] == "members"
    nowhere = {**body, "overseas_ties": [{"country": "ZZ", "relation": "brother"}]}
    unknown_country = await records.post("/v1/households", json=nowhere, headers=headers)
    assert unknown_country.status_code == 422 and unknown_country.json()["error"]["field"] == "overseas_ties.0.country"
    assert (await records.post(f"/v1/people/{spouse}/erase", headers=headers)).status_code == 200
    after = (await records.get(f"/v1/households/{household['id']}", headers=headers)).json()
    assert [m["person_id"] for m in after["members"]] == [head]  # erasure leaves no trace of the spouse
    assert after["overseas_ties"][0]["relation"] == "brother"  # the family's, while one of it is left
    assert (await records.post(f"/v1/people/{head}/erase", headers=headers)).status_code == 200
    emptied = (await records.get(f"/v1/households/{household['id']}", headers=headers)).json()
    assert (emptied["members"], emptied["overseas_ties"]) == ([], []), "nobody left: nothing of theirs kept"


async def test_the_way_to_reach_a_relative_abroad_is_sealed_and_shown_masked(records, caller, station, mongo, unique):
    headers = caller(stations=STAFF)
    head, _ = await make_family(records, caller)
    reach = "+84 90 123 4567"
    tie = {"country": "VN", "relation": "brother", "name": "陈大明", "how_to_reach": reach}
    body = {"station_id": "st-shengli", "members": [{"person_id": head, "relation_to_head": "self"}]}
    created = (await records.post("/v1/households", json={**body, "overseas_ties": [tie]}, headers=headers)).json()
    url = f"/v1/households/{created['id']}"
    stored = await mongo[f"records_{unique}"]["households"].find_one({"_id": created["id"]})
    assert reach not in str(stored) and stored["overseas_ties"][0]["how_to_reach"]["cipher"].startswith("v1:")
    masked = "+8***********67"
    listed = (await records.get("/v1/households", headers=headers)).json()
    assert [t["how_to_reach"] for t in created["overseas_ties"] + listed[0]["overseas_ties"]] == [masked, masked]
    deputy = caller(Role.DEPUTY, stations=STAFF)
    assert (await records.get(url, params={"reveal": "true"}, headers=deputy)).status_code == 403
    revealed = await records.get(url, params={"reveal": "true"}, headers=headers)
    assert revealed.json()["overseas_ties"][0]["how_to_reach"] == reach
    audit = mongo[f"records_{unique}"]["audit"].find({"action": "reveal_household"}, {"subject": 1, "station_id": 1})
    assert [(a["subject"], a["station_id"]) for a in await audit.to_list()] == [(created["id"], "st-shengli")]

    async def put_back(ties: list[dict[str, Any]], version: int) -> list[str]:
        """The ways to reach stored after a PUT of ``ties`` over ``version``."""
        changed = await records.put(
            url,
            json={"members": body["members"], "overseas_ties": ties},
            headers={**headers, "If-Match": f'"{version}"'},
        )
        assert changed.status_code == 200, changed.text
        revealed = (await records.get(url, params={"reveal": "true"}, headers=headers)).json()
        return [t["how_to_reach"] for t in revealed["overseas_ties"]]

    # A tie sent back as a masked read showed it (with its position) keeps its way to reach, even
    # where two numbers mask alike; a new value replaces it.
    alike = "+84 91 765 4367"
    new = {"country": "MY", "relation": "sister", "how_to_reach": alike}
    assert await put_back([tie, new], 1) == [reach, alike]
    shown = (await records.get(url, headers=headers)).json()["overseas_ties"]
    assert [t["how_to_reach"] for t in shown] == [masked, masked] and [t["position"] for t in shown] == [0, 1]
    assert await put_back(shown, 2) == [reach, alike]
    assert await put_back([shown[1]], 3) == [alike], "the tie at its position, not the first that masks alike"
    assert await put_back([{**shown[1], "position": 0, "how_to_reach": "wechat: lin88"}], 4) == ["wechat: lin88"]
    # One an older version kept in clear is kept too when sent back masked (and sealed).
    households = mongo[f"records_{unique}"]["households"]
    await households.update_one({"_id": created["id"]}, {"$set": {"overseas_ties.0.how_to_reach": reach}})
    shown = (await records.get(url, headers=headers)).json()["overseas_ties"]
    assert shown[0]["how_to_reach"] == masked and await put_back(shown, 5) == [reach]
    assert reach not in str(await households.find_one({"_id": created["id"]}))


async def test_assignment_and_change_of_term_move_households_in_one_audited_step(
    records, caller, station, mongo, unique
):
    headers = caller(stations=STAFF)
    head, spouse = await make_family(records, caller)
    old, new = await make_deputy(records, caller, "李华"), await make_deputy(records, caller, "王芳")
    ids = []
    for person in (head, spouse):
        body = {"station_id": "st-shengli", "members": [{"person_id": person, "relation_to_head": "self"}]}
        ids.append((await records.post("/v1/households", json=body, headers=headers)).json()["id"])
    for household_id in ids:
        assigned = await records.put(
            f"/v1/households/{household_id}/deputy", json={"deputy_id": old}, headers={**headers, "If-Match": '"1"'}
        )
        assert assigned.status_code == 200, assigned.text
    stale = await records.put(
        f"/v1/households/{ids[0]}/deputy", json={"deputy_id": new}, headers={**headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    to_self = await records.post(
        f"/v1/deputies/{old}/handover", json={"to_deputy_id": old, "reason": "换届"}, headers=headers
    )
    assert to_self.status_code == 422 and to_self.json()["error"]["code"] == "same_deputy"
    handed = await records.post(
        f"/v1/deputies/{old}/handover", json={"to_deputy_id": new, "reason": "换届"}, headers=headers
    )
    assert handed.json() == {"from_deputy_id": old, "to_deputy_id": new, "households": 2}
    listed = (await records.get("/v1/households", params={"deputy_id": new}, headers=headers)).json()
    assert sorted(h["id"] for h in listed) == sorted(ids)
    found = (await records.get("/v1/people", params={"deputy_id": new}, headers=headers)).json()["items"]
    assert sorted(p["id"] for p in found) == sorted([head, spouse])
    moves = [e.data for e in await outbox(mongo, unique) if e.type == "assignment.changed"]
    assert [(m["previous_deputy_id"], m["deputy_id"]) for m in moves] == [
        (None, old),
        (None, old),
        (old, new),
        (old, new),
    ]
    audit = await mongo[f"records_{unique}"]["audit"].find({"action": "hand_over"}).to_list()
    assert len(audit) == 1 and "换届" in audit[0]["subject"]
    history = (await records.get(f"/v1/people/{head}/history", headers=headers)).json()
    links = [(h["field"], h["before"], h["after"], h["by"]) for h in history if h["field"] != "*"]
    assert links[-2:] == [("deputy_id", None, old, "staff-1"), ("deputy_id", old, new, "staff-1")]
    assert ("household_id", None, ids[0], "staff-1") in links or ("household_id", None, ids[1], "staff-1") in links

    # A deputy leaves a station only once its households have another responsible deputy.
    both = caller(stations=("st-shengli", "st-other"))
    moving = {"name": "王芳", "level": "district", "station_ids": ["st-other"], "mobile": "13877210000"}
    kept = await records.put(f"/v1/deputies/{new}", json=moving, headers={**both, "If-Match": '"1"'})
    assert kept.status_code == 409 and kept.json()["error"]["code"] == "holds_households", kept.text
    assert kept.json()["error"]["field"] == "station_ids" and kept.json()["error"]["station_ids"] == ["st-shengli"]
    assert (await records.get(f"/v1/deputies/{new}", headers=headers)).json()["station_ids"] == ["st-shengli"]
    freed = await records.put(
        f"/v1/deputies/{old}", json={**moving, "name": "李华"}, headers={**both, "If-Match": '"1"'}
    )
    assert freed.status_code == 200 and freed.json()["station_ids"] == ["st-other"], freed.text


async def test_a_visit_carries_its_opinions_each_with_a_stable_id(records, caller, station, mongo, unique):
    headers = caller(stations=STAFF)
    head, _ = await make_family(records, caller)
    deputy = await make_deputy(records, caller, "李华")
    household = (
        await records.post(
            "/v1/households",
            json={"station_id": "st-shengli", "members": [{"person_id": head, "relation_to_head": "self"}]},
            headers=headers,
        )
    ).json()["id"]
    today = datetime.now(UTC).date()
    visit = {
        "station_id": "st-shengli",
        "kind": "household_visit",
        "visited_on": today.isoformat(),
        "deputy_ids": [deputy],
        "household_ids": [household],
        "person_ids": [head],
        "attendees": 3,
        "notes": "陈小明（电话（138）7721-2345，又１３８７７２１２３４５）说楼道灯坏了，林美华在场",
        "opinions": [
            {"kind": "request", "text": "楼道灯坏了", "person_id": head, "household_id": household},
            {"kind": "suggestion", "text": "希望多组织侨法宣讲"},
        ],
    }
    logged = await records.post("/v1/visits", json=visit, headers=headers)
    assert logged.status_code == 201, logged.text
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "visit.logged" and event.subject == logged.json()["id"] and event.data["attendees"] == 3
    assert [o["opinion_id"] for o in event.data["opinions"]] == [f"{logged.json()['id']}-1", f"{logged.json()['id']}-2"]
    future = await records.post(
        "/v1/visits", json={**visit, "visited_on": (today + timedelta(days=2)).isoformat()}, headers=headers
    )
    assert future.status_code == 422 and future.json()["error"]["field"] == "visited_on"
    stranger = await records.post("/v1/visits", json={**visit, "household_ids": ["h-nowhere"]}, headers=headers)
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "unknown_reference"
    nobody = {**visit, "household_ids": [], "person_ids": [], "opinions": [{"kind": "suggestion", "text": "多办讲座"}]}
    unnamed = await records.post("/v1/visits", json=nobody, headers=headers)
    assert unnamed.status_code == 422 and unnamed.json()["error"]["code"] == "nobody_visited"
    assert unnamed.json()["error"]["field"] == "household_ids"
    listed = (await records.get("/v1/visits", params={"household_id": household}, headers=headers)).json()
    assert [v["id"] for v in listed] == [logged.json()["id"]]

    assert (await records.post(f"/v1/people/{head}/erase", headers=headers)).status_code == 200
    [erased] = (await records.get("/v1/visits", params={"household_id": household}, headers=headers)).json()
    assert [o["text"] for o in erased["opinions"]] == [ERASED_TEXT, "希望多组织侨法宣讲"], "only what they raised"
    assert erased["notes"] == f"{ERASED_MENTION}（电话（{ERASED_MENTION}，又{ERASED_MENTION}）说楼道灯坏了，林美华在场"
    [retained] = [e for e in await outbox(mongo, unique) if e.subject == logged.json()["id"]]
    assert [o["text"] for o in retained.data["opinions"]] == [ERASED_TEXT, "希望多组织侨法宣讲"], "nor does a replay"
    assert retained.id == event.id, "the same event, redacted"


async def test_activities_are_logged_and_listed_by_kind_and_period(records, caller, station, mongo, unique):
    headers = caller(stations=STAFF)
    deputy = await make_deputy(records, caller, "李华")
    day = datetime.now(UTC).date() - timedelta(days=10)
    for kind, title in (("lecture", "侨法宣讲"), ("study", "学习会")):
        body = {
            "station_id": "st-shengli",
            "kind": kind,
            "held_on": day.isoformat(),
            "title": title,
            "deputy_ids": [deputy],
            "attendees": 35,
        }
        assert (await records.post("/v1/activities", json=body, headers=headers)).status_code == 201
    lectures = (
        await records.get("/v1/activities", params={"kind": "lecture", "start": day.isoformat()}, headers=headers)
    ).json()
    assert [a["title"] for a in lectures] == ["侨法宣讲"]
    later = (
        await records.get("/v1/activities", params={"start": (day + timedelta(days=1)).isoformat()}, headers=headers)
    ).json()
    assert later == []
    held = [e for e in await outbox(mongo, unique) if e.type == "activity.held"]
    assert [e.data["kind"] for e in held] == ["lecture", "study"] and held[0].data["attendees"] == 35
    negative = await records.post("/v1/activities", json={**body, "attendees": -1}, headers=headers)
    assert negative.status_code == 422 and negative.json()["error"]["field"] == "attendees"

    # Those who took part may be named; the opinions they raise travel with the event, and their
    # erasure reaches the activity's notes.
    head, spouse = await make_family(records, caller)
    reception = {
        **body,
        "kind": "reception_day",
        "title": "接待日",
        "person_ids": [head, spouse],
        "notes": "陈小明反映医保报销难",
        "opinions": [{"kind": "request", "text": "医保报销难", "person_id": head}],
    }
    stranger = await records.post("/v1/activities", json={**reception, "person_ids": ["p-nowhere"]}, headers=headers)
    assert stranger.status_code == 422 and stranger.json()["error"]["field"] == "person_ids"
    received = await records.post("/v1/activities", json=reception, headers=headers)
    assert received.status_code == 201, received.text
    event = (await outbox(mongo, unique))[-1]
    assert event.type == "activity.held" and event.data["person_ids"] == [head, spouse]
    assert [(o["person_id"], o["text"]) for o in event.data["opinions"]] == [(head, "医保报销难")]
    theirs = (await records.get("/v1/activities", params={"person_id": spouse}, headers=headers)).json()
    assert [a["id"] for a in theirs] == [received.json()["id"]]
    assert (await records.post(f"/v1/people/{head}/erase", headers=headers)).status_code == 200
    [after] = [
        a for a in (await records.get("/v1/activities", headers=headers)).json() if a["id"] == received.json()["id"]
    ]
    assert after["notes"] == f"{ERASED_MENTION}反映医保报销难" and after["opinions"][0]["text"] == ERASED_TEXT


async def test_a_household_is_announced_again_once_a_member_turns_seventy(
    records, caller, station, mongo, unique, endpoints, keys
):
    """The elderly flag of household.changed follows the calendar: each day, and at a start for
    the days the service was down, the households whose member turned 70 are announced again."""
    headers = caller(stations=STAFF)
    db = mongo[f"records_{unique}"]
    today = china_day()
    born = {"station_id": "st-shengli", "category": "relative", "name": "林小华", "relation": "spouse"}
    tomorrow_seventy = elderly_born_by(today + timedelta(days=1))
    person = (await records.post("/v1/people", json={**born, "birth_date": tomorrow_seventy}, headers=headers)).json()
    members = [{"person_id": person["id"], "relation_to_head": "self"}]
    household = await records.post(
        "/v1/households", json={"station_id": "st-shengli", "members": members}, headers=headers
    )
    assert household.status_code == 201, household.text

    async def flags() -> list[bool]:
        return [e.data["elderly"] for e in await outbox(mongo, unique) if e.type == "household.changed"]

    assert await flags() == [False]

    async def passed(through: str) -> bool:
        return await db[DAILY_STATE].find_one({"_id": ELDERLY, "through": through}) is not None

    await wait_until(lambda: passed(today.isoformat()), within=10)  # the first pass at start marks today
    # Two days later (the service down meanwhile), the member has turned 70.
    await db["people"].update_one({"_id": person["id"]}, {"$set": {"birth_date": elderly_born_by(today)}})
    two_days_ago = (today - timedelta(days=2)).isoformat()
    await db[DAILY_STATE].update_one({"_id": ELDERLY}, {"$set": {"through": two_days_ago}})
    async with own_database("records", endpoints, keys, unique):
        await wait_until(lambda: passed(today.isoformat()), within=10)
    assert await flags() == [False, True]
    async with own_database("records", endpoints, keys, unique):
        await asyncio.sleep(0.3)
    assert await flags() == [False, True], "each day announced once"
    # A first pass (a service upgraded to this one) announces every household with an elderly member.
    await db[DAILY_STATE].delete_many({})
    async with own_database("records", endpoints, keys, unique):
        await wait_until(lambda: passed(today.isoformat()), within=10)
    assert await flags() == [False, True, True]
    # The pass reads an index, not every file.
    query = {"birth_date": {"$lte": elderly_born_by(today)}, **IN_HOUSEHOLD}
    plan = await db.command("explain", {"find": "people", "filter": query})
    assert "COLLSCAN" not in str(plan["queryPlanner"]["winningPlan"]), plan


async def test_changing_a_file_keeps_its_household_and_deputy(records, caller, station):
    headers = caller(stations=STAFF)
    head, _ = await make_family(records, caller)
    deputy = await make_deputy(records, caller, "李华")
    body = {"station_id": "st-shengli", "members": [{"person_id": head, "relation_to_head": "self"}]}
    household_id = (await records.post("/v1/households", json=body, headers=headers)).json()["id"]
    assigned = await records.put(
        f"/v1/households/{household_id}/deputy", json={"deputy_id": deputy}, headers={**headers, "If-Match": '"1"'}
    )
    assert assigned.status_code == 200, assigned.text
    etag = (await records.get(f"/v1/people/{head}", headers=headers)).headers["ETag"]
    changed = await records.patch(f"/v1/people/{head}", json={"notes": "已搬迁"}, headers={**headers, "If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["household_id"] == household_id and changed.json()["deputy_id"] == deputy
    found = (await records.get("/v1/people", params={"deputy_id": deputy}, headers=headers)).json()["items"]
    assert [p["id"] for p in found] == [head]


async def test_a_visit_logged_while_its_person_is_erased_is_refused_or_blanked(records, caller, station, mongo, unique):
    """The log and the erasure cannot commit past each other: the visit is refused (the person is
    gone) or stored before the erasure, which then blanks it. A visit after the erasure is refused."""
    headers = caller(stations=STAFF)
    deputy = await make_deputy(records, caller, "李华")
    visits = mongo[f"records_{unique}"]["visits"]
    for attempt in range(8):
        person = (
            await records.post(
                "/v1/people", json=chen(id_number=None, phones=[]), params={"allow_duplicates": "true"}, headers=headers
            )
        ).json()["id"]
        visit = {
            "station_id": "st-shengli",
            "kind": "household_visit",
            "visited_on": china_day().isoformat(),
            "deputy_ids": [deputy],
            "person_ids": [person],
            "notes": f"陈小明说楼道灯坏了 {attempt}",
            "opinions": [{"kind": "suggestion", "text": "陈小明的意见", "person_id": person}],
        }
        logged, erased = await asyncio.gather(
            records.post("/v1/visits", json=visit, headers=headers),
            records.post(f"/v1/people/{person}/erase", headers=headers),
        )
        assert erased.status_code == 200, erased.text
        assert logged.status_code in (201, 422), logged.text
        stored = await visits.find_one({"person_ids": person})
        if logged.status_code == 201:
            assert "陈小明" not in str(stored), stored
        else:
            assert logged.json()["error"]["field"] == "person_ids" and stored is None
    after = await records.post("/v1/visits", json=visit, headers=headers)
    assert after.status_code == 422 and after.json()["error"]["code"] == "unknown_reference", after.text


async def test_erasure_blanks_a_log_naming_the_household_only_through_an_opinion(
    records, caller, station, mongo, unique
):
    headers = caller(stations=STAFF)
    head, spouse = await make_family(records, caller)
    members = [{"person_id": head, "relation_to_head": "self"}, {"person_id": spouse, "relation_to_head": "spouse"}]
    household = (
        await records.post("/v1/households", json={"station_id": "st-shengli", "members": members}, headers=headers)
    ).json()["id"]
    deputy = await make_deputy(records, caller, "李华")
    visit = {
        "station_id": "st-shengli",
        "kind": "household_visit",
        "visited_on": china_day().isoformat(),
        "deputy_ids": [deputy],
        "notes": "陈小明反映楼道灯坏了",
        "opinions": [{"kind": "request", "text": "修楼道灯", "household_id": household}],
    }
    assert (await records.post("/v1/visits", json=visit, headers=headers)).status_code == 201
    assert (await records.post(f"/v1/people/{head}/erase", headers=headers)).status_code == 200
    stored = await mongo[f"records_{unique}"]["visits"].find_one({"opinions.household_id": household})
    assert stored["notes"] == f"{ERASED_MENTION}反映楼道灯坏了", stored
