"""Through a real Celery worker process: two beats' scans at once, a Celery message delivered
twice, and a month's work (generation, reminders, the weekly digest) each sending once."""

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from uuid import uuid4

import pytest
from celery import Celery
from liaison_infra.clock import CHINA
from liaison_notify.adapters import messages_store, release_mark
from liaison_notify.adapters.households_store import HOUSEHOLDS, STATIONS
from liaison_notify.config import Settings
from liaison_notify.domain.messages import Message
from liaison_notify.entrypoints.celery_app import DELIVER, GENERATE, SCAN_DUE, WEEKLY_DIGEST
from liaison_notify.service_layer.context import Notify

from tests.apps import service_settings
from tests.notify.celery_worker import eventually, worker_idle
from tests.notify.delivery_support import START, attempts_per_message, delivering, enqueue, reachable, reminder
from tests.notify.receivers import HttpReceiver, http_receiver

UNIQUE = f"celery_{uuid4().hex[:10]}"
FAST = {"wecom": 100_000, "dingtalk": 100_000, "sms": 100_000, "email": 100_000, "inbox": 100_000}


@pytest.fixture(scope="module")
def gateway() -> Iterator[HttpReceiver]:
    with http_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def settings(endpoints, keys, gateway) -> Settings:
    settings: Settings = service_settings(
        "notify",
        endpoints,
        keys,
        mongodb_database=f"notify_{UNIQUE}",
        sms_url=gateway.url("sms"),
        rate_per_second=FAST,
        delivery_batch_size=4,
        worker_concurrency=2,
    )
    return settings


@pytest.fixture
async def notify(endpoints, keys) -> AsyncIterator[Notify]:
    async with delivering(endpoints, keys, UNIQUE) as notify:
        yield notify


def texts_to(gateway: HttpReceiver, phone: str) -> Counter[str]:
    return Counter(item["message"] for item in gateway.received if item["path"] == f"/sms/{phone}")


async def settled(notify: Notify, celery: Celery, settings: Settings, messages: list[Message]) -> None:
    """Wait until every message is sent and the worker has nothing left to do."""

    async def all_sent() -> bool:
        keys = [m.key for m in messages]
        sent = await notify.db[messages_store.MESSAGES].count_documents({"_id": {"$in": keys}, "status": "sent"})
        return sent == len(keys)

    await eventually(all_sent, "all sent")
    await eventually(lambda: worker_idle(celery, settings), "idle")


async def test_two_beats_scanning_at_once_send_each_reminder_once(notify, celery, settings, gateway) -> None:
    await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
    batch = [reminder(n) for n in range(1, 13)]
    await enqueue(notify, batch)

    for _ in range(2):  # one scan from each beat, run by the worker's two processes together
        celery.send_task(SCAN_DUE, kwargs={"now": START.isoformat()})
    await settled(notify, celery, settings, batch)

    texts = texts_to(gateway, "13800000001")
    assert len(texts) == 12 and set(texts.values()) == {1}
    assert set((await attempts_per_message(notify, [m.key for m in batch])).values()) == {1}
    with celery.connection_for_read() as connection:  # the next minute's scan is not kept out
        assert connection.default_channel.client.keys(f"{settings.mongodb_database}.*.running") == []


async def test_a_celery_message_delivered_twice_sends_once(notify, celery, settings, gateway) -> None:
    await reachable(notify, "deputy:dep-2", ("sms", "13800000002"))
    batch = [reminder(n, recipient="deputy:dep-2") for n in range(1, 4)]
    await enqueue(notify, batch)

    task_id = uuid4().hex
    for _ in range(2):  # the broker hands the same message out again, as after a lost ack
        celery.send_task(DELIVER, args=([m.key for m in batch], START.isoformat()), task_id=task_id)
    await settled(notify, celery, settings, batch)

    texts = texts_to(gateway, "13800000002")
    assert sorted(texts) == sorted(f"每月一走访：请在2026-11-30前走访住户h-{n:04d}（2026-11）。" for n in (1, 2, 3))
    assert set(texts.values()) == {1}
    assert set((await attempts_per_message(notify, [m.key for m in batch])).values()) == {1}


async def test_generation_reminders_and_the_digest_run_on_the_worker(notify, celery, settings, gateway) -> None:
    await notify.db[STATIONS].insert_one({"_id": "st-9", "district_id": "d-9"})
    await notify.db[HOUSEHOLDS].insert_many(
        [
            {"_id": f"hh-{n}", "station_id": "st-9", "deputy_id": "dep-9", "hardship": False, "elderly": False}
            for n in (1, 2)
        ]
    )
    await reachable(notify, "deputy:dep-9", ("sms", "13800000009"))
    await reachable(notify, "station_head:st-9", ("sms", "13800000090"))

    def at(day: int, hour: int, minute: int) -> str:
        return datetime(2026, 11, day, hour, minute, tzinfo=CHINA).isoformat()

    celery.send_task(GENERATE, kwargs={"now": at(1, 8, 0)})
    celery.send_task(GENERATE, kwargs={"now": at(1, 8, 30)})  # again: nothing new
    await eventually(lambda: worker_idle(celery, settings), "idle")
    assert await notify.db["duties"].count_documents({"station_id": "st-9", "kind": "monthly_visit"}) == 2

    # This module's other tests scanned on the 20th; scans never go back to an earlier time.
    await notify.db[release_mark.MARKS].delete_many({})
    celery.send_task(SCAN_DUE, kwargs={"now": at(1, 9, 0)})
    await eventually(lambda: _received(gateway, "13800000009", 2), "both reminders received")
    celery.send_task(WEEKLY_DIGEST, kwargs={"now": at(2, 9, 0)})  # Monday: the digest of W44
    await eventually(lambda: worker_idle(celery, settings), "idle")
    celery.send_task(SCAN_DUE, kwargs={"now": at(2, 9, 1)})
    await eventually(lambda: _received(gateway, "13800000090", 3), "the digest received")
    await eventually(lambda: worker_idle(celery, settings), "idle")

    assert sorted(texts_to(gateway, "13800000009").items()) == [
        ("每月一走访：请在2026-11-30前走访住户hh-1（2026-11）。", 1),
        ("每月一走访：请在2026-11-30前走访住户hh-2（2026-11）。", 1),
    ]
    to_head = texts_to(gateway, "13800000090")  # the quarter's activity reminders, then the digest
    digests = {text: count for text, count in to_head.items() if text.startswith("已走访")}
    assert digests == {"已走访0户，逾期未走访0户；本周到期事项0项；逾期未答复意见建议0件。": 1}
    assert set(to_head.values()) == {1}
    stored = await notify.db[messages_store.MESSAGES].find_one({"_id": {"$regex": "^weekly_digest\\|st-9\\|"}})
    assert stored is not None and stored["occurrence"] == "digest:2026-W44"


async def _received(gateway: HttpReceiver, phone: str, count: int) -> bool:
    return sum(texts_to(gateway, phone).values()) >= count


async def test_a_slow_provider_gets_a_whole_batch_at_once_and_each_send_settles(
    notify, celery, settings, gateway
) -> None:
    """A task's sends run side by side, ``send_concurrency`` (16) of them: none waits for a thread
    while its timeout (3 s) runs, which behind a provider answering in 1 s would end it unsent."""
    await reachable(notify, "deputy:dep-5", ("sms", "13800000005"))
    batch = [reminder(n, recipient="deputy:dep-5") for n in range(1, 17)]
    await enqueue(notify, batch)
    gateway.answer_after_seconds = 1.0
    try:
        celery.send_task(DELIVER, args=([m.key for m in batch], START.isoformat()))
        await settled(notify, celery, settings, batch)
    finally:
        gateway.answer_after_seconds = 0.0

    assert sum(texts_to(gateway, "13800000005").values()) == 16
    stored = notify.db[messages_store.MESSAGES].find({"_id": {"$in": [m.key for m in batch]}})
    assert {(d["status"], d["channel"]) async for d in stored} == {("sent", "sms")}, "none unknown, none in the inbox"
