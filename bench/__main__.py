"""`python -m bench [name ...]`: start the station's servers once, run the benchmarks, print a table.

Each benchmark is a module ``bench/<name>.py`` with ``async def run(endpoints) -> list[Result]``,
listed in ``BENCHMARKS``; without names every one runs, in that order. As in the tests, a
server whose URL is in the environment (MONGODB_URL, KAFKA_BOOTSTRAP_SERVERS, REDIS_URL) is
used as it is instead of being started. The exit status is 1 when a target is missed.
"""

import asyncio
import importlib
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from liaison_infra.harness.servers import Endpoints, LocalServers

from bench.probes import CpuMeter, loop_seconds
from bench.results import Result, markdown_table, missed

# Add a benchmark by writing bench/<name>.py and naming it here.
BENCHMARKS = ("backbone", "records", "cases", "notify")

# A stuck benchmark (e.g. a server killed under it) ends the run instead of hanging it.
TIMEOUT_SECONDS = float(os.environ.get("BENCH_TIMEOUT_SECONDS", 900))

# Above this share of the CPU taken by other programs or by the host, a run says its figures are disturbed.
NOISY = 0.15

Benchmark = Callable[[Endpoints], Awaitable[list[Result]]]


def load(name: str) -> Benchmark:
    run: Benchmark = importlib.import_module(f"bench.{name}").run
    return run


async def run_all(names: list[str], endpoints: Endpoints) -> list[Result]:
    results: list[Result] = []
    for name in names:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        results.extend(await asyncio.wait_for(load(name)(endpoints), timeout=TIMEOUT_SECONDS))
        print(f"== {name} done in {time.perf_counter() - started:.0f} s\n", flush=True)
    return results


def describe(endpoints: Endpoints) -> str:
    store = "MONGODB_URL" if os.environ.get("MONGODB_URL") else "SecantusDB"
    bus = "KAFKA_BOOTSTRAP_SERVERS" if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") else "Tansu"
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; store {store}, bus {bus}"


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="liaison-bench-") as var:
        servers = LocalServers(var=Path(var), persistent=False)
        try:
            endpoints = servers.start()
            loop_before = loop_seconds()
            meter = CpuMeter()
            meter.start()
            results = asyncio.run(run_all(names, endpoints))
            use = meter.stop()
            speed = f"a fixed loop took {loop_before:.2f} s before, {loop_seconds():.2f} s after"
        finally:
            servers.stop()
    print(f"Results ({describe(endpoints)}; {use.noise()}; {speed}):\n")
    print(markdown_table(results))
    if max(use.busy_elsewhere, use.stolen) > NOISY:
        print(f"\nwarning: more than {NOISY:.0%} of the CPU went elsewhere; the figures understate this machine")
    failures = missed(results)
    if failures:
        print("\nmissed: " + "; ".join(f"{r.metric} {r.shown} (target {r.target})" for r in failures))
        return 1
    print("\nevery target met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
