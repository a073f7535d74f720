"""Where the time goes: CPU per process, MongoDB commands, and the store's raw capacity.

The station's servers share two cores with this process (and with whatever else runs on
the machine), so CPU time per event is the currency both sides spend; ``busy_elsewhere``
shows how much of the machine other programs took during a measurement, and ``stolen`` how
much the host gave to its other guests (steal time: a virtual machine's cores are shared, and
a stolen tick is charged to whatever ran here, so it does not show as other programs), i.e.
how noisy it was.
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import psutil
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import PyMongoError


class CommandCounter(monitoring.CommandListener):
    """Counts the MongoDB commands this process sends (every client made after ``register``)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.counts[f"failed {event.command_name}"] += 1

    def snapshot(self) -> Counter[str]:
        return Counter(self.counts)


COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


SERVERS = ("secantusd", "tansu", "valkey")


def _processes() -> dict[str, list[psutil.Process]]:
    """This process, the servers it started (the harness's children) and any other process it
    started (a service's workers, all under "services"), by short name."""
    me = psutil.Process()
    found: dict[str, list[psutil.Process]] = {"bench": [me]}
    for child in me.children(recursive=True):
        name = child.name()
        short = next((server for server in SERVERS if name.startswith(server)), "services")
        found.setdefault(short, []).append(child)
    return found


@dataclass
class CpuUse:
    seconds: float
    by_process: dict[str, float]
    busy_elsewhere: float
    stolen: float
    commands: Counter[str]

    def per_event_ms(self, events: int) -> dict[str, float]:
        return {name: used / events * 1000 for name, used in self.by_process.items()}

    def describe(self, events: int) -> str:
        cpu = ", ".join(f"{name} {ms:.1f}" for name, ms in self.per_event_ms(events).items())
        commands = sum(self.commands.values()) / events
        mix = ", ".join(f"{name} {count / events:.2f}" for name, count in self.commands.most_common(5))
        return f"CPU ms/event: {cpu}; MongoDB commands/event {commands:.2f} ({mix}); {self.noise()}"

    def noise(self) -> str:
        return f"other programs used {self.busy_elsewhere:.0%} of the CPU meanwhile, the host took {self.stolen:.0%}"


class CpuMeter:
    """CPU used by each of our processes between ``start`` and ``stop``: those running when it
    is made (a process started later, or replaced, is not counted)."""

    def __init__(self) -> None:
        self.processes = _processes()

    def _sample(self) -> tuple[float, dict[str, float], float, float, float, Counter[str]]:
        used = {name: sum(map(_cpu, processes)) for name, processes in self.processes.items()}
        machine = psutil.cpu_times()
        stolen = getattr(machine, "steal", 0.0)
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0) - stolen
        return time.perf_counter(), used, _tree_cpu(), busy, stolen, COMMANDS.snapshot()

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> CpuUse:
        (t0, used0, tree0, busy0, stolen0, commands0) = self._start
        (t1, used1, tree1, busy1, stolen1, commands1) = self._sample()
        ours = {name: used1[name] - used0[name] for name in used0}
        elsewhere = (busy1 - busy0) - (tree1 - tree0)
        capacity = (t1 - t0) * (psutil.cpu_count() or 1)
        stolen = (stolen1 - stolen0) / capacity
        return CpuUse(t1 - t0, ours, max(0.0, elsewhere) / capacity, stolen, commands1 - commands0)


def loop_seconds() -> float:
    """How long a fixed pure-Python loop takes: this machine's speed right now. A host that
    shares its cores can slow a virtual machine down by half with little steal time to show."""
    started = time.perf_counter()
    sum(i * i for i in range(10_000_000))
    return time.perf_counter() - started


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _tree_cpu() -> float:
    """CPU used by this process and every process it started, those still running and those
    ended and reaped (the services' workers, the servers): none of them is another program."""
    total = 0.0
    for process in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


async def store_capacity(url: str, seconds: float = 3.0, concurrency: int = 8) -> float:
    """Two-write transactions per second the store manages with PyMongo async, as DESIGN.md quotes."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    db = client[f"bench_capacity_{int(time.time())}"]
    for name in ("a", "b"):
        await db.create_collection(name)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        n = offset
        while time.perf_counter() < deadline:
            try:
                async with client.start_session() as session, await session.start_transaction():
                    await db["a"].insert_one({"_id": n}, session=session)
                    await db["b"].insert_one({"_id": n, "pending": True}, session=session)
            except PyMongoError as exc:
                if not exc.has_error_label("TransientTransactionError"):
                    raise
                continue
            done += 1
            n += concurrency

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done / (time.perf_counter() - started)
    finally:
        await client.drop_database(db.name)
        await client.close()
