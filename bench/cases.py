"""The cases service at scale: statistics over ``BENCH_CASES`` (200,000) cases and transition
throughput, each against the raw driver doing the same work in the same run.

Data. Cases of ``BENCH_CASES_STATIONS`` (40) stations, four to a district, 9 categories and 12
departments, collected over 2025-01 … 2026-10, are made by the domain itself (``collected``,
then ``handle`` for each step a few days apart, stopping at a random stage: most are closed,
some still running or overdue, merged or handed back) and stored as the service stores them
(``to_document``) with ``insert_many``; the statistics read model is then built by the
service's own recount (``rebuild``). Neither is part of a figure.

Statistics. ``BENCH_CASES_QUERIES`` (200) queries through the service layer (what ``GET
/v1/statistics`` calls, without HTTP), over five shapes (a station by category for a quarter;
a district supervisor by department for a year; an administrator by station and by category
for a year; a department handler by station for a year), interleaved with
``BENCH_CASES_RAW_QUERIES`` (20; each takes seconds) of the raw driver's ``$group`` over the
same cases and scope, grouped by the dimension and state (the least a recount per request
needs). One at a time; p50 and p99. The 200,000 cases are stored without
the search indexes the API creates at start-up (building them takes most of an hour on the
station's server); statistics never read the cases, and the raw side's ``$match`` would scan
most of them anyway. A query's cost is the cells it reads: one per station in scope and month (or year).

Transitions. ``BENCH_CASES_TRANSITIONS`` (400) assigned cases, stored after the app started (so
with every index the service keeps) and counted by a rebuild, are started (``POST /v1/cases/{id}/start``, If-Match) by 4
concurrent callers; the raw side does the write no transition can avoid on as many others: one
transaction replacing the case (version checked) and inserting its outbox event.

Target (station profile, 2 cores): statistics p99 under 200 ms.
"""

import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from liaison_cases.adapters import statistics_store
from liaison_cases.adapters.store import CASES, to_document
from liaison_cases.bootstrap import SPEC
from liaison_cases.config import Settings
from liaison_cases.domain.cases import Actor, Case, Category, Kind, collected, handle
from liaison_cases.domain.lifecycle import Action, State
from liaison_cases.domain.statistics import Period
from liaison_cases.domain.working_days import WorkingCalendar
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.statistics import Dimension, StatisticsQuery, rebuild, statistics
from liaison_infra.auth import Principal, Role
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import OUTBOX, Document, connect
from liaison_infra.runtime import Runtime
from liaison_infra.tokens import ensure_key_pair
from pymongo.asynchronous.collection import AsyncCollection

from bench.records import percentile
from bench.results import Result
from bench.workload import env_int
from tests.apps import Caller, serve, service_settings

NAME = "cases"
P99_TARGET = 200.0  # ms
STATIONS_PER_DISTRICT = 4
DEPARTMENTS = [f"dept-{n:02d}" for n in range(12)]
FIRST_DAY = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
SPAN_DAYS = 660  # to 2026-10
INSERT_BATCH = 5_000
WRITERS = 4
STAFF = Actor(subject="staff", roles=frozenset({Role.STATION_STAFF}))
SUPERVISOR = Actor(subject="supervisor", roles=frozenset({Role.DISTRICT_SUPERVISOR}))
ADMIN = Principal("admin", frozenset({Role.ADMIN}), frozenset(), frozenset())
# Where a case's history stops, with its share of the cases.
STOPS = {
    Action.CLOSE: 60,
    Action.RATE: 5,
    Action.REPLY: 8,
    Action.START: 10,
    Action.ASSIGN: 8,
    Action.SUBMIT: 3,
    Action.HAND_BACK: 2,
    Action.MERGE: 2,
    None: 2,  # still collected
}
PATH = (Action.SUBMIT, Action.ASSIGN, Action.START, Action.REPLY, Action.RATE, Action.CLOSE)


def history(rng: random.Random, number: int, stations: int, calendar: WorkingCalendar, stop: Action | None) -> Case:
    """A case made by the domain; its history ends at ``stop`` or, when None, at a random stage."""
    place = rng.randrange(stations)
    station = f"st-{place:02d}"
    lead = rng.choice(DEPARTMENTS)
    handler = Actor(subject=f"h-{lead}", roles=frozenset({Role.DEPARTMENT_HANDLER}), department_id=lead)
    now = FIRST_DAY + timedelta(days=rng.uniform(0, SPAN_DAYS))
    case = Case(
        id=f"c-{number:07d}",
        station_id=station,
        district_id=f"d-{place // STATIONS_PER_DISTRICT}",
        kind=rng.choice(list(Kind)),
        category=rng.choice(list(Category)),
        title="楼道灯坏了",
        content="3栋2单元楼道灯坏了两周",
        originators=[f"p-{rng.randrange(3000)}"],
    )
    case = collected(case, STAFF, now)
    stop = stop or rng.choices(list(STOPS), list(STOPS.values()))[0]
    steps: list[Action] = []
    if stop in (Action.HAND_BACK, Action.MERGE):
        steps = [Action.SUBMIT, Action.ASSIGN, stop] if stop is Action.HAND_BACK else [Action.SUBMIT, stop]
    elif stop is not None:
        steps = list(PATH[: PATH.index(stop) + 1])
    payloads: dict[Action, dict[str, Any]] = {
        Action.ASSIGN: {"lead_department_id": lead},
        Action.REPLY: {"result": rng.choice("AABCD"), "text": "已答复"},
        Action.RATE: {"satisfaction": rng.choice(["satisfied", "satisfied", "basically_satisfied"])},
        Action.HAND_BACK: {"reason": "不属于本单位职责"},
        Action.MERGE: {"into_case_id": "c-survivor"},
    }
    for action in steps:
        now += timedelta(days=1 if action is Action.HAND_BACK else rng.uniform(0.5, 40))
        actor = handler if action in (Action.START, Action.REPLY, Action.HAND_BACK) else STAFF
        case = handle(case, action, actor, payloads.get(action, {}), now=now, calendar=calendar)
    return case


async def load(collection: AsyncCollection[Document], count: int, stations: int, stop: Action | None = None) -> float:
    """Store ``count`` cases with ``insert_many`` in batches; returns the seconds spent writing."""
    rng, calendar, writing = random.Random(20261126), WorkingCalendar.with_library(), 0.0
    for first in range(0, count, INSERT_BATCH):
        numbers = range(first, min(count, first + INSERT_BATCH))
        batch = [{**to_document(history(rng, n, stations, calendar, stop)), "version": 1} for n in numbers]
        started = time.perf_counter()
        await collection.insert_many(batch, ordered=False)
        writing += time.perf_counter() - started
    return writing


@dataclass(frozen=True)
class Shape:
    """One statistics query, as the service answers it and as the raw driver groups it."""

    name: str
    principal: Principal
    query: StatisticsQuery
    match: Document
    group_by: str

    async def ask(self, cases: Cases) -> None:
        await statistics(cases, self.principal, self.query, min_cell=5)

    async def group(self, collection: AsyncCollection[Document]) -> None:
        grouped = {"_id": {"key": self.group_by, "state": "$state"}, "n": {"$sum": 1}}
        await (await collection.aggregate([{"$match": self.match}, {"$group": grouped}])).to_list()


def shapes() -> list[Shape]:
    year, quarter = Period.parse("2026"), Period.parse("2026-Q2")
    opened_in = {"opened_key": {"$gte": "2026-01-01", "$lt": "2027-01-01"}}
    station = Principal("staff", frozenset({Role.STATION_STAFF}), frozenset({"st-01"}), frozenset())
    supervisor = Principal("sup", frozenset({Role.DISTRICT_SUPERVISOR}), frozenset(), frozenset({"d-1"}))
    handler = Principal("h", frozenset({Role.DEPARTMENT_HANDLER}), frozenset(), frozenset(), "dept-03")
    return [
        Shape(
            "station by category, quarter",
            station,
            StatisticsQuery(Dimension.CATEGORY, quarter),
            {"station_id": "st-01", "opened_key": {"$gte": "2026-04-01", "$lt": "2026-07-01"}},
            "$category",
        ),
        Shape(
            "district by department, year",
            supervisor,
            StatisticsQuery(Dimension.DEPARTMENT, year),
            {"district_id": "d-1", **opened_in},
            "$lead_department_id",
        ),
        Shape("all by station, year", ADMIN, StatisticsQuery(Dimension.STATION, year), opened_in, "$station_id"),
        Shape("all by category, year", ADMIN, StatisticsQuery(Dimension.CATEGORY, year), opened_in, "$category"),
        Shape(
            "department by station, year",
            handler,
            StatisticsQuery(Dimension.STATION, year),
            {"lead_department_id": "dept-03", **opened_in},
            "$station_id",
        ),
    ]


async def timed(call: Awaitable[None]) -> float:
    started = time.perf_counter()
    await call
    return (time.perf_counter() - started) * 1000


async def query_both(
    cases: Cases, queries: int, raw_queries: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Latencies (ms) by shape of the service and, interleaved every so often, of the raw driver."""
    service: dict[str, list[float]] = {}
    raw: dict[str, list[float]] = {}
    plan = shapes()
    raw_every = max(1, queries // max(1, raw_queries))
    for n in range(queries):
        shape = plan[n % len(plan)]
        service.setdefault(shape.name, []).append(await timed(shape.ask(cases)))
        if n % raw_every < len(plan) and sum(map(len, raw.values())) < raw_queries:
            raw.setdefault(shape.name, []).append(await timed(shape.group(cases.db[CASES])))
    return service, raw


async def in_parallel(jobs: list[Callable[[], Awaitable[None]]]) -> float:
    """Run the jobs with ``WRITERS`` at a time; returns jobs per second."""
    queue = list(jobs)
    started = time.perf_counter()

    async def writer() -> None:
        while queue:
            await queue.pop()()

    await asyncio.gather(*(writer() for _ in range(WRITERS)))
    return len(jobs) / (time.perf_counter() - started)


async def transitions(client: httpx.AsyncClient, caller: Caller, cases: list[Document]) -> float:
    def start(case: Document) -> Callable[[], Awaitable[None]]:
        headers = caller(Role.DEPARTMENT_HANDLER, subject="h", department=case["lead_department_id"])

        async def go() -> None:
            response = await client.post(
                f"/v1/cases/{case['_id']}/start", headers={**headers, "If-Match": f'"{case["version"]}"'}
            )
            assert response.status_code == 200, response.text

        return go

    return await in_parallel([start(case) for case in cases])


async def raw_transitions(url: str, database: str, cases: list[Document]) -> float:
    client = connect(url)
    db = client[database]

    def write(case: Document) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            async with client.start_session() as session, await session.start_transaction():
                changed = {**case, "state": State.IN_PROGRESS.value, "version": case["version"] + 1}
                await db[CASES].replace_one({"_id": case["_id"], "version": case["version"]}, changed, session=session)
                outbox = {"_id": uuid4().hex, "topic": "cases.case.v1", "key": case["_id"], "order": 0}
                outbox["created_at"] = datetime.now(UTC)  # what the service's outbox documents hold
                await db[OUTBOX].insert_one({**outbox, "payload": b"x" * 400}, session=session)

        return go

    try:
        return await in_parallel([write(case) for case in cases])
    finally:
        await client.close()


async def measure_statistics(
    endpoints: Endpoints, count: int, stations: int, queries: int, raw_queries: int
) -> list[Result]:
    database = f"bench_cases_{uuid4().hex[:10]}"
    settings = Settings(mongodb_url=endpoints.mongodb_url, mongodb_database=database, log_level="WARNING")
    runtime = Runtime(settings, SPEC)
    cases = Cases(runtime)
    try:
        started = time.perf_counter()
        writing = await load(cases.db[CASES], count, stations)
        print(f"{count:,} cases made and stored in {time.perf_counter() - started:.0f} s ({writing:.0f} s writing)")
        started = time.perf_counter()
        await statistics_store.ensure_indexes(cases.db)
        cells = (await rebuild(cases, ADMIN))["cells"]
        print(f"read model rebuilt from the raw cases in {time.perf_counter() - started:.0f} s", flush=True)
        service, driver = await query_both(cases, queries, raw_queries)
    finally:
        await runtime.client.drop_database(database)
        await runtime.close()
    for name in service:
        raw = f"raw $group p50 {percentile(driver[name], 0.5):7.1f} ms" if name in driver else "no raw $group run"
        print(
            f"  {name:30} service p50 {percentile(service[name], 0.5):6.1f} ms p99 "
            f"{percentile(service[name], 0.99):6.1f} ms | {raw}"
        )
    every_service = [ms for values in service.values() for ms in values]
    every_raw = [ms for values in driver.values() for ms in values]
    scale = f"{count:,} cases, {stations} stations, {cells:,} cells"
    return [
        Result(NAME, f"statistics p50 ({scale})", percentile(every_service, 0.5), "ms"),
        Result.below(NAME, "statistics p99", percentile(every_service, 0.99), "ms", P99_TARGET),
        Result(NAME, "raw driver $group p50, same cases and scopes", percentile(every_raw, 0.5), "ms"),
        Result(NAME, "raw driver $group p99, same cases and scopes", percentile(every_raw, 0.99), "ms"),
    ]


async def measure_transitions(endpoints: Endpoints, moves: int, stations: int) -> list[Result]:
    database = f"bench_cases_moves_{uuid4().hex[:10]}"
    raw = connect(endpoints.mongodb_url)
    with tempfile.TemporaryDirectory(prefix="liaison-bench-cases-") as folder:
        keys = ensure_key_pair(Path(folder, "keys"))
        caller = Caller(keys)
        settings = service_settings("cases", endpoints, keys, mongodb_database=database, log_level="WARNING")
        try:
            async with serve("cases", settings) as client:
                for department in DEPARTMENTS:
                    body = {"id": department, "name": department}
                    saved = await client.put(f"/v1/departments/{department}", json=body, headers=caller(Role.ADMIN))
                    assert saved.status_code == 200, saved.text
                await load(raw[database][CASES], 2 * moves, stations, stop=Action.ASSIGN)
                rebuilt = await client.post("/v1/statistics/rebuild", headers=caller(Role.ADMIN))
                assert rebuilt.status_code == 200, rebuilt.text
                assigned = await raw[database][CASES].find({}).to_list()
                service_rate = await transitions(client, caller, assigned[:moves])
                raw_rate = await raw_transitions(endpoints.mongodb_url, database, assigned[moves:])
        finally:
            await raw.drop_database(database)
            await raw.close()
    return [
        Result(NAME, f"transitions through the API ({moves:,}, {WRITERS} callers)", service_rate, "transitions/s"),
        Result(NAME, "raw driver transition writes (case + outbox)", raw_rate, "transitions/s"),
        Result(NAME, "transition ratio service/raw", service_rate / raw_rate, "×"),
    ]


async def run(endpoints: Endpoints) -> list[Result]:
    stations = env_int("BENCH_CASES_STATIONS", 40)
    queries, raw_queries = env_int("BENCH_CASES_QUERIES", 200), env_int("BENCH_CASES_RAW_QUERIES", 20)
    counted = await measure_statistics(endpoints, env_int("BENCH_CASES", 200_000), stations, queries, raw_queries)
    return counted + await measure_transitions(endpoints, env_int("BENCH_CASES_TRANSITIONS", 400), stations)
