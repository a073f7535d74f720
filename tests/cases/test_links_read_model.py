"""The read model of records' people, households and deputies through the service's real consumer
(inbox, reader model, handler, one transaction) without a broker: whatever order or however
often events arrive, it holds the newest of each and never brings an erased person back."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from liaison_cases.bootstrap import SPEC
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Document
from liaison_infra.runtime import Runtime

from tests.apps import consume, service_settings

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


@pytest.fixture
async def runtime(endpoints, keys, unique) -> AsyncIterator[Runtime]:
    settings = service_settings("cases", endpoints, keys, mongodb_database=f"cases_{unique}")
    runtime = Runtime(settings, SPEC)
    try:
        yield runtime
    finally:
        await runtime.close()


def envelope(event_type: str, data: dict[str, Any], *, minutes: int) -> Envelope:
    return Envelope(
        source="records",
        type=event_type,
        subject="records-test",
        time=T0 + timedelta(minutes=minutes),
        dataschema=f"urn:liaison:{event_type}:v1",
        station_id="st-1",
        district_id="d-1",
        correlationid=uuid4().hex,
        data=data,
    )


def person(name: str, *, minutes: int, event_type: str = "returnee.registered") -> Envelope:
    snapshot: dict[str, Any] = {
        "person_id": "p-1",
        "station_id": "st-1",
        "district_id": "d-1",
        "category": "returnee",
        "name": name,
        "status": "active",
        "household_id": None,
        "hardship": [],
        "birth_year": 1948,
    }
    return envelope(event_type, {"person": snapshot, "changed_fields": ["name"]}, minutes=minutes)


async def stored(runtime: Runtime, collection: str, key: str) -> Document | None:
    return await runtime.db[collection].find_one({"_id": key}, {"as_of": 0})


async def test_an_older_or_repeated_event_changes_nothing(runtime) -> None:
    registered = person("陈小明", minutes=0)
    renamed = person("陈晓明", minutes=10, event_type="returnee.updated")
    await consume(runtime, registered)
    await consume(runtime, renamed)
    await consume(runtime, person("陈旧名", minutes=5, event_type="returnee.updated"))  # late, older
    await consume(runtime, registered)  # redelivered: the inbox absorbs it
    assert (await stored(runtime, "people", "p-1")) == {
        "_id": "p-1",
        "station_id": "st-1",
        "name": "陈晓明",
        "status": "active",
        "household_id": None,
    }
    assert runtime.metrics.consumer_duplicates._value.get() == 1


async def test_a_households_deputy_and_members_may_arrive_in_either_order(runtime) -> None:
    assignment = {"household_id": "h-1", "station_id": "st-1", "previous_deputy_id": "dep-1", "reason": "换届"}
    await consume(runtime, envelope("assignment.changed", {**assignment, "deputy_id": "dep-2"}, minutes=10))
    household = {
        "household_id": "h-1",
        "station_id": "st-1",
        "head_person_id": "p-1",
        "members": [
            {"person_id": "p-1", "relation_to_head": "self"},
            {"person_id": "p-2", "relation_to_head": "spouse"},
        ],
        "deputy_id": "dep-1",
        "hardship": False,
        "elderly": True,
    }
    await consume(runtime, envelope("household.changed", household, minutes=0))  # older, from another topic
    assert (await stored(runtime, "households", "h-1")) == {
        "_id": "h-1",
        "station_id": "st-1",
        "head_person_id": "p-1",
        "member_ids": ["p-1", "p-2"],
        "deputy_id": "dep-2",
    }
    await consume(runtime, envelope("returnee.erased", {"person_id": "p-1"}, minutes=20))
    after = await stored(runtime, "households", "h-1")
    assert after is not None and after["head_person_id"] is None and after["member_ids"] == ["p-2"]


async def test_nothing_brings_an_erased_person_back(runtime) -> None:
    await consume(runtime, person("陈小明", minutes=0))
    await consume(runtime, envelope("returnee.erased", {"person_id": "p-1"}, minutes=10))
    await consume(runtime, person("陈小明", minutes=20, event_type="returnee.updated"))  # a late update
    merged = {"person_id": "p-1", "status": "archived", "merged_into": "p-9"}
    await consume(runtime, envelope("returnee.archived", merged, minutes=30))
    assert (await stored(runtime, "people", "p-1")) == {"_id": "p-1", "status": "erased", "erased": True}


async def test_deputies_are_kept_by_their_latest_registration(runtime) -> None:
    deputy = {
        "deputy_id": "dep-1",
        "name": "李华",
        "level": "district",
        "station_ids": ["st-1"],
        "channels": {"mobile": "13800000000"},
        "term_start": None,
        "term_end": None,
    }
    await consume(runtime, envelope("deputy.registered", deputy, minutes=0))
    await consume(runtime, envelope("deputy.updated", {**deputy, "level": "city"}, minutes=5))
    assert (await stored(runtime, "deputies", "dep-1")) == {
        "_id": "dep-1",
        "name": "李华",
        "level": "city",
        "station_ids": ["st-1"],
    }
