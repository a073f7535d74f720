"""A real notify Celery worker process for the tests (``liaison-run notify worker``), started once
per module on the session's Valkey and stopped by its pid, and the waits the tests need around it."""

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from celery import Celery
from liaison_infra.harness.processes import ManagedProcess
from liaison_notify.config import Settings
from liaison_notify.entrypoints.celery_app import create_celery_app, queue_names


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the worker process reads them: NOTIFY_* variables, JSON for non-strings."""
    values = settings.model_dump(mode="json")
    return {f"NOTIFY_{name.upper()}": v if isinstance(v, str) else json.dumps(v) for name, v in values.items()}


@contextmanager
def running_worker(settings: Settings, folder: Path) -> Iterator[ManagedProcess]:
    """The worker, run from ``folder`` (so no station's var/station.env reaches it), until the block ends."""
    argv = [sys.executable, "-m", "liaison_infra.run", "notify", "worker"]
    process = ManagedProcess("notify-worker", argv, folder / "notify-worker.log", settings_env(settings), folder)
    with running_celery(process, create_celery_app(settings)):
        yield process


@contextmanager
def running_celery(process: ManagedProcess, app: Celery) -> Iterator[ManagedProcess]:
    """Start a Celery worker process, wait until it answers a ping, and stop it (by its pid) at the end."""
    process.start()
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if not process.alive or time.monotonic() > deadline:
                raise RuntimeError(f"{process.name} did not start:\n{process.tail(40)}")
        yield process
    finally:
        process.stop()


def pool_children(worker: ManagedProcess) -> list[psutil.Process]:
    """The prefork pool's processes: the ones that run the tasks."""
    assert worker.popen is not None
    return psutil.Process(worker.popen.pid).children(recursive=True)


def queued(app: Celery, settings: Settings) -> int:
    with app.connection_for_read() as connection:
        return sum(int(connection.default_channel.client.llen(queue)) for queue in queue_names(settings))


def idle(app: Celery, settings: Settings) -> bool:
    """No task waits in the broker, none is held by the worker, none runs."""
    if queued(app, settings):
        return False
    inspect = app.control.inspect(timeout=2.0, limit=1)  # one worker: stop waiting at its answer
    busy: list[dict[str, list[Any]] | None] = [inspect.active(), inspect.reserved()]
    return all(answer is not None and not any(answer.values()) for answer in busy)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 120) -> None:
    """Wait for ``check`` to hold (a wait for work to end, not a timing assertion)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {within:.0f} s")
        await asyncio.sleep(0.1)


async def worker_idle(app: Celery, settings: Settings) -> bool:
    return await asyncio.to_thread(idle, app, settings)
