"""Notify's monthly fan-out: every household's visit duty generated and its first reminder
delivered through the real Celery worker, against raw Celery no-op tasks on the same Redis.

Set-up (untimed): ``BENCH_NOTIFY_HOUSEHOLDS`` (50,000) households in stations of 1,000, 25 to a
deputy, each deputy and station head reachable by SMS at a local HTTP gateway (Apprise
``json://``), on a fresh database whose indexes the notify app's start-up makes. One notify
worker (``liaison-run notify worker``, prefork, ``worker_concurrency`` 3 by default) runs
from a folder of its own. The SMS rate limit is lifted: the gateway is local, and the limit is
a provider's contract, not this machine's capacity.

Generation: the ``generate`` task at 1 November 08:00 (Asia/Shanghai); duties/s over the time
from sending it until the worker is idle again, every duty stored (households + two quarterly
activities a station; counted once then: counting on the station's server scans every duty).

Delivery: beat's ``scan_due`` at 09:00, then again every ``BENCH_NOTIFY_SCAN_SECONDS`` (60, as
beat does) on the clock moved on as much, until the gateway has every message released
(each household's reminder, each station's quarter reminders). Reminders/s over the time from
the first scan until the last text reached the gateway; each must arrive exactly once. The
CPU each process used meanwhile is shown per reminder: the worker's (services), the servers',
and this one's (bench: the gateway receiving every text, and the scans' timer).

Floor: ``BENCH_NOTIFY_NOOP_TASKS`` (10,000) tasks of ``bench.celery_noop``, with a payload of
one delivery batch's ids, queued and then run by a worker of the same shape; tasks/s from the
worker's first answer to the last task run.

Each phase gives up after ``BENCH_NOTIFY_BUDGET_SECONDS`` (900); at full size raise
``BENCH_TIMEOUT_SECONDS`` (the whole benchmark's limit) above the phases together.

Target (station profile, 2 cores): the 50,000 reminders within 5 minutes, i.e. ≥ 167/s.
"""

import asyncio
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from uuid import uuid4

import redis
from liaison_infra.clock import CHINA
from liaison_infra.harness.processes import ManagedProcess
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import Document, connect
from liaison_infra.tokens import ensure_key_pair
from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.adapters.households_store import HOUSEHOLDS, STATIONS
from liaison_notify.adapters.messages_store import MESSAGES
from liaison_notify.adapters.recipients_store import RECIPIENTS
from liaison_notify.config import Settings
from liaison_notify.entrypoints.celery_app import GENERATE, SCAN_DUE, create_celery_app
from pymongo.asynchronous.database import AsyncDatabase

from bench.celery_noop import NOOP, counter_key, noop_app, ran_key
from bench.probes import CpuMeter
from bench.results import Result
from bench.workload import env_float, env_int
from tests.apps import serve, service_settings
from tests.notify.celery_worker import running_celery, running_worker, worker_idle
from tests.notify.receivers import HttpReceiver, http_receiver

NAME = "notify"
TARGET_HOUSEHOLDS, TARGET_SECONDS = 50_000, 300.0
PER_STATION, PER_DEPUTY = 1000, 25
GENERATION = datetime(2026, 11, 1, 8, 0, tzinfo=CHINA)
FIRST_REMINDERS = datetime(2026, 11, 1, 9, 0, tzinfo=CHINA)
ROOT = Path(__file__).resolve().parents[1]
NO_LIMIT = {"wecom": 1_000_000, "dingtalk": 1_000_000, "sms": 1_000_000, "email": 1_000_000, "inbox": 1_000_000}


def phone(n: int) -> str:
    return f"139{n:08d}"


def sms_routes(n: int) -> list[Document]:
    return [{"channel": "sms", "address": phone(n)}, {"channel": "inbox", "address": None}]


async def seed(db: AsyncDatabase[Document], households: int) -> int:
    """Stations, households and recipients as the read models hold them; returns the station count."""
    stations = -(-households // PER_STATION)
    station_of = [f"st-{n // PER_STATION:03d}" for n in range(households)]
    deputies = -(-households // PER_DEPUTY)
    await db[STATIONS].insert_many([{"_id": f"st-{s:03d}", "district_id": "d-bench"} for s in range(stations)])
    for start in range(0, households, 10_000):
        await db[HOUSEHOLDS].insert_many(
            [
                {"_id": f"hh-{n:06d}", "station_id": station_of[n], "deputy_id": f"dep-{n // PER_DEPUTY:05d}"}
                | {"hardship": False, "elderly": False}
                for n in range(start, min(households, start + 10_000))
            ]
        )
    await db[RECIPIENTS].insert_many(
        [
            {"_id": f"deputy:dep-{d:05d}", "kind": "deputy", "name": f"代表{d}", "district_id": "d-bench"}
            | {"station_id": [station_of[d * PER_DEPUTY]], "routes": sms_routes(d)}
            for d in range(deputies)
        ]
        + [
            {"_id": f"station_head:st-{s:03d}", "kind": "station_head", "name": f"站长{s}", "district_id": "d-bench"}
            | {"station_id": [f"st-{s:03d}"], "routes": sms_routes(90_000_000 + s)}
            for s in range(stations)
        ]
    )
    return stations


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Seconds until ``check`` holds, polled twice a second."""
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > within:
            raise TimeoutError(f"{what} not done within {within:.0f} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def deliver_month(settings: Settings, gateway: HttpReceiver, expected: int, every: float, budget: float) -> float:
    """Scan as beat does until ``expected`` messages reached the gateway; returns the seconds taken.
    Only the gateway is watched: polling the store would slow down what is measured."""
    celery = create_celery_app(settings)
    started = time.perf_counter()
    celery.send_task(SCAN_DUE, kwargs={"now": FIRST_REMINDERS.isoformat()})
    last_scan = started
    while len(gateway.received) < expected:
        await asyncio.sleep(0.5)
        now = time.perf_counter()
        if now - started > budget:
            raise TimeoutError(f"{len(gateway.received):,} of {expected:,} reminders delivered in {budget:.0f} s")
        if now - last_scan >= every:
            moved_on = FIRST_REMINDERS + timedelta(seconds=now - started)
            celery.send_task(SCAN_DUE, kwargs={"now": moved_on.isoformat()})
            last_scan = now
            print(f"  … {len(gateway.received):,} of {expected:,} delivered after {now - started:.0f} s", flush=True)
    return time.perf_counter() - started


def noop_rate(endpoints: Endpoints, folder: Path, tasks: int, batch: int, budget: float) -> float:
    """Raw Celery tasks/s: ``tasks`` no-op tasks queued first, then run by a worker like notify's;
    counted from the first task run to the last, as the deliveries are once a scan has handed them out."""
    queue = f"bench_noop_{uuid4().hex[:10]}"
    code = f"from bench.celery_noop import serve; serve({endpoints.redis_url!r}, {queue!r})"
    process = ManagedProcess("noop-worker", [sys.executable, "-c", code], folder / "noop-worker.log", cwd=ROOT)
    app = noop_app(endpoints.redis_url, queue)
    payload = [f"monthly_visit|hh-{n:06d}|2026-11-01T09:00|deputy:dep-00000" for n in range(batch)]
    with app.producer_or_acquire() as producer:
        for _ in range(tasks):
            app.send_task(NOOP, args=(payload,), producer=producer)
    done = redis.Redis.from_url(endpoints.redis_url)
    with running_celery(process, app):
        deadline = time.monotonic() + budget  # this runs in a thread, which no timeout can cancel
        while int(done.get(counter_key(queue)) or 0) < tasks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{tasks:,} no-op tasks not run within {budget:.0f} s")
            time.sleep(0.05)
    first, last = (float(done.get(ran_key(queue, which)) or 0) for which in ("first", "last"))
    return (tasks - 1) / (last - first)


async def run(endpoints: Endpoints) -> list[Result]:
    households = env_int("BENCH_NOTIFY_HOUSEHOLDS", TARGET_HOUSEHOLDS)
    noop_tasks = env_int("BENCH_NOTIFY_NOOP_TASKS", 10_000)
    every = env_float("BENCH_NOTIFY_SCAN_SECONDS", 60.0)
    budget = env_float("BENCH_NOTIFY_BUDGET_SECONDS", 900.0)
    database = f"bench_notify_{uuid4().hex[:10]}"
    client = connect(endpoints.mongodb_url)
    db = client[database]
    with TemporaryDirectory(prefix="liaison-bench-notify-") as folder, http_receiver() as gateway:
        keys = ensure_key_pair(Path(folder, "keys"))
        settings: Settings = service_settings(
            "notify",
            endpoints,
            keys,
            mongodb_database=database,
            sms_url=gateway.url("sms"),
            rate_per_second=NO_LIMIT,
            log_level="WARNING",
        )
        try:
            async with serve("notify", settings):  # its start-up makes every index
                pass
            stations = await seed(db, households)
            duties = households + 2 * stations
            print(f"{households:,} households in {stations} stations; {duties:,} duties to generate", flush=True)
            with running_worker(settings, Path(folder)):
                celery = create_celery_app(settings)
                celery.send_task(GENERATE, kwargs={"now": GENERATION.isoformat()})
                # Watched through the worker, not the store: counting there scans every duty.
                generation = await until(lambda: worker_idle(celery, settings), budget, "generation")
                if (stored := await db[DUTIES].count_documents({})) != duties:
                    raise AssertionError(f"{stored:,} duties generated, {duties:,} expected")
                print(f"  generation: {duties:,} duties in {generation:.1f} s", flush=True)
                # Every duty has its first reminder due at 09:00 on the 1st (checked below).
                meter = CpuMeter()  # the worker's processes included
                meter.start()
                delivery = await deliver_month(settings, gateway, duties, every, budget)
                use = meter.stop()
                messages = await db[MESSAGES].count_documents({})
                print(f"  delivery: {messages:,} reminders in {delivery:.1f} s", flush=True)
                cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in use.per_event_ms(messages).items())
                print(f"  CPU ms per reminder: {cpu}; {use.noise()}")
            arrivals = Counter((item["path"], item["message"]) for item in gateway.received)
            if len(arrivals) != messages or max(arrivals.values()) != 1:
                raise AssertionError(f"{len(gateway.received):,} texts for {messages:,} messages: some twice")
            floor = await asyncio.to_thread(
                noop_rate, endpoints, Path(folder), noop_tasks, settings.delivery_batch_size, budget
            )
            print(f"  raw Celery: {noop_tasks:,} no-op tasks at {floor:,.0f}/s", flush=True)
        finally:
            if os.environ.get("MONGODB_URL"):  # the bench's own store goes with its folder
                await client.drop_database(database)  # (there a drop this size holds it for minutes)
            await client.close()
    reminders = messages / delivery
    return [
        Result(NAME, f"duties generated ({duties:,})", duties / generation, "duties/s"),
        Result.at_least(
            NAME,
            f"reminders delivered ({messages:,}) via Celery",
            reminders,
            "reminders/s",
            TARGET_HOUSEHOLDS / TARGET_SECONDS,
        ),
        Result(NAME, f"all reminders delivered in (target {TARGET_SECONDS:.0f} s at 50,000)", delivery, "s"),
        Result(NAME, "raw Celery no-op tasks, same Redis", floor, "tasks/s"),
        Result(NAME, "reminders/s ÷ raw no-op tasks/s", reminders / floor, "×"),
    ]
