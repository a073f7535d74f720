"""A worker process SIGKILLed while it is sending: nothing is sent twice, and the next scan
finishes the rest (the batch in flight ends in the inbox with an alert, as its sends may have
reached the gateway)."""

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from uuid import uuid4

import psutil
import pytest
from liaison_notify.adapters import messages_store
from liaison_notify.adapters.inbox_store import ALERTS
from liaison_notify.config import Settings
from liaison_notify.entrypoints.celery_app import SCAN_DUE
from liaison_notify.service_layer.context import Notify

from tests.apps import service_settings
from tests.notify.celery_worker import eventually, pool_children, worker_idle
from tests.notify.delivery_support import START, delivering, delivery_log, enqueue, reachable, reminder
from tests.notify.receivers import HttpReceiver, http_receiver

UNIQUE = f"celery_killed_{uuid4().hex[:10]}"
LEASE_SECONDS = 60
BATCH = 5


class HeldGateway(HttpReceiver):
    """A gateway that takes each request in and then holds it until ``release``: a slow provider."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Semaphore(0)
        self.gate = threading.Event()

    def handle(self, path: str, body: bytes) -> int:
        status = super().handle(path, body)  # received: it reached the provider
        self.arrived.release()
        self.gate.wait()
        return status


@pytest.fixture(scope="module")
def gateway() -> Iterator[HeldGateway]:
    with http_receiver(HeldGateway()) as receiver:
        assert isinstance(receiver, HeldGateway)
        yield receiver
        receiver.gate.set()


@pytest.fixture(scope="module")
def settings(endpoints, keys, gateway) -> Settings:
    settings: Settings = service_settings(
        "notify",
        endpoints,
        keys,
        mongodb_database=f"notify_{UNIQUE}",
        sms_url=gateway.url("sms"),
        rate_per_second={"sms": 100_000, "inbox": 100_000},
        delivery_batch_size=BATCH,
        worker_concurrency=1,
        claim_lease_seconds=LEASE_SECONDS,
        send_timeout_seconds=600,  # slow, not timed out: the kill comes first
    )
    return settings


@pytest.fixture
async def notify(endpoints, keys) -> AsyncIterator[Notify]:
    async with delivering(endpoints, keys, UNIQUE) as notify:
        yield notify


async def test_a_worker_killed_mid_delivery_sends_nothing_twice_and_the_next_scan_finishes(
    notify, celery, settings, worker, gateway
) -> None:
    await reachable(notify, "deputy:dep-1", ("sms", "13800000001"))
    batch = [reminder(n) for n in range(1, 21)]
    await enqueue(notify, batch)

    celery.send_task(SCAN_DUE, kwargs={"now": START.isoformat()})
    assert await _arrives(gateway), "no send reached the gateway"
    (process,) = pool_children(worker)  # the one pool process, now waiting on the gateway
    process.kill()  # SIGKILL, mid-send
    psutil.wait_procs([process])
    gateway.gate.set()  # the gateway answers again; the worker's new process goes on with the queue

    await eventually(lambda: worker_idle(celery, settings), "idle")
    in_flight = Counter([await _sms_claim(notify, m.key) for m in batch])
    assert in_flight == {"sent": len(batch) - BATCH, "sending": BATCH}, "the killed process's claims stay taken"
    after_the_lease = START + timedelta(seconds=LEASE_SECONDS + 60)
    celery.send_task(SCAN_DUE, kwargs={"now": after_the_lease.isoformat()})  # the next minute's beat
    await eventually(lambda: _all_sent(notify, len(batch)), "all sent")
    await eventually(lambda: worker_idle(celery, settings), "idle")

    texts = Counter(item["message"] for item in gateway.received)
    assert set(texts.values()) == {1}, "a text reached the gateway twice"
    claims = Counter([await _sms_claim(notify, m.key) for m in batch])
    assert claims == {"sent": len(batch) - BATCH, "unknown": BATCH}
    assert len(texts) >= len(batch) - BATCH  # every text not in flight at the kill went out by SMS
    by_inbox = await notify.db[messages_store.MESSAGES].count_documents({"status": "sent", "channel": "inbox"})
    assert by_inbox == BATCH  # the unknown ones: in the deputy's inbox, with an alert to the station
    assert await notify.db[ALERTS].count_documents({"reason": "delivery_unknown"}) == BATCH


async def _arrives(gateway: HeldGateway) -> bool:
    return await asyncio.to_thread(gateway.arrived.acquire, True, 60)


async def _sms_claim(notify: Notify, key: str) -> str:
    """The status of the message's SMS claim, as its delivery log shows it."""
    claims, _ = await delivery_log(notify, key)
    return next(claim["status"] for claim in claims if claim["channel"] == "sms")


async def _all_sent(notify: Notify, count: int) -> bool:
    return await notify.db[messages_store.MESSAGES].count_documents({"status": "sent"}) == count
