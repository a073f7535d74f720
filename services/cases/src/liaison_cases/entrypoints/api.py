"""The cases HTTP API (port 8102)."""

from fastapi import FastAPI
from liaison_infra.runtime import Runtime
from liaison_infra.web import create_service_app

from liaison_cases.adapters.store import ensure_indexes
from liaison_cases.bootstrap import SPEC
from liaison_cases.config import Settings
from liaison_cases.entrypoints import cases_api, directory_api
from liaison_cases.service_layer.context import Cases


def create_app(settings: Settings) -> FastAPI:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        await ensure_indexes(runtime.db)
        app.state.cases = Cases(runtime)

    return create_service_app(
        settings,
        SPEC,
        [cases_api.router, directory_api.router],
        title="Liaison cases: opinions, suggestions and requests",
        on_startup=start,
    )
