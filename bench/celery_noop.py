"""Raw Celery on the same Redis: a task that does nothing but say it ran (its count and time), served by a
prefork worker with notify's task handling (``TASK_HANDLING``). The floor under
notify's delivery tasks: what Celery itself costs per task on this machine.

Run as a worker: ``python -c "from bench.celery_noop import serve; serve(redis_url, queue)"``.
"""

import logging
import sys
import time
from typing import Any

import redis
from celery import Celery
from liaison_notify.entrypoints.celery_app import TASK_HANDLING

NOOP = "bench.noop"
_counter: dict[str, Any] = {}  # this process's Redis client, made on first use (after the fork)


def counter_key(queue: str) -> str:
    return f"{queue}.done"


def ran_key(queue: str, which: str) -> str:
    """When the ``first`` or ``last`` task ran (Unix seconds): the rate needs no watcher's timing."""
    return f"{queue}.{which}"


def noop_app(redis_url: str, queue: str) -> Celery:
    app = Celery("bench_noop", broker=redis_url, set_as_current=False)
    app.conf.update(TASK_HANDLING, task_default_queue=queue)

    def noop(_payload: list[str]) -> None:
        client = _counter.setdefault("client", redis.Redis.from_url(redis_url))
        now = time.time()
        client.set(ran_key(queue, "first"), now, nx=True)
        client.set(ran_key(queue, "last"), now)
        client.incr(counter_key(queue))

    app.task(name=NOOP)(noop)
    return app


def serve(redis_url: str, queue: str, concurrency: int = 2) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    worker = noop_app(redis_url, queue).Worker(
        pool="prefork",
        concurrency=concurrency,
        queues=[queue],
        loglevel="INFO",
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
    )
    worker.start()
