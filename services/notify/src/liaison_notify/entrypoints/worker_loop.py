"""One event loop and one database client per Celery worker process.

Celery runs task bodies synchronously. Opening a loop and a MongoDB client per task would pay
connection set-up on every task and strand clients bound to dead loops; one shared across a
fork would be used by two processes at once. So each pool process opens its own loop and
MongoDB client right after it is forked (``worker_process_init``), runs every task's coroutine
on that loop with ``run_until_complete``, and closes both when it shuts down
(``worker_process_shutdown``). Sends block (Apprise), so they run in the loop's default
executor, sized to ``send_concurrency``: asyncio's own has only ``cores + 4`` threads.
"""

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from liaison_infra.runtime import Runtime

from liaison_notify.bootstrap import SPEC
from liaison_notify.config import Settings
from liaison_notify.service_layer.context import Notify

T = TypeVar("T")


class WorkerLoop:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Runtime | None = None

    def open(self, **_signal: Any) -> None:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(self.settings.send_concurrency, thread_name_prefix="send"))
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._runtime = Runtime(self.settings, SPEC)

    def run(self, work: Callable[[Notify], Awaitable[T]], at: datetime | None = None) -> T:
        """Run ``work`` to its end on this process's loop, on the real clock or stopped at ``at``."""
        if self._loop is None or self._runtime is None:
            raise RuntimeError("this worker process has no event loop: worker_process_init was not sent")
        notify = Notify(self._runtime) if at is None else Notify(self._runtime, clock=lambda: at)
        return self._loop.run_until_complete(work(notify))

    def close(self, **_signal: Any) -> None:
        if self._loop is None or self._runtime is None:
            return
        self._loop.run_until_complete(self._runtime.close())
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()
        self._loop = self._runtime = None
