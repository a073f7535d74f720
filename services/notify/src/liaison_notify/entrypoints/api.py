"""The notify HTTP API."""

from fastapi import FastAPI
from liaison_infra.runtime import Runtime
from liaison_infra.web import create_service_app

from liaison_notify.adapters.calendar_tokens_store import ensure_calendar_token_indexes
from liaison_notify.adapters.deliveries_store import fold_separate_attempts
from liaison_notify.adapters.delivery_indexes import ensure_delivery_indexes
from liaison_notify.adapters.duties_store import upgrade_release_state
from liaison_notify.adapters.duty_indexes import ensure_duties_indexes
from liaison_notify.bootstrap import SPEC
from liaison_notify.config import Settings
from liaison_notify.entrypoints import calendar_api, duties_api, inbox_api, recipients_api, reminders_api, rules_api
from liaison_notify.service_layer.context import Notify


def create_app(settings: Settings) -> FastAPI:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        await ensure_calendar_token_indexes(runtime.db)
        await ensure_duties_indexes(runtime.db)
        await ensure_delivery_indexes(runtime.db)
        await fold_separate_attempts(runtime)
        notify = app.state.notify = Notify(runtime)
        await upgrade_release_state(runtime.db, notify.clock())

    return create_service_app(
        settings,
        SPEC,
        [
            calendar_api.router,
            recipients_api.router,
            inbox_api.router,
            reminders_api.router,
            duties_api.router,
            rules_api.router,
        ],
        title="Liaison notify: duties and reminders",
        on_startup=start,
    )
