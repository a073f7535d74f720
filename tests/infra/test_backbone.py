"""The outbox, relay and consumer runner against the real servers."""

import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from liaison_infra.deadletters import DeadLetters
from liaison_infra.domain_errors import InvalidInput
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import (
    DEADLETTERS,
    MAX_EVENT_BYTES,
    OUTBOX,
    Transaction,
    forget_retained,
    outbox_document,
    redact_retained,
)
from liaison_infra.relay import RELAY_STATE
from liaison_infra.runtime import Runtime
from liaison_infra.service import ServiceSpec

from tests.infra.support import (
    Noted,
    forget_relay_position,
    noted_on,
    probe_settings,
    probe_spec,
    read_topic,
    relayed_everything,
    running,
    wait_until,
)


class Boom(Exception):
    pass


async def test_a_failure_before_commit_leaves_neither_state_nor_events(endpoints, unique) -> None:
    Noted = noted_on(f"probe.{unique}.v1")
    runtime = Runtime(probe_settings(endpoints, unique), ServiceSpec(published=(Noted,)))

    async def change_then_fail(tx: Transaction) -> None:
        await tx.insert("notes", {"_id": "n1", "text": "hello"})
        tx.publish(Noted(key="n1", n=1), subject="n1", station_id="st-1", district_id="d-1")
        await tx.flush_outbox()
        raise Boom

    with pytest.raises(Boom):
        await runtime.transaction(change_then_fail)
    assert await runtime.db["notes"].count_documents({}) == 0
    assert await runtime.db[OUTBOX].count_documents({}) == 0

    async def change(tx: Transaction) -> None:
        await tx.insert("notes", {"_id": "n1", "text": "hello"})
        tx.publish(Noted(key="n1", n=1), subject="n1", station_id="st-1", district_id="d-1")

    await runtime.transaction(change)
    assert await runtime.db["notes"].find_one({"_id": "n1"}) == {"_id": "n1", "text": "hello", "version": 1}
    stored = await runtime.db[OUTBOX].find_one({})
    assert stored is not None and stored["topic"] == Noted.topic and stored["key"] == "n1"
    await runtime.close()


async def test_a_stale_version_is_refused_and_nothing_is_overwritten(endpoints, unique) -> None:
    from liaison_infra.mongo import ConcurrencyConflict

    runtime = Runtime(probe_settings(endpoints, unique), ServiceSpec())
    await runtime.transaction(lambda tx: tx.insert("notes", {"_id": "n1", "text": "first"}))
    await runtime.transaction(lambda tx: tx.replace("notes", {"_id": "n1", "text": "second"}, expected_version=1))
    with pytest.raises(ConcurrencyConflict):
        await runtime.transaction(lambda tx: tx.replace("notes", {"_id": "n1", "text": "stale"}, expected_version=1))
    assert await runtime.db["notes"].find_one({"_id": "n1"}) == {"_id": "n1", "text": "second", "version": 2}
    await runtime.close()


async def test_a_change_whose_event_the_bus_could_not_carry_is_refused_with_it(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    await runtime.transaction(lambda tx: tx.insert("notes", {"_id": "n0", "text": "kept"}))

    async def change(tx: Transaction) -> None:
        await tx.insert("notes", {"_id": "n1", "text": "hello"})
        tx.publish(Noted(key="x" * MAX_EVENT_BYTES, n=1), subject="n1", station_id="st-1", district_id="d-1")

    with pytest.raises(InvalidInput) as refused:
        await runtime.transaction(change)
    assert refused.value.code == "event_too_large"
    assert await runtime.db["notes"].distinct("_id") == ["n0"]
    assert await runtime.db[OUTBOX].count_documents({}) == 0
    await runtime.close()


async def test_an_event_too_large_for_the_broker_is_set_aside_and_the_later_ones_go_out(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    # Stored by a version that did not bound events: larger than the producer sends (1 MiB).
    huge = Envelope.wrap(
        Noted(key="x" * 2**21, n=0), source="probe", subject="a", station_id=None, district_id=None, correlation_id="c1"
    )
    await runtime.db[OUTBOX].insert_one(outbox_document(Noted.topic, huge, datetime.now(UTC), 0))
    await publish_notes(runtime, Noted, ["a"], per_key=2, first=1)
    async with running(runtime.relay()):
        await wait_until(lambda: relayed_everything(runtime))
        records = await read_topic(runtime.settings, Noted.topic, expected=2)
    assert [Envelope.from_bytes(record.value).data["n"] for record in records] == [1, 2]
    letter = await runtime.db[DEADLETTERS].find_one({})
    assert letter is not None and letter["event_id"] == huge.id and letter["topic"] == Noted.topic
    assert letter["group"] == runtime.settings.service_name and letter["error"].startswith("MessageSizeTooLargeError")
    assert runtime.metrics.outbox_deadlettered._value.get() == 1
    assert runtime.metrics.outbox_published._value.get() == 2
    assert letter["type"] == Noted.event_type and letter["key"] == b"a"
    letters = DeadLetters(runtime.db, runtime.settings.service_name)
    assert await letters.redrive(runtime.settings, None) == (0, 1)  # still too large: it stays waiting
    assert [waiting["_id"] for waiting in await letters.waiting()] == [letter["_id"]]
    # What erasure forgets of an aggregate, its dead letters lose too.
    await runtime.transaction(lambda tx: redact_retained(tx, ["a"], lambda data: {**data, "key": "erased"}))
    assert b'"key":"erased"' in (await runtime.db[DEADLETTERS].find_one({}) or {})["payload"]
    await runtime.transaction(lambda tx: forget_retained(tx, ["a"]))
    assert await runtime.db[DEADLETTERS].count_documents({}) == 0
    await runtime.close()


async def publish_notes(runtime: Runtime, Noted: type[Noted], keys: list[str], per_key: int, first: int = 0) -> None:
    for n in range(first, first + per_key):
        for key in keys:
            await runtime.transaction(publishing(Noted(key=key, n=n)))


def publishing(note: Noted) -> Callable[[Transaction], Awaitable[None]]:
    async def publish(tx: Transaction) -> None:
        tx.publish(note, subject=note.key, station_id="st-1", district_id="d-1")

    return publish


async def test_the_relay_publishes_every_event_once_in_order_per_key(endpoints, unique) -> None:
    Noted = noted_on(f"probe.{unique}.v1")
    settings = probe_settings(endpoints, unique, outbox_batch_size=7)
    runtime = Runtime(settings, ServiceSpec(published=(Noted,)))
    keys = [f"k{i}" for i in range(5)]
    # Half is in the outbox before the relay first starts, half is written while it runs.
    await publish_notes(runtime, Noted, keys, per_key=4)
    async with running(runtime.relay()):
        await publish_notes(runtime, Noted, keys, per_key=4, first=4)
        await wait_until(lambda: relayed_everything(runtime))
        records = await read_topic(settings, Noted.topic, expected=40)
    assert len(records) == 40
    envelopes = [Envelope.from_bytes(record.value) for record in records]
    assert len({envelope.id for envelope in envelopes}) == 40
    for key in keys:
        assert [e.data["n"] for e in envelopes if e.subject == key] == list(range(8))
    assert all(record.key == Envelope.from_bytes(record.value).subject.encode() for record in records)
    await runtime.close()


async def relayed_across_a_restart(runtime: Runtime, Noted: type[Noted], *, token: object = None) -> list[int]:
    """Notes 0–2 relayed, the relay stopped, notes 3–4 written (and the saved token replaced by
    ``token`` if given), the relay started again: the notes' numbers as they reached the topic."""
    await publish_notes(runtime, Noted, ["a"], per_key=3)
    async with running(runtime.relay()):
        await wait_until(lambda: relayed_everything(runtime))
    await publish_notes(runtime, Noted, ["a"], per_key=2, first=3)
    if token is not None:
        await runtime.db[RELAY_STATE].update_one({}, {"$set": {"resume_token": token}})
    async with running(runtime.relay()):
        await wait_until(lambda: relayed_everything(runtime))
        records = await read_topic(runtime.settings, Noted.topic, expected=5)
    await runtime.close()
    return [Envelope.from_bytes(record.value).data["n"] for record in records]


async def test_a_restarted_relay_resumes_where_it_stopped_and_repeats_nothing(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    assert await relayed_across_a_restart(runtime, Noted) == [0, 1, 2, 3, 4]


async def test_a_relay_that_cannot_resume_its_stream_publishes_from_the_outbox(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    # The saved position is no longer usable, as when the database's history was pruned past it.
    seen = await relayed_across_a_restart(runtime, Noted, token={"_data": "00"})
    # Everything from five minutes before its last published event goes out again: none is lost.
    assert seen == [0, 1, 2, 0, 1, 2, 3, 4]


async def test_the_backlog_metrics_count_and_age_what_is_not_yet_published(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    await publish_notes(runtime, Noted, ["a"], per_key=3)
    async with running(runtime.relay()):
        await wait_until(lambda: relayed_everything(runtime))
    await publish_notes(runtime, Noted, ["a", "b"], per_key=1, first=3)
    idle = runtime.relay()
    await idle.observe_backlog()
    assert runtime.metrics.outbox_backlog._value.get() == 2
    assert runtime.metrics.outbox_oldest_age._value.get() > 0
    relay = runtime.relay()
    async with running(relay):
        await wait_until(lambda: relayed_everything(runtime))
        await relay.observe_backlog()
    assert runtime.metrics.outbox_backlog._value.get() == 0
    assert runtime.metrics.outbox_oldest_age._value.get() == 0
    await runtime.close()


def probe_runtime(endpoints, unique: str, **overrides) -> tuple[Runtime, type[Noted]]:
    Noted = noted_on(f"probe.{unique}.v1")
    return Runtime(probe_settings(endpoints, unique, **overrides), probe_spec(Noted)), Noted


def duplicates(runtime: Runtime) -> float:
    return float(runtime.metrics.consumer_duplicates._value.get())


async def test_a_consumer_given_the_same_events_twice_applies_them_once(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    await publish_notes(runtime, Noted, ["a", "b"], per_key=5)
    async with running(runtime.consumer()):
        async with running(runtime.relay()):
            await wait_until(lambda: effects_total(runtime, 10))
        # Publish every event a second time, as a relay that lost its position would.
        await forget_relay_position(runtime)
        async with running(runtime.relay()):
            await wait_until(lambda: _true(duplicates(runtime) >= 10))
    assert await effect_counts(runtime) == {"a": 5, "b": 5}
    await runtime.close()


class DiesBeforeCommit(Exception):
    pass


async def test_a_consumer_killed_before_its_offset_commit_applies_the_redelivery_once(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique)
    await publish_notes(runtime, Noted, ["a", "b", "c"], per_key=4)
    async with running(runtime.relay()):
        await wait_until(lambda: relayed_everything(runtime))
    doomed = runtime.consumer()

    async def commit_then_die() -> None:
        raise DiesBeforeCommit

    async def run_until_death() -> None:
        await doomed._check_broker()
        assert doomed.consumer is not None
        doomed.consumer.commit = commit_then_die
        while await effects_total(runtime, 12) is False:
            with contextlib.suppress(DiesBeforeCommit):
                await doomed.poll_once()
        await doomed._close_clients()

    await run_until_death()
    assert await effect_counts(runtime) == {"a": 4, "b": 4, "c": 4}
    successor = runtime.consumer()
    async with running(successor):
        await wait_until(lambda: _true(duplicates(runtime) >= 12))
    assert await effect_counts(runtime) == {"a": 4, "b": 4, "c": 4}
    await runtime.close()


async def _true(value: bool) -> bool:
    return value


async def effects_total(runtime: Runtime, expected: int) -> bool:
    return sum((await effect_counts(runtime)).values()) >= expected


async def effect_counts(runtime: Runtime) -> dict[str, int]:
    return {doc["_id"]: doc["count"] async for doc in runtime.db["effects"].find({})}
