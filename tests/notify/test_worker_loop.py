"""Each Celery worker process runs every task on one event loop with one database client, opened
after the fork and closed at shutdown (the signals' handlers, called here as Celery calls them)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from liaison_infra.harness.servers import Endpoints
from liaison_notify.entrypoints.worker_loop import WorkerLoop
from liaison_notify.service_layer.context import Notify

from tests.apps import service_settings


async def probe(notify: Notify) -> tuple[Any, Any, float]:
    """The loop and the database client a task ran with, and an answer from the store through them."""
    answer = await notify.db.command("ping")
    return asyncio.get_running_loop(), notify.runtime.client, answer["ok"]


def test_every_task_of_a_process_shares_one_loop_and_one_client(endpoints: Endpoints, keys: tuple[Path, Path]) -> None:
    # In a thread of its own, as a pool process's main thread: the loop it sets is that thread's.
    with ThreadPoolExecutor(1) as pool_process:
        pool_process.submit(_a_process_life, WorkerLoop(service_settings("notify", endpoints, keys))).result()


def _a_process_life(process: WorkerLoop) -> None:
    with pytest.raises(RuntimeError, match="worker_process_init"):
        process.run(probe)

    process.open()  # worker_process_init
    first, second = process.run(probe), process.run(probe)
    process.close()  # worker_process_shutdown

    assert first[2] == second[2] == 1.0
    assert first[0] is second[0] and first[1] is second[1], "one loop and one client for every task"
    assert first[0].is_closed()
    process.open()  # a replacement process after a kill opens its own
    third = process.run(probe)
    process.close()
    assert third[0] is not first[0] and third[1] is not first[1]
