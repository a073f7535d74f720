"""The records service at a district's scale: a 100,000-row roster import and search among the
people imported, each against the raw driver doing the same database work in the same run.

Import. A roster of ``BENCH_RECORDS_ROWS`` (100,000) people is written as Excel and WPS save a
workbook (shared strings, declared size: ``bench.records_workbook``), in a child process so its
memory is not counted. The records app runs in this process as the tests run it (lifespan,
httpx over ASGI, signed tokens) on a fresh database; the workbook is POSTed to ``/v1/imports``
(upload and dry run) and then committed (``mode: valid_rows``). The commit has a time budget,
``BENCH_RECORDS_COMMIT_SECONDS`` (120): its progress (stored after every chunk of 500 rows) is
read twice a second, and at the budget the request is cancelled; the figures are then those of
the rows committed, and the run says so. Rates: the dry run's over every row, the commit's over
the rows committed, and the import's as one row's dry run plus commit time (exactly rows/s over
both when the commit finishes) — the figure with the target.

Memory is this process's resident set: the kernel's high-water mark (``VmHWM``) is reset just
before the upload (``/proc/self/clear_refs``) and read after the commit, so it is exact and
covers the import alone; a sampling thread (psutil, every 10 ms) gives each phase's peak too,
and the store's. A timer task reports the longest stall of the event loop in each phase.

The raw side then writes the very documents the service stored (people, outbox, and history
where there is any: a new file's registration entry is read from the file itself; read back
untimed) into a fresh database with the same indexes, in the service's chunks of 500, each one
transaction of an ``insert_many`` per collection: the writes no import can avoid. It leaves out the
service's per-chunk existence check (``id_number_index $in``, 50 keys a query, served by the
unique index), which upserting by ID number needs and a raw bulk load does not. Ratios: the service's import rows/s
(dry run and commit) and its commit rows/s, each ÷ the raw rows/s.

Search. Up to ``BENCH_RECORDS_SEARCHES`` (300) searches of the station, limit 50, within
``BENCH_RECORDS_SEARCH_SECONDS`` (60), in a mix of shapes (name in characters, pinyin, pinyin
prefix and initials; country; hardship; age range; a deputy without people; a name with a
country), first through the API, then through the raw driver running the same filter as a
flat MongoDB query (same sort and limit), each side within its own budget. Latencies are per
request, one at a time; ratio:
service p99 ÷ raw p99 (≥ 1: what the service adds). The store's plan for each shape
(``explain``) is printed. SecantusDB's explain does not show its fallback of serving one clause
of a flat filter from an index; a filter with a top-level ``$and``/``$or`` is always a
collection scan there, which is why neither side sends one.

For comparison, the dry run of a workbook as openpyxl writes it (inline strings, no size) is
timed on ``BENCH_RECORDS_OPENPYXL_ROWS`` (20,000) rows; 0 skips it.

Targets (station profile, 2 cores): import at least 2,000 rows/s with peak memory under 500 MB;
search p99 under 50 ms.
"""

import asyncio
import gc
import json
import re
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psutil
from liaison_infra.auth import Role
from liaison_infra.harness.servers import Endpoints
from liaison_infra.mongo import OUTBOX, Document, connect
from liaison_infra.tokens import ensure_key_pair
from liaison_records.adapters.indexes import ensure_indexes
from liaison_records.adapters.people_store import PEOPLE, age_bounds
from liaison_records.domain.pinyin import name_keys, query_keys
from liaison_records.service_layer.history import HISTORY
from liaison_records.service_layer.import_chunks import CHUNK_ROWS
from liaison_records.service_layer.imports import IMPORTS
from liaison_records.service_layer.search import LIVE_STATUSES
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from bench import records_workbook
from bench.probes import CpuMeter
from bench.results import Result
from bench.workload import env_float, env_int
from tests.apps import Caller, serve, service_settings

NAME = "records"
IMPORT_TARGET = 2000.0  # rows/s, upload and dry run and commit together
MEMORY_TARGET_MB = 500.0
P99_TARGET_MS = 50.0
STATION = "st-shengli"
LIMIT = 50
BY_NAME = [("sort_name", 1), ("_id", 1)]
PROGRESS_POLL_SECONDS = 0.5
PHASES = ("upload and dry run", "commit")
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
ROOT = Path(__file__).resolve().parents[1]
UNITS = (
    {"id": "r-guangxi", "level": "region", "name": "广西壮族自治区"},
    {"id": "c-liuzhou", "level": "city", "name": "柳州市", "parent_id": "r-guangxi"},
    {"id": "d-yufeng", "level": "district", "name": "鱼峰区", "parent_id": "c-liuzhou"},
    {"id": STATION, "level": "station", "name": "胜利社区联络站", "parent_id": "d-yufeng"},
)


# --- the workbook ---------------------------------------------------------------------------------


async def write_workbook(kind: str, path: Path, rows: int) -> float:
    """Write the roster in a child process (its memory stays out of ours); returns the seconds taken."""
    started = time.perf_counter()
    code = (
        "import sys; from pathlib import Path; from bench.records_workbook import write; "
        "write(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))"
    )
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", code, kind, str(path), str(rows), cwd=ROOT)
    if await child.wait() != 0:
        raise RuntimeError(f"writing the {kind} workbook failed")
    return time.perf_counter() - started


# --- memory and the event loop ----------------------------------------------------------------------


def _peak_rss_mb() -> float | None:
    """This process's resident high-water mark (VmHWM), Linux only."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Start the high-water mark afresh at the current resident set (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _store_process() -> psutil.Process | None:
    """The SecantusDB server, when this process started it."""
    for child in psutil.Process().children(recursive=True):
        try:
            if any("secantusd" in part for part in child.cmdline()[:3]):
                return child
        except psutil.Error:
            continue
    return None


class MemorySampler:
    """Peak RSS of this process and of the store, by phase, sampled every ``interval`` seconds."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.phase = "before the upload"
        self.peaks: dict[str, float] = defaultdict(float)
        self.store_peaks: dict[str, float] = defaultdict(float)
        self._me = psutil.Process()
        self._store = _store_process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            phase = self.phase
            self.peaks[phase] = max(self.peaks[phase], self._me.memory_info().rss / 2**20)
            if self._store is not None:
                try:
                    rss = self._store.memory_info().rss / 2**20
                except psutil.Error:
                    self._store = None
                else:
                    self.store_peaks[phase] = max(self.store_peaks[phase], rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class LoopLag:
    """The longest time the event loop could not run a due timer: a handler blocking it shows here."""

    def __init__(self, tick: float = 0.02) -> None:
        self.tick = tick
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + self.tick
            await asyncio.sleep(self.tick)
            self.worst = max(self.worst, time.perf_counter() - due)

    def __enter__(self) -> "LoopLag":
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


# --- import through the service -------------------------------------------------------------------


@dataclass
class Commit:
    rows: int  # committed
    seconds: float  # until the last committed chunk was seen stored
    finished: bool
    budget: float
    progress: list[tuple[float, int]]  # (seconds, rows committed) as sampled

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def early_and_late_rates(self) -> tuple[float, float]:
        """Rows/s over the first and over the last tenth of the rows committed (at least a chunk each)."""
        span = max(CHUNK_ROWS, self.rows // 10)
        if self.rows < 2 * span:
            return self.rate, self.rate
        early = next(sample for sample in self.progress if sample[1] >= span)
        end = self.progress[-1]
        start = next(sample for sample in reversed(self.progress) if sample[1] <= end[1] - span)
        return early[1] / early[0], (end[1] - start[1]) / (end[0] - start[0])


@dataclass
class ServiceImport:
    rows: int
    import_id: str
    dry_run_seconds: float
    commit: Commit
    peak_rss_mb: float
    peak_rss_method: str
    rss_before_mb: float
    phase_peaks: dict[str, float]
    store_peaks: dict[str, float]
    dry_run_lag: float
    commit_lag: float
    cpu: str

    @property
    def dry_run_rate(self) -> float:
        return self.rows / self.dry_run_seconds

    @property
    def rate(self) -> float:
        """Rows/s of dry run and commit together: 1 / (dry run seconds per row + commit seconds per row)."""
        if self.commit.rate == 0:
            return 0.0
        return 1 / (1 / self.dry_run_rate + 1 / self.commit.rate)


async def _expect(call: Awaitable[httpx.Response], status: int) -> httpx.Response:
    response = await call
    if response.status_code != status:
        raise AssertionError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response


async def _commit_within(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    imports: AsyncCollection[Document],
    import_id: str,
    budget: float,
) -> Commit:
    """Commit, following its stored progress; cancelled at ``budget`` seconds."""
    started = time.perf_counter()
    request = asyncio.ensure_future(
        client.post(f"/v1/imports/{import_id}/commit", json={"mode": "valid_rows"}, headers=headers)
    )
    progress: list[tuple[float, int]] = [(0.0, 0)]
    while True:
        await asyncio.wait({request}, timeout=PROGRESS_POLL_SECONDS)
        now = time.perf_counter() - started
        if request.done():
            response = request.result()
            if response.status_code != 200:
                raise AssertionError(f"commit: {response.status_code} {response.text[:500]}")
            rows = response.json()["progress"]["rows_done"]
            progress.append((now, rows))
            return Commit(rows, now, True, budget, progress)
        stored = await imports.find_one({"_id": import_id}, {"progress": 1})
        rows = ((stored or {}).get("progress") or {}).get("rows_done", 0)
        if rows != progress[-1][1]:
            progress.append((now, rows))
        if now > budget:
            request.cancel()
            await asyncio.gather(request, return_exceptions=True)
            stored = await imports.find_one({"_id": import_id}, {"progress": 1})
            rows = ((stored or {}).get("progress") or {}).get("rows_done", 0)
            if rows != progress[-1][1]:
                progress.append((time.perf_counter() - started, rows))
            return Commit(rows, progress[-1][0], False, budget, progress)


async def import_through_service(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    content: bytes,
    imports: AsyncCollection[Document],
    budget: float,
) -> ServiceImport:
    gc.collect()
    exact = _reset_peak_rss()
    rss_before = psutil.Process().memory_info().rss / 2**20
    meter = CpuMeter()
    with MemorySampler() as sampler:
        sampler.phase = "upload and dry run"
        with LoopLag() as dry_lag:
            started = time.perf_counter()
            upload = client.post("/v1/imports", params={"station_id": STATION}, content=content, headers=headers | XLSX)
            uploaded = await _expect(upload, 201)
            dry_run_seconds = time.perf_counter() - started
        report = uploaded.json()["report"]
        if not report["importable"] or report["valid_rows"] != report["rows"]:
            raise AssertionError(f"the generated roster has problems: {json.dumps(report, ensure_ascii=False)[:1000]}")
        sampler.phase = "commit"
        meter.start()
        with LoopLag() as commit_lag:
            commit = await _commit_within(client, headers, imports, uploaded.json()["id"], budget)
        sampler.phase = "after"
    cpu = meter.stop()
    hwm = _peak_rss_mb() if exact else None
    return ServiceImport(
        rows=report["rows"],
        import_id=uploaded.json()["id"],
        dry_run_seconds=dry_run_seconds,
        commit=commit,
        peak_rss_mb=hwm if hwm is not None else max(sampler.peaks.values()),
        peak_rss_method="VmHWM" if hwm is not None else "sampled RSS",
        rss_before_mb=rss_before,
        phase_peaks={phase: mb for phase, mb in sampler.peaks.items() if phase in PHASES},
        store_peaks={phase: mb for phase, mb in sampler.store_peaks.items() if phase in PHASES},
        dry_run_lag=dry_lag.worst,
        commit_lag=commit_lag.worst,
        cpu=cpu.describe(max(1, commit.rows)).replace("/event", "/committed row"),
    )


async def dry_run_rate(client: httpx.AsyncClient, headers: dict[str, str], path: Path) -> tuple[int, float]:
    """Upload and dry run only (nothing is committed): rows and seconds."""
    content = await asyncio.to_thread(path.read_bytes)
    started = time.perf_counter()
    upload = client.post("/v1/imports", params={"station_id": STATION}, content=content, headers=headers | XLSX)
    uploaded = await _expect(upload, 201)
    return uploaded.json()["report"]["rows"], time.perf_counter() - started


# --- import by the raw driver ---------------------------------------------------------------------


async def _read_all(db: AsyncDatabase[Document], collection: str) -> list[Document]:
    return [document async for document in db[collection].find({}).sort("_id", 1)]


async def import_by_driver(client: AsyncMongoClient[Document], service_db: str, raw_db: str) -> tuple[int, float]:
    """The documents the service stored, written again in its chunks and transactions: rows and seconds."""
    source = client[service_db]
    people = await _read_all(source, PEOPLE)
    history: dict[str, list[Document]] = defaultdict(list)
    for entry in await _read_all(source, HISTORY):
        history[entry["person_id"]].append(entry)
    outbox: dict[str, list[Document]] = defaultdict(list)
    for message in await _read_all(source, OUTBOX):
        outbox[message["key"]].append(message)
    target = client[raw_db]
    await ensure_indexes(target)
    for name in (PEOPLE, HISTORY, OUTBOX):
        await target.create_collection(name, check_exists=False)
    started = time.perf_counter()
    for first in range(0, len(people), CHUNK_ROWS):
        chunk = people[first : first + CHUNK_ROWS]
        entries = [entry for person in chunk for entry in history[person["_id"]]]
        messages = [message for person in chunk for message in outbox[person["_id"]]]
        async with client.start_session() as session, await session.start_transaction():
            await target[PEOPLE].insert_many(chunk, session=session)
            if entries:
                await target[HISTORY].insert_many(entries, session=session)
            if messages:
                await target[OUTBOX].insert_many(messages, session=session)
    return len(people), time.perf_counter() - started


# --- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    name: str
    variants: tuple[dict[str, Any], ...]


def shapes(sample_names: list[str]) -> list[Shape]:
    """The kinds of search staff make, each in a few variants so no single value is favoured."""
    keys = [name_keys(name) for name in sample_names]
    initials = list(dict.fromkeys(key.initials for key in keys if len(key.initials) == 3))[:6]
    prefixes = list(dict.fromkeys(key.full[: len(key.syllables[0]) + 1] for key in keys))[:6]
    return [
        Shape("name in characters (陈)", tuple({"q": q} for q in ("陈", "林", "黄", "李", "覃", "欧阳"))),
        Shape("name in pinyin (chen)", tuple({"q": q} for q in ("chen", "lin", "huang", "li", "qin", "ouyang"))),
        Shape("pinyin prefix (chenx)", tuple({"q": q} for q in prefixes)),
        Shape("initials (cxm)", tuple({"q": q} for q in initials)),
        Shape("country", tuple({"country": c} for c in ("VN", "ID", "MY", "TH", "US"))),
        Shape("hardship", tuple({"hardship": h} for h in ("living_alone", "disabled", "minimum_living"))),
        Shape("age range", tuple({"min_age": a, "max_age": a + 4} for a in (60, 70, 80, 90))),
        Shape("deputy (none assigned)", ({"deputy_id": "dep-nobody"},)),
        Shape("name and country", tuple({"q": q, "country": "VN"} for q in ("chen", "lin", "huang"))),
    ]


def driver_filter(params: dict[str, Any]) -> dict[str, Any]:
    """The flat MongoDB filter a search of the station with these parameters needs (live files,
    name by a prefix of its stored search words), as the raw driver would send it."""
    filter_: dict[str, Any] = {"station_id": STATION, "status": {"$in": LIVE_STATUSES}}
    if params.get("q"):
        filter_["name_tokens"] = {"$regex": f"^{re.escape(query_keys(params['q'])[0])}"}
    for name in ("country", "deputy_id"):
        if params.get(name):
            filter_[name] = params[name]
    if params.get("hardship"):
        filter_["hardship"] = {"$all": [params["hardship"]]}
    bounds = age_bounds(params.get("min_age"), params.get("max_age"), datetime.now(UTC).date())
    if bounds:
        filter_["birth_date"] = bounds
    return filter_


@dataclass
class Latencies:
    by_shape: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    found: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    def add(self, shape: str, seconds: float, found: int) -> None:
        self.by_shape[shape].append(seconds * 1000)
        self.found[shape].append(found)

    @property
    def all(self) -> list[float]:
        return [ms for values in self.by_shape.values() for ms in values]


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def search_both(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    people: AsyncCollection[Document],
    plan: list[Shape],
    searches: int,
    budget: float,
) -> tuple[Latencies, Latencies]:
    """Searches cycling through the shapes, through the API and then through the driver, each
    side up to ``searches`` within ``budget`` seconds of its own (the driver is the slow side: at
    100,000 people a shared budget left the API only a handful of searches)."""

    async def through_service(params: dict[str, Any]) -> int:
        query = {"station_id": STATION, "limit": LIMIT, **params}
        response = await _expect(client.get("/v1/people", params=query, headers=headers), 200)
        return len(response.json()["items"])

    async def through_driver(params: dict[str, Any]) -> int:
        return len(await people.find(driver_filter(params)).sort(BY_NAME).limit(LIMIT + 1).to_list())

    async def measured(call: Callable[[dict[str, Any]], Awaitable[int]]) -> Latencies:
        latencies = Latencies()
        await call(plan[0].variants[0])  # first connections, first requests
        started = time.perf_counter()
        for number in range(searches):
            if time.perf_counter() - started > budget:
                break
            round_, index = divmod(number, len(plan))
            shape = plan[index]
            began = time.perf_counter()
            found = await call(shape.variants[round_ % len(shape.variants)])
            latencies.add(shape.name, time.perf_counter() - began, found)
        return latencies

    return await measured(through_service), await measured(through_driver)


async def explain_shapes(db: AsyncDatabase[Document], plan: list[Shape]) -> dict[str, str]:
    """The store's plan for each shape's first variant: stages, keys and documents examined."""
    plans: dict[str, str] = {}
    for shape in plan:
        command = {"find": PEOPLE, "filter": driver_filter(shape.variants[0]), "sort": dict(BY_NAME)}
        try:
            explained = await db.command({"explain": command | {"limit": LIMIT + 1}, "verbosity": "executionStats"})
        except Exception as exc:  # an explain the store cannot give is a finding, not a failure
            plans[shape.name] = f"explain failed: {exc}"
        else:
            plans[shape.name] = describe_plan(explained)
    return plans


def _stages(stage: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield stage
    for key in ("inputStage", "inputStages"):
        child = stage.get(key)
        for item in child if isinstance(child, list) else [child] if child else []:
            yield from _stages(item)


def _key_pattern(stage: dict[str, Any]) -> str:
    return f"({','.join(stage['keyPattern'])})" if "keyPattern" in stage else ""


def describe_plan(explained: dict[str, Any]) -> str:
    winning = explained.get("queryPlanner", {}).get("winningPlan", {})
    winning = winning.get("queryPlan", winning)
    names = [str(stage.get("stage", "?")) + _key_pattern(stage) for stage in _stages(winning)]
    stats = explained.get("executionStats", {})
    examined = ""
    if stats:
        examined = (
            f"; keys examined {stats.get('totalKeysExamined', '?')}, documents examined "
            f"{stats.get('totalDocsExamined', '?')}"
        )
    return " ← ".join(names) + examined


# --- the benchmark --------------------------------------------------------------------------------


def _ms(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):7.1f} ms, p99 {percentile(values, 0.99):7.1f} ms"


def _describe_import(done: ServiceImport) -> str:
    commit = done.commit
    cut = "" if commit.finished else f"; cancelled at the {commit.budget:.0f} s budget"
    lines = [
        f"  service: upload and dry run {done.dry_run_rate:,.0f} rows/s ({done.rows:,} rows in "
        f"{done.dry_run_seconds:.1f} s); commit {commit.rate:,.0f} rows/s ({commit.rows:,} of {done.rows:,} rows "
        f"in {commit.seconds:.1f} s{cut}); together {done.rate:,.0f} rows/s",
        "  commit rate over the first and the last tenth of its rows: {:,.0f} and {:,.0f} rows/s".format(
            *commit.early_and_late_rates()
        ),
        f"  memory: peak {done.peak_rss_mb:.0f} MB ({done.peak_rss_method}; {done.rss_before_mb:.0f} MB before the "
        "upload); sampled by phase: "
        + ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in done.phase_peaks.items())
        + (
            "; store: " + ", ".join(f"{phase} {mb:.0f} MB" for phase, mb in done.store_peaks.items())
            if done.store_peaks
            else ""
        ),
        f"  event loop stalled up to {done.dry_run_lag * 1000:,.0f} ms in the dry run, "
        f"{done.commit_lag * 1000:,.0f} ms in the commit",
        f"  commit: {done.cpu}",
    ]
    return "\n".join(lines)


async def run(endpoints: Endpoints) -> list[Result]:
    rows = env_int("BENCH_RECORDS_ROWS", 100_000)
    commit_budget = env_float("BENCH_RECORDS_COMMIT_SECONDS", 120.0)
    searches = env_int("BENCH_RECORDS_SEARCHES", 300)
    search_budget = env_float("BENCH_RECORDS_SEARCH_SECONDS", 60.0)
    openpyxl_rows = env_int("BENCH_RECORDS_OPENPYXL_ROWS", 20_000)
    unique = uuid4().hex[:10]
    service_db, raw_db = f"bench_records_{unique}", f"bench_records_raw_{unique}"
    with tempfile.TemporaryDirectory(prefix="liaison-bench-records-") as folder:
        workbook, openpyxl_workbook = Path(folder, "roster.xlsx"), Path(folder, "openpyxl.xlsx")
        jobs = [write_workbook("excel", workbook, rows)]
        if openpyxl_rows:
            jobs.append(write_workbook("openpyxl", openpyxl_workbook, openpyxl_rows))
        written = await asyncio.gather(*jobs)
        content = await asyncio.to_thread(workbook.read_bytes)
        print(
            f"roster of {rows:,} rows written as Excel saves it in {written[0]:.0f} s "
            f"({len(content) / 1e6:.1f} MB: shared strings, size declared); commit budget "
            f"{commit_budget:.0f} s, search budget {search_budget:.0f} s",
            flush=True,
        )
        keys = ensure_key_pair(Path(folder, "keys"))
        caller = Caller(keys)
        staff = caller(stations=(STATION,))
        settings = service_settings("records", endpoints, keys, mongodb_database=service_db, log_level="WARNING")
        raw: AsyncMongoClient[Document] = connect(endpoints.mongodb_url)
        try:
            async with serve("records", settings) as client:
                for unit in UNITS:
                    await _expect(client.post("/v1/stations", json=unit, headers=caller(Role.ADMIN)), 201)
                done = await import_through_service(client, staff, content, raw[service_db][IMPORTS], commit_budget)
                del content
                print(_describe_import(done), flush=True)
                if openpyxl_rows:
                    counted, seconds = await dry_run_rate(client, staff, openpyxl_workbook)
                    print(
                        f"  the same rows as openpyxl writes them (inline strings, no size): upload and dry run "
                        f"{counted / seconds:,.0f} rows/s ({counted:,} rows)",
                        flush=True,
                    )
                stored = await raw[service_db][PEOPLE].count_documents({})
                plan = shapes([person.name for person in islice(records_workbook.people(rows), 2000)])
                service, driver = await search_both(
                    client, staff, raw[service_db][PEOPLE], plan, searches, search_budget
                )
            plans = await explain_shapes(raw[service_db], plan)
            raw_rows, raw_seconds = await import_by_driver(raw, service_db, raw_db)
        finally:
            for database in (service_db, raw_db):
                await raw.drop_database(database)
            await raw.close()
    raw_rate = raw_rows / raw_seconds if raw_seconds else float("nan")
    print(f"  raw driver: {raw_rate:,.0f} rows/s ({raw_rows:,} rows in {raw_seconds:.1f} s)")
    print(
        f"  search among {stored:,} people, limit {LIMIT}: {len(service.all)} through the API, "
        f"{len(driver.all)} through the driver:"
    )
    for shape in plan:
        found = service.found[shape.name]
        print(
            f"    {shape.name:24} service {_ms(service.by_shape[shape.name])} | driver "
            f"{_ms(driver.by_shape[shape.name])} | {sum(found) / max(1, len(found)):.0f} found\n"
            f"      plan: {plans[shape.name]}"
        )
    service_p99, driver_p99 = percentile(service.all, 0.99), percentile(driver.all, 0.99)
    of = f"{done.commit.rows:,} of {done.rows:,}" if not done.commit.finished else f"{done.rows:,}"
    return [
        Result.at_least(NAME, f"import, dry run and commit ({of} rows)", done.rate, "rows/s", IMPORT_TARGET),
        Result(NAME, f"import: upload and dry run ({done.rows:,} rows)", done.dry_run_rate, "rows/s"),
        Result(NAME, f"import: commit ({of} rows in {done.commit.seconds:.0f} s)", done.commit.rate, "rows/s"),
        Result.below(NAME, f"import peak memory ({done.peak_rss_method})", done.peak_rss_mb, "MB", MEMORY_TARGET_MB),
        Result(NAME, "raw driver writes of the same rows", raw_rate, "rows/s"),
        Result(NAME, "import ratio service/raw (dry run and commit)", done.rate / raw_rate, "×"),
        Result(NAME, "commit ratio service/raw", done.commit.rate / raw_rate, "×"),
        Result(NAME, f"search p50 among {stored:,} people", percentile(service.all, 0.5), "ms"),
        Result.below(NAME, f"search p99 among {stored:,} people", service_p99, "ms", P99_TARGET_MS),
        Result(NAME, "raw driver search p50", percentile(driver.all, 0.5), "ms"),
        Result(NAME, "raw driver search p99", driver_p99, "ms"),
        Result(NAME, "search p99 ratio service/raw", service_p99 / driver_p99, "×"),
    ]
