"""The records HTTP API (port 8101)."""

import asyncio

from fastapi import FastAPI
from liaison_infra.pii import Keyring
from liaison_infra.runtime import Runtime
from liaison_infra.web import create_service_app

from liaison_records.adapters.indexes import ensure_indexes
from liaison_records.adapters.people_index import PeopleIndex
from liaison_records.adapters.people_store import PeopleCodec
from liaison_records.bootstrap import SPEC
from liaison_records.config import Settings
from liaison_records.entrypoints import (
    consents_api,
    deputies_api,
    households_api,
    imports_api,
    logs_api,
    people_api,
    stations_api,
)
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.elderly import follow_birthdays
from liaison_records.service_layer.imports import MAX_FILE_BYTES, expire_uploads, finish_commits
from liaison_records.service_layer.key_rotation import reseal


def create_app(settings: Settings) -> FastAPI:
    async def start(app: FastAPI, runtime: Runtime) -> None:
        await ensure_indexes(runtime.db)
        people_index = PeopleIndex(runtime.db)
        await people_index.catch_up()  # loads every file's search facts before the first request
        records = Records(runtime, PeopleCodec(Keyring.from_file(settings.pii_keyring_file)), people_index)
        app.state.records = records
        # Following the files for search; after a key rotation, sealing them again under the new key;
        # deleting the workbooks of imports left uncommitted too long; finishing imports' commits
        # a stopped process left half-way; announcing households whose member turned elderly.
        background = (
            people_index.follow(),
            reseal(records),
            expire_uploads(records),
            finish_commits(records),
            follow_birthdays(records),
        )
        app.state.background = [asyncio.create_task(work) for work in background]

    async def stop(app: FastAPI) -> None:
        for task in app.state.background:
            task.cancel()
        await asyncio.gather(*app.state.background, return_exceptions=True)

    return create_service_app(
        settings,
        SPEC,
        [
            stations_api.router,
            people_api.router,
            consents_api.router,
            deputies_api.router,
            households_api.router,
            logs_api.router,
            imports_api.router,
        ],
        title="Liaison records: returnee files, households, deputies, visits",
        on_startup=start,
        on_shutdown=stop,
        larger_bodies={"/v1/imports": MAX_FILE_BYTES},
    )
