"""The cases service as tests run it beside the servers: on its own database, or on the bus
with records."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from liaison_cases.adapters.statistics_store import ensure_indexes as ensure_statistics_indexes
from liaison_cases.adapters.store import ensure_indexes
from liaison_cases.service_layer.context import Cases
from liaison_infra.harness.servers import Endpoints
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services

from tests.apps import bus_settings, service_settings


@asynccontextmanager
async def cases_service(
    endpoints: Endpoints, keys: tuple[Path, Path], unique: str, **options: Any
) -> AsyncIterator[Cases]:
    """The service layer on a database of its own with the indexes the API makes at start-up."""
    settings = service_settings("cases", endpoints, keys, mongodb_database=f"cases_{unique}")
    runtime = Runtime(settings, installed_services()["cases"].spec)
    await ensure_indexes(runtime.db)
    await ensure_statistics_indexes(runtime.db)
    try:
        yield Cases(runtime, **options)
    finally:
        await runtime.close()


def records_and_cases(endpoints: Endpoints, keys: tuple[Path, Path], unique: str) -> tuple[Any, Any, Runtime, Runtime]:
    """Settings and runtimes of records and of a cases consumer group of this test's own."""
    records_settings = bus_settings("records", endpoints, keys, unique)
    cases_settings = bus_settings("cases", endpoints, keys, unique, service_name=f"cases-{unique}")
    services = installed_services()
    records_runtime = Runtime(records_settings, services["records"].spec)
    return records_settings, cases_settings, records_runtime, Runtime(cases_settings, services["cases"].spec)
