"""Searching files by name (characters, pinyin, initials), facts and pages."""

import base64
import json
from datetime import UTC, datetime
from typing import Any

from tests.records.people_data import chen, id_number


def person(name: str, birth: str, sequence: str, **extra) -> dict[str, Any]:
    return {
        "station_id": "st-shengli",
        "category": "returnee",
        "name": name,
        "id_number": id_number("450203", birth, sequence),
        **extra,
    }


PEOPLE = [
    person("陈小明", "19480503", "113", country="VN", hardship=["living_alone"]),
    person("陈晓红", "19600101", "224", country="ID"),
    person("曾国华", "19551111", "335", country="MY", hardship=["living_alone", "disabled"]),
    person("林美华", "19900707", "446", country="VN"),
    person("王建国", "19400202", "557", country="TH"),
]


async def seeded(records, caller) -> dict[str, str]:
    ids = {}
    for body in PEOPLE:
        response = await records.post("/v1/people", json=body, headers=caller(stations=("st-shengli",)))
        assert response.status_code == 201, response.text
        ids[body["name"]] = response.json()["id"]
    return ids


async def names(records, caller, **params) -> list[str]:
    response = await records.get("/v1/people", params=params, headers=caller(stations=("st-shengli",)))
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def test_names_are_found_by_characters_pinyin_and_initials(records, caller, station) -> None:
    await seeded(records, caller)
    assert await names(records, caller, q="陈") == ["陈晓红", "陈小明"]
    assert await names(records, caller, q="chen") == ["陈晓红", "陈小明"]
    assert await names(records, caller, q="Chen Xiao") == ["陈晓红", "陈小明"]
    assert await names(records, caller, q="cxm") == ["陈小明"]
    assert await names(records, caller, q="c") == ["陈晓红", "陈小明"]
    assert await names(records, caller, q="zeng") == ["曾国华"]
    assert await names(records, caller, q="guohua") == ["曾国华"]
    assert await names(records, caller, q="xiaoming") == ["陈小明"]
    assert await names(records, caller, q="zhang") == []


async def test_filters_combine(records, caller, station) -> None:
    await seeded(records, caller)
    assert await names(records, caller, country="vn") == ["陈小明", "林美华"]
    assert await names(records, caller, hardship="living_alone") == ["陈小明", "曾国华"]
    assert await names(records, caller, hardship=["living_alone", "disabled"]) == ["曾国华"]
    today = datetime.now(UTC).date()
    age_of_lin = today.year - 1990 - ((today.month, today.day) < (7, 7))
    assert await names(records, caller, min_age=age_of_lin, max_age=age_of_lin) == ["林美华"]
    oldest = await names(records, caller, min_age=today.year - 1940 - 1)
    assert "王建国" in oldest and "林美华" not in oldest
    assert await names(records, caller, q="chen", country="ID") == ["陈晓红"]


async def test_files_are_found_by_household_and_by_status(records, caller, station) -> None:
    ids = await seeded(records, caller)
    headers = caller(stations=("st-shengli",))
    members = [
        {"person_id": ids["陈小明"], "relation_to_head": "self"},
        {"person_id": ids["林美华"], "relation_to_head": "spouse"},
    ]
    household = await records.post(
        "/v1/households", json={"station_id": "st-shengli", "members": members}, headers=headers
    )
    assert household.status_code == 201, household.text
    closed = await records.post(
        f"/v1/people/{ids['王建国']}/close", json={"status": "deceased"}, headers={**headers, "If-Match": '"1"'}
    )
    assert closed.status_code == 200, closed.text

    assert await names(records, caller, household_id=household.json()["id"]) == ["陈小明", "林美华"]
    assert await names(records, caller, status="deceased") == ["王建国"]
    assert "王建国" not in await names(records, caller, status="active")


async def test_cursor_pages_cover_everything_once_in_either_order_even_across_equal_names(
    records, caller, station
) -> None:
    await seeded(records, caller)
    twin = await records.post(
        "/v1/people", json=person("林美华", "19910808", "468"), headers=caller(stations=("st-shengli",))
    )
    assert twin.status_code == 201, twin.text
    by_name = ["陈晓红", "陈小明", "林美华", "林美华", "王建国", "曾国华"]  # by full pinyin, then id
    latest_first = ["林美华", "王建国", "林美华", "曾国华", "陈晓红", "陈小明"]
    for sort, expected in (("name", by_name), ("updated", latest_first)):
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            params = {"limit": 1, "sort": sort, **({"cursor": cursor} if cursor else {})}
            page = (await records.get("/v1/people", params=params, headers=caller(stations=("st-shengli",)))).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(set(seen)) == len(seen) == len(expected), sort
        listed = await records.get("/v1/people", params={"sort": sort}, headers=caller(stations=("st-shengli",)))
        assert [item["id"] for item in listed.json()["items"]] == seen
        assert [item["name"] for item in listed.json()["items"]] == expected


async def test_a_cursor_page_neither_repeats_nor_skips_when_files_come_and_go_before_it(
    records, caller, station
) -> None:
    headers = caller(stations=("st-shengli",))
    ids = await seeded(records, caller)  # by name: 陈晓红, 陈小明, 林美华, 王建国, 曾国华
    first = (await records.get("/v1/people", params={"limit": 2}, headers=headers)).json()
    assert [item["name"] for item in first["items"]] == ["陈晓红", "陈小明"]
    added = await records.post("/v1/people", json=person("敖东", "19700101", "118"), headers=headers)  # ao: sorts first
    assert added.status_code == 201, added.text
    page = await records.get("/v1/people", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    assert [item["name"] for item in page.json()["items"]] == ["林美华", "王建国"]
    for name in ("敖东", "陈晓红"):
        person_id = added.json()["id"] if name == "敖东" else ids[name]
        assert (await records.post(f"/v1/people/{person_id}/erase", headers=headers)).status_code == 200
    page = await records.get("/v1/people", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers)
    assert [item["name"] for item in page.json()["items"]] == ["林美华", "王建国"]
    last = await records.get("/v1/people", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=headers)
    assert [item["name"] for item in last.json()["items"]] == ["曾国华"] and last.json()["next_cursor"] is None


async def test_a_search_row_is_the_file_as_a_masked_read_shows_it_before_and_after_a_change(
    records, caller, station
) -> None:
    headers = caller(stations=("st-shengli",))
    registered = await records.post("/v1/people", json=chen(), headers=headers)
    assert registered.status_code == 201, registered.text
    url = f"/v1/people/{registered.json()['id']}"

    async def row_and_read() -> tuple[Any, Any]:
        found = (await records.get("/v1/people", params={"q": "chen"}, headers=headers)).json()["items"]
        return found, [(await records.get(url, headers=headers)).json()]

    found, read = await row_and_read()
    assert found == read and found[0]["phones"] == ["138****2345"]
    patch = {"phones": ["13977200000"], "notes": "腿脚不便"}
    changed = await records.patch(url, json=patch, headers={**headers, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    found, read = await row_and_read()
    assert found == read and found[0]["phones"] == ["139****0000"] and found[0]["notes"] == "腿脚不便"


async def test_bad_search_input_is_a_clear_422(records, caller, station) -> None:
    headers = caller(stations=("st-shengli",))
    bad_cursor = await records.get("/v1/people", params={"cursor": "garbage!"}, headers=headers)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["error"]["field"] == "cursor"
    # Well-formed, but not what this service gives: a number to sort by name, an id that is no
    # text, a date cursor used for the name order; extended JSON that does not decode.
    forgeries = [
        ([7, "p-1", 0], "name"),
        (["chen", 7, 0], "name"),
        ([{"$date": 0}, "p-1", 0], "name"),
        ([{"$oid": "zz"}, "p-1", 0], "name"),
        ([{"$numberDecimal": "abc"}, "p-1", 0], "name"),
        ([{"$date": {"$numberLong": "x"}}, "p-1", 0], "updated"),
    ]
    for values, sort in forgeries:
        forged = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        response = await records.get("/v1/people", params={"cursor": forged, "sort": sort}, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_cursor", response.text
    for depth in (700, 2000):  # lists in lists: within the length allowed, and past it
        nested = base64.urlsafe_b64encode(b"[" * depth).decode()
        response = await records.get("/v1/people", params={"cursor": nested}, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == "cursor", response.text
    bad_age = await records.get("/v1/people", params={"min_age": -1}, headers=headers)
    assert bad_age.status_code == 422 and bad_age.json()["error"]["field"] == "min_age"
    blank = await records.get("/v1/people", params={"q": "  ·  "}, headers=headers)
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "empty_query"


def test_repeated_flags_tags_and_stations_count_once() -> None:
    from liaison_records.domain.deputies import DeputyFields
    from liaison_records.domain.people import PersonFields

    person = PersonFields.model_validate(
        {
            "category": "returnee",
            "name": "陈小明",
            "hardship": ["disabled", "disabled"],
            "tags": ["党员", "党员", "楼长"],
        }
    )
    assert person.hardship == ["disabled"] and person.tags == ["党员", "楼长"]
    deputy = DeputyFields.model_validate({"name": "李华", "level": "district", "station_ids": ["st-1", "st-1"]})
    assert deputy.station_ids == ["st-1"]
