"""The two measurements applied identically to every side (the backbone and its floor).

A side writes one event per call of ``write`` (the aggregate and its outbox entry in one
transaction) and, in the background, delivers it until its effect is committed. It notes
both instants in its current ``Tracker`` with the same clock (``time.perf_counter``):
``wrote`` right after the write transaction commits, ``applied`` right after the effect
transaction commits.

- Throughput (closed loop): ``writers`` coroutines write ``events`` events as fast as they
  can while delivery runs concurrently; the figure is ``events`` divided by the wall-clock
  time from the first write starting to the last effect committing.
- Latency (open loop): one write is started every ``1/rate`` seconds regardless of how the
  previous ones fare; the figure is the distribution of write committed → effect committed.
"""

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


class Tracker:
    """Write-commit and effect-commit instants of one phase's events, by event key."""

    def __init__(self) -> None:
        self.written: dict[str, float] = {}
        self.applied: dict[str, float] = {}

    def wrote(self, key: str) -> None:
        self.written[key] = time.perf_counter()

    def apply(self, key: str) -> None:
        self.applied.setdefault(key, time.perf_counter())

    async def wait_applied(self, keys: Sequence[str], within: float) -> None:
        missing = [key for key in keys if key not in self.applied]
        try:
            async with asyncio.timeout(within):
                while missing:
                    await asyncio.sleep(0.02)
                    missing = [key for key in missing if key not in self.applied]
        except TimeoutError:
            raise TimeoutError(f"{len(missing)} of {len(keys)} events had no effect within {within:.0f} s") from None


class Side(Protocol):
    """One way of moving events from a write to an effect."""

    name: str
    tracker: Tracker

    async def start(self) -> None: ...

    async def write(self, key: str, seq: int) -> None: ...

    async def effects(self) -> int:
        """How many effects are stored (to check nothing was lost or applied twice)."""
        ...

    async def stop(self) -> None: ...


@dataclass
class Throughput:
    events: int
    seconds: float
    write_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def write_rate(self) -> float:
        return self.events / self.write_seconds


@dataclass
class Latency:
    events: int
    offered_rate: float
    end_to_end_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)

    def percentile(self, values: Sequence[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return self.percentile(self.end_to_end_ms, 50)

    @property
    def p99(self) -> float:
        return self.percentile(self.end_to_end_ms, 99)

    @property
    def write_p99(self) -> float:
        return self.percentile(self.write_ms, 99)


async def warm_up(side: Side, events: int = 30) -> None:
    """Deliver a few events end to end, so group joins and first connections are not timed."""
    side.tracker = Tracker()
    keys = [f"warm-{i:04d}" for i in range(events)]
    await asyncio.gather(*(side.write(key, i) for i, key in enumerate(keys)))
    await side.tracker.wait_applied(keys, within=120)


async def measure_throughput(side: Side, events: int, writers: int, phase: str = "tp") -> Throughput:
    side.tracker = tracker = Tracker()
    keys = [f"{phase}-{i:06d}" for i in range(events)]

    async def writer(first: int) -> None:
        for seq in range(first, events, writers):
            await side.write(keys[seq], seq)

    started = time.perf_counter()
    await asyncio.gather(*(writer(first) for first in range(writers)))
    await tracker.wait_applied(keys, within=max(120.0, events / 10))
    last_write = max(tracker.written[key] for key in keys)
    last_effect = max(tracker.applied[key] for key in keys)
    return Throughput(events, last_effect - started, last_write - started)


async def measure_latency(side: Side, rate: float, seconds: float, phase: str = "lat") -> Latency:
    side.tracker = tracker = Tracker()
    events = max(1, round(rate * seconds))
    keys = [f"{phase}-{i:06d}" for i in range(events)]
    scheduled: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for seq, key in enumerate(keys):
        due = started + seq / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        scheduled[key] = due
        tasks.append(loop.create_task(side.write(key, seq)))
    offered = (events - 1) / (time.perf_counter() - started) if events > 1 else rate
    await asyncio.gather(*tasks)
    await tracker.wait_applied(keys, within=120)
    return Latency(
        events,
        offered,
        end_to_end_ms=[(tracker.applied[key] - tracker.written[key]) * 1000 for key in keys],
        write_ms=[(tracker.written[key] - scheduled[key]) * 1000 for key in keys],
    )
