"""A case names the people, household and deputies it came from, through records' events on the
real bus, and stays readable, without the name, once the person is erased."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from liaison_cases.adapters.records_events import ErasedRead, OpinionRead, VisitRead
from liaison_cases.service_layer.erasure import ERASED_TEXT, on_returnee_erased
from liaison_cases.service_layer.opinions import on_visit_logged
from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import OUTBOX, Document
from liaison_infra.runtime import Runtime

from tests.apps import add_station, serve
from tests.cases.runtimes import cases_service, records_and_cases
from tests.infra.support import forget_relay_position, running, wait_until

READ_MODEL = ("people", "households", "deputies")


async def read_model(db: Any, ids: list[str]) -> dict[str, list[Document]]:
    """What the read model holds of ``ids`` (the topics are shared with other tests' events)."""
    return {name: await db[name].find({"_id": {"$in": ids}}).sort("_id", 1).to_list() for name in READ_MODEL}


async def test_a_case_names_who_it_came_from_and_forgets_an_erased_person(
    endpoints, keys, unique, caller, mongo
) -> None:
    records_settings, cases_settings, records_runtime, cases_runtime = records_and_cases(endpoints, keys, unique)
    cases_db = mongo[f"cases_{unique}"]
    station = f"st-{unique}"  # the cases consumer also reads other tests' visits: count only ours
    staff = caller(stations=(station,))
    async with serve("records", records_settings) as records:
        await add_station(records, caller(Role.ADMIN), station)
        new_deputy = {"name": "李华", "level": "district", "station_ids": [station]}
        deputy = (await records.post("/v1/deputies", json=new_deputy, headers=staff)).json()["id"]
        people = []
        for name in ("陈小明", "陈晓明"):  # the second is a duplicate file of the first, merged later
            returnee = {"station_id": station, "category": "returnee", "name": name}
            people.append((await records.post("/v1/people", json=returnee, headers=staff)).json()["id"])
        person, duplicate = people
        members = [{"person_id": person, "relation_to_head": "self"}]
        created = await records.post("/v1/households", json={"station_id": station, "members": members}, headers=staff)
        household = created.json()["id"]
        assigned = await records.put(
            f"/v1/households/{household}/deputy",
            json={"deputy_id": deputy},
            headers={**staff, "If-Match": created.headers["ETag"]},
        )
        assert assigned.status_code == 200, assigned.text
        visit = {
            "station_id": station,
            "kind": "household_visit",
            "visited_on": datetime.now(UTC).date().isoformat(),
            "deputy_ids": [deputy],
            "household_ids": [household],
            "opinions": [
                {"kind": "request", "text": "楼道灯坏了", "person_id": person, "household_id": household},
                {"kind": "opinion", "text": "希望多办讲座", "person_id": duplicate},
            ],
        }
        logged = await records.post("/v1/visits", json=visit, headers=staff)
        assert logged.status_code == 201, logged.text
        own_case, duplicates_case = (f"c-{logged.json()['id']}-{n}" for n in (1, 2))
        kept = await records.get(f"/v1/people/{person}", headers=staff)
        merged = await records.post(
            f"/v1/people/{person}/merge",
            json={"duplicate_id": duplicate},
            headers={**staff, "If-Match": kept.headers["ETag"]},
        )
        assert merged.status_code == 200, merged.text

    ours = [person, duplicate, deputy, household]

    async def everything_arrived() -> bool:
        known = await read_model(cases_db, ours)
        household_doc = known["households"][0] if known["households"] else {}
        return (
            await cases_db["cases"].count_documents({"station_id": station}) == 2
            and any(p.get("merged_into") == person for p in known["people"])
            and len(known["deputies"]) == 1
            and household_doc.get("deputy_id") == deputy
            and household_doc.get("member_ids") == [person]
        )

    async with running(records_runtime.relay()), running(cases_runtime.consumer()):
        await wait_until(everything_arrived, within=60)

    async with serve("cases", cases_settings) as cases:
        links = (await cases.get(f"/v1/cases/{own_case}", headers=staff)).json()["links"]
        named = {"person_id": person, "name": "陈小明", "status": "active", "merged_into": None, "note": None}
        assert links["originators"] == [named]
        assert links["deputies"] == [{"deputy_id": deputy, "name": "李华", "level": "district"}]
        assert links["household"] == {
            "household_id": household,
            "known": True,
            "head": named,
            "deputy": {"deputy_id": deputy, "name": "李华", "level": "district"},
            "members": 1,
        }
        assert links["origin"]["source"] == "visit"
        from_duplicate = (await cases.get(f"/v1/cases/{duplicates_case}", headers=staff)).json()["links"]
        assert from_duplicate["originators"] == [
            {
                "person_id": duplicate,
                "name": "陈晓明",
                "status": "archived",
                "merged_into": named,
                "note": f"file merged into {person}",
            }
        ]

    async with serve("records", records_settings) as records:
        assert (await records.post(f"/v1/people/{person}/erase", headers=staff)).status_code == 200

    async def erased_everywhere() -> bool:
        case = await cases_db["cases"].find_one({"_id": own_case})
        file = await cases_db["people"].find_one({"_id": person})
        return bool(case and case["originators"] == [] and file and file["status"] == "erased")

    async with running(cases_runtime.consumer()):
        async with running(records_runtime.relay()):
            await wait_until(erased_everywhere, within=60)
        before_replay = await read_model(cases_db, ours)
        # Replay all that records' outbox retains: nothing in it may bring the name back.
        outbox = mongo[f"records_{unique}"]["outbox"]
        consumed = {s.event_type for s in cases_runtime.spec.subscriptions}
        redelivered = sum([Envelope.from_bytes(d["payload"]).type in consumed async for d in outbox.find({})])
        assert redelivered > 0
        await forget_relay_position(records_runtime)
        async with running(records_runtime.relay()):
            await wait_until(lambda: _duplicates_seen(cases_runtime, redelivered), within=60)
    assert await read_model(cases_db, ours) == before_replay
    assert "陈小明" not in repr(before_replay)

    async with serve("cases", cases_settings) as cases:
        read = await cases.get(f"/v1/cases/{own_case}", headers=staff)
        assert read.status_code == 200 and "陈小明" not in read.text
        # The case was their words alone: blanked, as records blanks the opinion.
        assert read.json()["title"] == read.json()["content"] == ERASED_TEXT
        links = read.json()["links"]
        erased = {"person_id": None, "name": None, "status": "erased", "merged_into": None}
        assert [{k: v for k, v in o.items() if k != "note"} for o in links["originators"]] == [erased]
        assert links["household"]["head"] is None and links["household"]["members"] == 0
        assert links["deputies"][0]["name"] == "李华"
        from_duplicate = (await cases.get(f"/v1/cases/{duplicates_case}", headers=staff)).json()["links"]
        # The duplicate merged into the erased file is the same person: erased with it.
        assert {k: v for k, v in from_duplicate["originators"][0].items() if k != "note"} == erased
        assert "陈小明" not in repr(from_duplicate)
    await records_runtime.close()
    await cases_runtime.close()


def from_records(subject: str) -> Envelope:
    """An event of records about ``subject``, as the handlers read its envelope."""
    return Envelope(
        source="records", type="test", subject=subject, dataschema="test", station_id="st-1", district_id="d-1",
        correlationid="c-1", data={},
    )  # fmt: skip


def opinion(opinion_id: str, text: str, person_id: str) -> OpinionRead:
    return OpinionRead(opinion_id=opinion_id, kind="request", text=text, person_id=person_id, household_id=None)


async def test_erasure_blanks_the_cases_a_person_raised_alone_even_when_their_opinion_comes_later(
    endpoints, keys, unique
) -> None:
    async with cases_service(endpoints, keys, unique) as cases:
        run = cases.runtime.transaction

        await run(lambda tx: on_returnee_erased(ErasedRead(person_id="p-early"), from_records("p-early"), tx))
        # The bus orders no two topics: a visit logged before the erasure may arrive after it.
        visit = VisitRead(
            visit_id="v",
            station_id="st-1",
            deputy_ids=["dep-1"],
            opinions=[
                opinion("v-1", "楼道灯坏了", "p-early"),
                opinion("v-2", "希望多办讲座", "p-late"),
                opinion("v-3", "路灯", "p-both"),
            ],
        )
        await run(lambda tx: on_visit_logged(visit, from_records("v"), tx))
        await cases.db["cases"].update_one({"_id": "c-v-3"}, {"$push": {"originators": "p-late"}})  # as a merge does
        await run(lambda tx: on_returnee_erased(ErasedRead(person_id="p-late"), from_records("p-late"), tx))

        stored = {case["_id"]: case async for case in cases.db["cases"].find({})}
        shown = {
            key: [stored[key][name] for name in ("title", "content", "originators", "erased_originators")]
            for key in stored
        }
        assert shown == {
            "c-v-1": [ERASED_TEXT, ERASED_TEXT, [], 1],
            "c-v-2": [ERASED_TEXT, ERASED_TEXT, [], 1],
            "c-v-3": ["路灯", "路灯", ["p-both"], 1],  # raised with someone else: their words too
        }
        retained = [Envelope.from_bytes(event["payload"]).data async for event in cases.db[OUTBOX].find({})]
        assert {event["case_id"] for event in retained} == {"c-v-1", "c-v-2", "c-v-3"}
        assert not {"楼道灯坏了", "希望多办讲座", "p-early", "p-late"} & {
            str(v) for e in retained for v in [e["title"], *e["originators"]]
        }


async def test_an_opinion_applied_while_its_person_is_erased_never_keeps_them(endpoints, keys, unique) -> None:
    """The consumer applies two topics at once: each race ends as if one came first."""

    async with cases_service(endpoints, keys, unique) as cases:
        run = cases.runtime.transaction

        async def log_and_erase_at_once(person: str, visit: str) -> None:
            raised = VisitRead(
                visit_id=visit,
                station_id="st-1",
                deputy_ids=["dep-1"],
                opinions=[opinion(f"{visit}-1", "路灯", person)],
            )
            await asyncio.gather(
                run(lambda tx: on_visit_logged(raised, from_records(visit), tx)),
                run(lambda tx: on_returnee_erased(ErasedRead(person_id=person), from_records(person), tx)),
            )

        for n in range(8):
            await log_and_erase_at_once(f"p-{n}", f"v{n}")
            case = await cases.db["cases"].find_one({"_id": f"c-v{n}-1"})
            assert case is not None and (case["originators"], case["content"]) == ([], ERASED_TEXT), case


async def _duplicates_seen(runtime: Runtime, at_least: int) -> bool:
    return runtime.metrics.consumer_duplicates._value.get() >= at_least
