"""The event backbone against its floor, on the same servers in the same run.

Both sides move the same events from a write to an effect: the backbone through the real
outbox, relay and consumer runner (``bench.backbone_side``), the floor with only the
unavoidable work (``bench.floor``). Both are timed identically (``bench.workload``):

- throughput: ``BENCH_WRITERS`` (8) writers write ``BENCH_EVENTS`` (3000) events as fast as
  they can while delivery runs concurrently; events/s is counted from the first write
  starting to the last effect committed. Writers, relay/producer and consumer share this
  process and its event loop on both sides. The sides alternate over ``BENCH_ROUNDS`` (2)
  rounds (floor, backbone, backbone, floor, ...) and each side's best round counts, which
  keeps drift and other programs' bursts from deciding the ratio.
- latency: in each side's last round, ``BENCH_RATE`` (100) events/s are offered for
  ``BENCH_LATENCY_SECONDS`` (20) s (open loop); p50/p99 of write committed → effect committed.

Every run starts a side afresh (new database names, topics and consumer group) and sends a
few warm-up events end to end first, so group joins and first connections are not timed;
only one side runs at a time. Afterwards each side must hold exactly one effect per event.

Targets (station profile, 2 cores): backbone throughput at least 0.7 of the floor's, p99
under 250 ms at 100 events/s. The store bounds both sides, so its raw capacity (two-write
transactions/s), CPU per event and MongoDB commands per event are printed alongside.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from uuid import uuid4

from liaison_infra.harness.servers import Endpoints

from bench.backbone_side import BackboneSide, bench_settings
from bench.floor import FloorSide
from bench.probes import CpuMeter, CpuUse, store_capacity
from bench.results import Result
from bench.workload import Latency, Side, Throughput, env_float, env_int, measure_latency, measure_throughput, warm_up

NAME = "backbone"
RATIO_TARGET = 0.7
P99_TARGET_MS = 250.0
WARM_UP_EVENTS = 30


@dataclass
class Run:
    throughput: Throughput
    cpu: CpuUse
    latency: Latency | None


async def measure(side: Side, events: int, writers: int, load: tuple[float, float] | None) -> Run:
    """One side's run: throughput, then latency at ``load`` (rate, seconds) if given."""
    await side.start()
    try:
        await warm_up(side, WARM_UP_EVENTS)
        meter = CpuMeter()
        meter.start()
        throughput = await measure_throughput(side, events, writers)
        cpu = meter.stop()
        print(
            f"  {side.name:8} throughput {throughput.rate:4.0f} events/s ({throughput.events} events in "
            f"{throughput.seconds:.1f} s; the writes alone ran at {throughput.write_rate:.0f}/s)\n"
            f"           {cpu.describe(events)}",
            flush=True,
        )
        expected = WARM_UP_EVENTS + events
        latency = None
        if load is not None:
            await asyncio.sleep(1.0)  # let the burst's tail settle before the steady load
            latency = await measure_latency(side, *load)
            expected += latency.events
            print(
                f"  {side.name:8} latency at {latency.offered_rate:.0f} events/s: p50 {latency.p50:.0f} ms, "
                f"p99 {latency.p99:.0f} ms (write p99 {latency.write_p99:.0f} ms after its due time)",
                flush=True,
            )
        stored = await side.effects()
        if stored != expected:
            raise AssertionError(f"{side.name}: {stored} effects stored for {expected} events")
    finally:
        await side.stop()
    return Run(throughput, cpu, latency)


def store_cpu_per_event(run: Run) -> float:
    return run.cpu.per_event_ms(run.throughput.events).get("secantusd", float("nan"))


def latency_of(side_runs: list[Run]) -> Latency:
    return next(run.latency for run in side_runs if run.latency is not None)


def commands_per_event(run: Run) -> float:
    return sum(run.cpu.commands.values()) / run.throughput.events


async def run(endpoints: Endpoints) -> list[Result]:
    events = env_int("BENCH_EVENTS", 3000)
    writers = env_int("BENCH_WRITERS", 8)
    rounds = env_int("BENCH_ROUNDS", 2)
    load = (env_float("BENCH_RATE", 100.0), env_float("BENCH_LATENCY_SECONDS", 20.0))
    settings = bench_settings(endpoints, "floor")
    sides: dict[str, Callable[[], Side]] = {
        "floor": lambda: FloorSide(endpoints, uuid4().hex[:10], settings),
        "backbone": lambda: BackboneSide(endpoints, uuid4().hex[:10]),
    }
    capacity = await store_capacity(endpoints.mongodb_url)
    print(f"store: {capacity:.0f} two-write transactions/s (raw PyMongo, 8 concurrent)")
    rate, seconds = load
    print(
        f"{events} events by {writers} writers per run, {rounds} rounds; then {rate:.0f} events/s for {seconds:.0f} s"
    )
    runs: dict[str, list[Run]] = {name: [] for name in sides}
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in order:
            last = len(runs[name]) == rounds - 1
            runs[name].append(await measure(sides[name](), events, writers, load if last else None))

    best = {name: max(side_runs, key=lambda r: r.throughput.rate) for name, side_runs in runs.items()}
    floor_lat, backbone_lat = latency_of(runs["floor"]), latency_of(runs["backbone"])
    ratio = best["backbone"].throughput.rate / best["floor"].throughput.rate
    per_rate = f"at {rate:.0f} events/s"
    noise = max(r.cpu.busy_elsewhere for side_runs in runs.values() for r in side_runs)
    return [
        Result(NAME, "floor throughput", best["floor"].throughput.rate, "events/s"),
        Result(NAME, "backbone throughput", best["backbone"].throughput.rate, "events/s"),
        Result.at_least(NAME, "throughput ratio backbone/floor", ratio, "×", RATIO_TARGET),
        Result(NAME, f"floor p50 latency {per_rate}", floor_lat.p50, "ms"),
        Result(NAME, f"floor p99 latency {per_rate}", floor_lat.p99, "ms"),
        Result(NAME, f"backbone p50 latency {per_rate}", backbone_lat.p50, "ms"),
        Result.below(NAME, f"backbone p99 latency {per_rate}", backbone_lat.p99, "ms", P99_TARGET_MS),
        Result(NAME, "store capacity, two-write transactions/s", capacity, "tx/s"),
        Result(NAME, "floor store CPU per event", store_cpu_per_event(best["floor"]), "ms"),
        Result(NAME, "backbone store CPU per event", store_cpu_per_event(best["backbone"]), "ms"),
        Result(NAME, "floor MongoDB commands per event", commands_per_event(best["floor"]), "×"),
        Result(NAME, "backbone MongoDB commands per event", commands_per_event(best["backbone"]), "×"),
        Result(NAME, "CPU taken by other programs (worst run)", noise, "%"),
    ]
