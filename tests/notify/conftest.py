"""Fixtures of the modules that run a real Celery worker; each module defines its own ``settings``."""

from collections.abc import Iterator

import pytest
from celery import Celery
from liaison_infra.harness.processes import ManagedProcess
from liaison_notify.entrypoints.celery_app import create_celery_app

from tests.notify.celery_worker import running_worker


@pytest.fixture(scope="module")
def worker(settings, tmp_path_factory) -> Iterator[ManagedProcess]:
    """One worker process for the module, on the module's settings."""
    with running_worker(settings, tmp_path_factory.mktemp("notify-worker")) as process:
        yield process


@pytest.fixture(scope="module")
def celery(settings, worker) -> Celery:
    """The app that sends to that worker."""
    return create_celery_app(settings)
