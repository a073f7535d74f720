"""The cases HTTP API (port 8102)."""

from fastapi import FastAPI
from liaison_infra.runtime import Runtime
from liaison_infra.web import create_service_app

from liaison_cases.adapters import statistics_store
from liaison_cases.adapters.store import ensure_indexes
from liaison_cases.bootstrap import SPEC
from liaison_cases.config import Settings
from liaison_cases.domain.supervision import SupervisionPolicy
from liaison_cases.entrypoints import cases_api, directory_api, statistics_api, supervision_api
from liaison_cases.service_layer import statistics as figures
from liaison_cases.service_layer.context import Cases


def create_app(settings: Settings) -> FastAPI:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        await ensure_indexes(runtime.db)
        await statistics_store.ensure_indexes(runtime.db)
        policy = SupervisionPolicy(settings.supervision_red_working_days, settings.supervision_yellow_share)
        app.state.cases = Cases(runtime, policy=policy)
        await figures.upgrade_read_model(app.state.cases)
        app.state.statistics_min_cell = settings.statistics_min_cell

    return create_service_app(
        settings,
        SPEC,
        [cases_api.router, directory_api.router, statistics_api.router, supervision_api.router],
        title="Liaison cases: opinions, suggestions and requests",
        on_startup=start,
    )
