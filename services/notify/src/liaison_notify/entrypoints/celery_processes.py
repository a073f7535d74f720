"""``liaison-run notify worker`` and ``liaison-run notify beat``: Celery started from code, logging JSON.

The worker is a prefork pool of ``worker_concurrency`` processes, each with its own event loop
and MongoDB client (``WorkerLoop``). One process more than cores: a delivering process waits on
the store about half its time, and a scan holds a process for as long as it releases (README,
benchmarks: with 2, about 15% of two cores stood idle). Beat keeps its last-run times in
``beat_schedule_file``; losing that file only means the next run of each entry is computed afresh.
"""

import logging
import os
import socket
from typing import Any

import apprise
from billiard.util import get_logger as billiard_logger
from celery import signals
from liaison_infra.logs import configure_logging

from liaison_notify.config import Settings
from liaison_notify.entrypoints.celery_app import create_celery_app, queue_names
from liaison_notify.entrypoints.worker_loop import WorkerLoop

log = logging.getLogger(__name__)


def _log_json(settings: Settings) -> None:
    """Celery leaves logging alone once a receiver handles ``setup_logging`` (also in forked children);
    warnings (Celery's about running as root, say) become log records too, so every line is JSON."""

    def configure(**_signal: Any) -> None:
        configure_logging(settings.service_name, settings.log_level)
        logging.captureWarnings(True)
        pool_log = billiard_logger()  # the pool's own, which would print plain text to stderr
        pool_log.handlers[:] = []
        pool_log.propagate = True
        pool_log.setLevel(max(logging.WARNING, logging.getLogger().level))

    signals.setup_logging.connect(configure, weak=False)
    configure()


def _load_apprise_plugins() -> None:
    """Apprise finds its plugins on first use, which takes seconds; done here, before the pool
    forks, every pool process (a replacement for a killed one too) starts with them loaded."""
    apprise.Apprise().add("json://localhost")


def run_worker(settings: Settings) -> None:
    _log_json(settings)
    _load_apprise_plugins()
    loop = WorkerLoop(settings)
    app = create_celery_app(settings, loop)
    signals.worker_process_init.connect(loop.open, weak=False)
    signals.worker_process_shutdown.connect(loop.close, weak=False)
    worker = app.Worker(
        hostname=f"notify-{socket.gethostname()}-{os.getpid()}",
        pool="prefork",
        concurrency=settings.worker_concurrency,
        queues=list(queue_names(settings)),
        loglevel=settings.log_level,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,  # no banner, which is not JSON; the line below says what matters of it
    )
    log.info(
        "notify worker starting",
        extra={"fields": {"queues": list(queue_names(settings)), "concurrency": settings.worker_concurrency}},
    )
    worker.start()
    raise SystemExit(worker.exitcode)


def run_beat(settings: Settings) -> None:
    _log_json(settings)
    settings.beat_schedule_file.parent.mkdir(parents=True, exist_ok=True)
    app = create_celery_app(settings)
    log.info("notify beat starting", extra={"fields": {"schedule_file": str(settings.beat_schedule_file)}})
    app.Beat(schedule=str(settings.beat_schedule_file), loglevel=settings.log_level, quiet=True).run()
