"""The notify Celery app: beat triggers the scans, workers deliver.

Every task may run twice (two beats by mistake, a redelivered message, a retried scan) and
none may send twice: generation is idempotent, messages are stored once per key, and delivery
claims each message and channel in MongoDB before sending. A task lost with a killed worker is
not requeued (``task_reject_on_worker_lost`` stays off, so a task that kills its worker cannot
loop): the next scan derives its work again from MongoDB.

Queues are named after the database, so two stations sharing one Redis never take each
other's work. Results are not stored: the effects live in MongoDB.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from celery import Celery
from celery.schedules import crontab

from liaison_notify.config import Settings
from liaison_notify.entrypoints.task_lock import held_alone
from liaison_notify.entrypoints.worker_loop import WorkerLoop
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.delivery import deliver, pending_message_ids
from liaison_notify.service_layer.digest import produce_weekly_digests
from liaison_notify.service_layer.scans import close_windows, generate_duties, release_due_reminders

T = TypeVar("T")
TIMEZONE = "Asia/Shanghai"
SCAN_DUE = "notify.scan_due"
DELIVER = "notify.deliver"
GENERATE = "notify.generate"
CLOSE_WINDOWS = "notify.close_windows"
WEEKLY_DIGEST = "notify.weekly_digest"
# A scan older than its interval is dropped: the next one does the same work with fresher data.
SCAN_EXPIRES_SECONDS = 55
# How long a periodic task keeps others of its kind away after its worker died.
PERIODIC_LOCK_SECONDS = 120
# How a task travels and is acknowledged: JSON, acknowledged after it ran, one held per process,
# no results (the effects live in MongoDB). The benchmark's raw Celery floor uses the same.
TASK_HANDLING = {
    "task_serializer": "json",
    "accept_content": ["json"],
    "task_ignore_result": True,
    "task_acks_late": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
    "worker_hijack_root_logger": False,
}


def queue_names(settings: Settings) -> tuple[str, str]:
    """(scans, deliveries): deliveries apart, so they can be served by workers of their own."""
    return f"{settings.mongodb_database}.scans", f"{settings.mongodb_database}.deliveries"


def beat_schedule(app: Celery) -> dict[str, dict[str, Any]]:
    """When beat triggers each task, in Asia/Shanghai time."""

    def at(**fields: Any) -> crontab:
        return crontab(app=app, **fields)

    return {
        "scan due reminders every minute": {
            "task": SCAN_DUE,
            "schedule": at(),
            "options": {"expires": SCAN_EXPIRES_SECONDS},
        },
        "generate duties every hour": {"task": GENERATE, "schedule": at(minute=5)},
        "close windows every 15 minutes": {"task": CLOSE_WINDOWS, "schedule": at(minute="*/15")},
        "weekly digest on Monday at 09:00": {
            "task": WEEKLY_DIGEST,
            "schedule": at(minute=0, hour=9, day_of_week="mon"),
        },
    }


def create_celery_app(settings: Settings, worker_loop: WorkerLoop | None = None) -> Celery:
    """The app the worker, beat and any sender use; it opens nothing by itself.

    Tasks run on ``worker_loop``, which the worker opens in each of its processes; beat and
    senders only name the tasks and never run them.
    """
    scans, deliveries = queue_names(settings)
    app = Celery("liaison_notify", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        TASK_HANDLING,
        task_default_queue=scans,
        task_routes={DELIVER: {"queue": deliveries}},
        timezone=TIMEZONE,
        enable_utc=True,
    )
    app.conf.beat_schedule = beat_schedule(app)
    _register_tasks(app, settings, worker_loop or WorkerLoop(settings))
    return app


def _register_tasks(app: Celery, settings: Settings, loop: WorkerLoop) -> None:
    """Each task takes an optional ``now`` (ISO 8601): the whole task, and the deliveries a scan
    hands out, then run on a clock stopped there (a test or a replay); beat sends none.

    A periodic task runs one at a time: a second beat's, or the next minute's while a long one
    still runs, steps aside instead of contending for the same duties.
    """
    deliveries = queue_names(settings)[1]

    def run_at(now: str | None, work: Callable[[Notify, datetime], Awaitable[T]]) -> T:
        return loop.run(lambda notify: work(notify, notify.clock()), datetime.fromisoformat(now) if now else None)

    def periodic(name: str, body: Callable[[str | None], dict[str, int]]) -> None:
        def task(now: str | None = None) -> dict[str, int]:
            with held_alone(app, f"{settings.mongodb_database}.{name}", PERIODIC_LOCK_SECONDS) as alone:
                return body(now) if alone else {"skipped": 1}

        app.task(name=name)(task)

    def hand_out(message_ids: list[str], now: str | None) -> None:
        size = settings.delivery_batch_size
        for start in range(0, len(message_ids), size):
            deliver_task.apply_async((message_ids[start : start + size], now))

    def scan_due(now: str | None) -> dict[str, int]:
        """Release reminders that fell due, each released batch handed to the deliverers at once,
        then hand out every pending message in batches.

        Pending messages are handed out only while no delivery is queued: the queued ones will be
        sent, and handing them out again every minute would only make deliverers find them claimed.
        """
        released = run_at(now, lambda notify, at: release_due_reminders(notify, at, partial(hand_out, now=now)))
        if _queued(app, deliveries):
            return {"released": released, "handed_out": 0}
        message_ids = run_at(now, lambda notify, at: pending_message_ids(notify, at, settings.scan_limit))
        hand_out(message_ids, now)
        return {"released": released, "handed_out": len(message_ids)}

    def deliver_messages(message_ids: list[str], now: str | None = None) -> None:
        run_at(now, lambda notify, _: deliver(notify, message_ids))

    deliver_task = app.task(name=DELIVER)(deliver_messages)
    periodic(SCAN_DUE, scan_due)
    periodic(GENERATE, lambda now: {"created": run_at(now, generate_duties)})
    periodic(CLOSE_WINDOWS, lambda now: {"changed": run_at(now, close_windows)})
    periodic(WEEKLY_DIGEST, lambda now: {"digests": run_at(now, produce_weekly_digests)})


def _queued(app: Celery, queue: str) -> int:
    """How many tasks wait in ``queue``, not counting those workers hold (the broker is Redis: a list)."""
    with app.connection_for_read() as connection:
        return int(connection.default_channel.client.llen(queue))
