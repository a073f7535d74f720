"""The backbone under failure: a broker that forgets everything, poison events, and a group
of two consumers sharing the partitions."""

from liaison_infra.deadletters import DeadLetters, deadletter_topic
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from tests.infra.support import NoteReader, count_note, probe_spec, read_topic, running, wait_until
from tests.infra.test_backbone import (
    _true,
    effect_counts,
    effects_total,
    probe_runtime,
    publish_notes,
)


async def test_after_the_broker_loses_its_memory_every_effect_happens_exactly_once(
    endpoints, unique, local_servers
) -> None:
    if local_servers.kafka_port is None:
        import pytest

        pytest.skip("the broker is external (KAFKA_BOOTSTRAP_SERVERS); it cannot be restarted from here")
    runtime, Noted = probe_runtime(endpoints, unique)
    await publish_notes(runtime, Noted, ["a", "b", "c"], per_key=3)
    async with running(runtime.relay()), running(runtime.consumer()):
        await wait_until(lambda: effects_total(runtime, 9))
        local_servers.restart_kafka()
        await publish_notes(runtime, Noted, ["a", "d"], per_key=2)
        await wait_until(lambda: effects_total(runtime, 13), within=60)
        # Replayed events arrive again: the inbox must absorb all nine of them.
        await wait_until(lambda: _true(runtime.metrics.consumer_duplicates._value.get() >= 9), within=60)
    assert runtime.metrics.outbox_replays._value.get() >= 1
    assert await effect_counts(runtime) == {"a": 5, "b": 3, "c": 3, "d": 2}
    await runtime.close()


async def test_a_poison_event_is_dead_lettered_after_n_tries_and_the_partition_moves_on(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique, kafka_partitions=1, consumer_max_attempts=3)
    tries: list[int] = []

    async def choke_on_poison(note: NoteReader, envelope: Envelope, tx: Transaction) -> None:
        if note.key == "poison":
            tries.append(note.n)
            raise ValueError("cannot digest this")
        await count_note(note, envelope, tx)

    runtime.spec = probe_spec(Noted, choke_on_poison)
    await publish_notes(runtime, Noted, ["a"], per_key=1)
    await publish_notes(runtime, Noted, ["poison"], per_key=1)
    await publish_notes(runtime, Noted, ["b"], per_key=1)
    async with running(runtime.relay()), running(runtime.consumer()):
        await wait_until(lambda: effects_total(runtime, 2))
    assert tries == [0, 0, 0]
    assert await effect_counts(runtime) == {"a": 1, "b": 1}
    letters = await DeadLetters(runtime.db, runtime.settings.service_name).waiting()
    assert len(letters) == 1
    assert letters[0]["attempts"] == 3 and "cannot digest this" in letters[0]["error"]
    mirrored = await read_topic(runtime.settings, deadletter_topic(runtime.settings.service_name), expected=1)
    assert [Envelope.from_bytes(record.value).data["key"] for record in mirrored] == ["poison"]
    assert dict(mirrored[0].headers)["attempts"] == b"3"

    # Once the handler is fixed, re-driving applies the event exactly once.
    runtime.spec = probe_spec(Noted)
    letters_store = DeadLetters(runtime.db, runtime.settings.service_name)
    assert await letters_store.redrive(runtime.settings, None) == (1, 0)
    async with running(runtime.consumer()):
        await wait_until(lambda: effects_total(runtime, 3))
    assert await effect_counts(runtime) == {"a": 1, "b": 1, "poison": 1}
    assert await letters_store.waiting() == []
    await runtime.close()


async def test_a_malformed_message_is_dead_lettered_at_once(endpoints, unique) -> None:
    from liaison_infra.kafka import make_producer, provision_topics

    runtime, Noted = probe_runtime(endpoints, unique, kafka_partitions=1)
    await provision_topics(runtime.settings, [Noted.topic])
    producer = make_producer(runtime.settings)
    await producer.start()
    await producer.send_and_wait(Noted.topic, b"not an envelope", key=b"x")
    await producer.stop()
    await publish_notes(runtime, Noted, ["a"], per_key=1)
    async with running(runtime.relay()), running(runtime.consumer()):
        await wait_until(lambda: effects_total(runtime, 1))
    letters = await DeadLetters(runtime.db, runtime.settings.service_name).waiting()
    assert [letter["attempts"] for letter in letters] == [1]
    assert "ValidationError" in letters[0]["error"]
    await runtime.close()


async def test_two_consumers_in_one_group_split_the_partitions_and_apply_everything_once(endpoints, unique) -> None:
    runtime, Noted = probe_runtime(endpoints, unique, kafka_partitions=4)
    keys = [f"h{i}" for i in range(12)]
    first, second = runtime.consumer(), runtime.consumer()
    async with running(runtime.relay()), running(first), running(second):
        await wait_until(lambda: _true(_both_assigned(first, second)), within=60)
        await publish_notes(runtime, Noted, keys, per_key=5)
        await wait_until(lambda: effects_total(runtime, 60), within=60)
        assigned = [set(c.consumer.assignment()) for c in (first, second)]  # type: ignore[union-attr]
    assert assigned[0] and assigned[1] and not assigned[0] & assigned[1]
    counts = await effect_counts(runtime)
    assert counts == {key: 5 for key in keys}
    seen = {doc["_id"]: doc["seen"] async for doc in runtime.db["effects"].find({})}
    assert all(order == [0, 1, 2, 3, 4] for order in seen.values())
    await runtime.close()


def _both_assigned(*consumers) -> bool:
    return all(c.consumer is not None and c.consumer.assignment() for c in consumers)
