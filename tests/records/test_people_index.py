"""The in-memory people index against a brute-force reading of the same stored files."""

import asyncio
import contextlib
import random
from datetime import UTC, datetime, timedelta

from liaison_infra.mongo import Document
from liaison_records.adapters import people_index
from liaison_records.adapters.people_index import SLOT_MASK, Facts, Ordering, PeopleIndex, facet, sort_keys
from liaison_records.adapters.people_store import PEOPLE

from tests.apps import own_database
from tests.infra.support import wait_until
from tests.records.people_data import chen

STATIONS = ["st-a", "st-b", "st-c"]
COUNTRIES = ["VN", "ID", "MY"]
FLAGS = ["living_alone", "disabled", "minimum_living"]
WORDS = ["chen", "chenxiao", "lin", "陈", "陈小", "林"]
TOKENS = ["chen", "lin", "c", "l", "chenx", "陈", "林", "陈小"]


def random_file(rng: random.Random, n: int) -> Document:
    station = rng.choice(STATIONS)
    return {
        "_id": f"p-{n:04d}",
        "station_id": station,
        "district_id": "d-1" if station != "st-c" else "d-2",
        "status": rng.choice(["active", "active", "moved_away", "erased"]),
        "country": rng.choice(COUNTRIES),
        "hardship": rng.sample(FLAGS, rng.randint(0, 2)),
        "name_tokens": sorted({word[:end] for word in rng.sample(WORDS, 2) for end in range(1, len(word) + 1)}),
        "birth_date": rng.choice([None, f"19{rng.randint(30, 80)}-0{rng.randint(1, 9)}-15"]),
        "sort_name": rng.choice(["chen", "lin", "huang"]) + rng.choice(["xiao", "mei", "", "ming"]),
        "updated_at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 60)),
    }


def brute_force(files: list[Document], groups: list[set[str]], order: str, after, limit: int, accept=None) -> list[str]:
    def facets(file: Document) -> set[str]:
        return {*Facts.of(file).facets, *(facet("name_tokens", token) for token in file["name_tokens"])}

    wanted = [
        file
        for file in files
        if all(not group.isdisjoint(facets(file)) for group in groups) and (accept is None or accept(Facts.of(file)))
    ]
    keyed = sorted(sort_keys(file)[order] for file in wanted)
    return [key[1] for key in keyed if after is None or key > after][:limit]


async def test_pages_equal_a_brute_force_reading_as_files_come_change_and_go(
    endpoints, keys, unique, mongo, monkeypatch
) -> None:
    rng = random.Random(7)
    db = mongo[f"records_{unique}"]
    files = [random_file(rng, n) for n in range(400)]
    await db[PEOPLE].insert_many(files)
    index = PeopleIndex(db)
    await index.catch_up()
    # Then the store changes under it: new files (more than the server sends in one batch of
    # changes), replaced ones, deleted ones.
    added = [random_file(rng, n) for n in range(400, 700)]
    await db[PEOPLE].insert_many(added)
    files += added
    for file in rng.sample(files, 40):
        file.update(random_file(rng, 0), _id=file["_id"])
        await db[PEOPLE].replace_one({"_id": file["_id"]}, file)
    for file in rng.sample(files, 30):
        files.remove(file)
        await db[PEOPLE].delete_one({"_id": file["_id"]})
    await index.catch_up()
    assert len(index) == len(files)
    for _ in range(60):
        groups = [{facet("status", "active"), facet("status", "moved_away")}]
        if rng.random() < 0.7:
            groups.append({facet("station_id", s) for s in rng.sample(STATIONS, rng.randint(1, 2))})
        if rng.random() < 0.5:
            groups.append({facet("name_tokens", rng.choice(TOKENS))})
        if rng.random() < 0.3:
            groups.append({facet("country", rng.choice(COUNTRIES))})
        if rng.random() < 0.3:
            groups.append({facet("hardship", rng.choice(FLAGS))})
        order = rng.choice(["name", "updated"])
        expected_all = brute_force(files, groups, order, None, len(files))
        after = None
        if expected_all and rng.random() < 0.5:
            chosen = rng.choice(expected_all)
            pivot = next(file for file in files if file["_id"] == chosen)
            after = sort_keys(pivot)[order]
        limit = rng.choice([1, 5, 50])
        born_by = rng.choice([None, "1955-06-01"])
        accept = None if born_by is None else (lambda facts, by=born_by: (facts.birth_date or "9") <= by)
        expected = brute_force(files, groups, order, after, limit, accept)
        for share in (0.0, 1.0):  # every page met by walking the order, then by ranking candidates
            monkeypatch.setattr(people_index, "SORT_SHARE", share)
            found = index.page(groups, accept, order, after, limit)
            assert [facts.id for facts in found] == expected


def test_an_order_numbers_its_files_as_their_keys_sort_however_they_arrive() -> None:
    """Files added in key order into one gap (as a roster sorted by name imports among files
    already held), before the first and after the last, and some removed: the numbers still
    sort as the keys do, and each names its file's slot."""
    slots: dict[str, int] = {}
    ordering = Ordering(slots)

    def slot(id_: str) -> int:
        return slots.setdefault(id_, len(slots))

    held = [(f"m{n:04d}", f"p-{n:04d}") for n in range(0, 400, 2)]
    for _, id_ in held:
        slot(id_)
    ordering.fill(held, len(slots))
    arriving = [("m0100", f"p-0100-{n:03d}") for n in range(300)]  # each just after the last
    arriving += [(f"a{999 - n:03d}", f"p-a{n:03d}") for n in range(50)]  # each first
    arriving += [(f"z{n:03d}", f"p-z{n:03d}") for n in range(50)]  # each last
    for key in arriving:
        ordering.add(key, slot(key[1]))
    for key in random.Random(3).sample(held + arriving, 100):
        ordering.remove(key, slots[key[1]])
    assert len(ordering.sorted) == len(ordering.keys) == len(held) + len(arriving) - 100
    assert [number & SLOT_MASK for number in ordering.sorted] == [slots[id_] for _, id_ in ordering.keys]
    assert list(ordering.sorted) == [ordering.numbers[slots[id_]] for _, id_ in ordering.keys]
    assert ordering.first_after(("m0100", "p-0100-150")) == ordering.keys.bisect_right(("m0100", "p-0100-150"))


async def test_a_search_sees_a_file_written_through_another_process(records, caller, station, endpoints, keys, unique):
    headers = caller(stations=("st-shengli",))
    async with own_database("records", endpoints, keys, unique) as other:  # a second API process
        before = await other.get("/v1/people", params={"q": "chen"}, headers=headers)
        assert before.status_code == 200 and before.json()["items"] == []
        registered = await records.post("/v1/people", json=chen(), headers=headers)
        assert registered.status_code == 201, registered.text
        found = (await other.get("/v1/people", params={"q": "chen"}, headers=headers)).json()["items"]
        assert [item["id"] for item in found] == [registered.json()["id"]]
        erased = await records.post(f"/v1/people/{registered.json()['id']}/erase", headers=headers)
        assert erased.status_code == 200
        assert (await other.get("/v1/people", params={"q": "chen"}, headers=headers)).json()["items"] == []


async def test_a_following_index_applies_changes_without_being_asked(unique, mongo) -> None:
    db = mongo[f"records_{unique}"]
    index = PeopleIndex(db)
    await index.catch_up()
    following = asyncio.create_task(index.follow())
    try:
        await db[PEOPLE].insert_many([random_file(random.Random(n), n) for n in range(300)])

        async def applied() -> bool:
            return len(index) == 300

        await wait_until(applied)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
