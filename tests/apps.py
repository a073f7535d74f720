"""Service apps under test: each on its own database, with tokens signed by the test key pair."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiokafka.structs import ConsumerRecord
from asgi_lifespan import LifespanManager
from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.harness.servers import Endpoints
from liaison_infra.pii import ensure_keyring_file
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services, load_app_factory
from liaison_infra.tokens import issue_token


def service_settings(name: str, endpoints: Endpoints, keys: tuple[Path, Path], **overrides: Any) -> Any:
    definition = installed_services()[name]
    values = {
        "mongodb_url": endpoints.mongodb_url,
        "kafka_bootstrap_servers": endpoints.kafka_bootstrap_servers,
        "redis_url": endpoints.redis_url,
        "jwt_public_key_file": keys[1],
        "pii_keyring_file": ensure_keyring_file(keys[1].parent / "pii-keyring.json"),
        **overrides,
    }
    return definition.settings.model_validate(values)


# asgi_lifespan's default is 5 s. Records' shutdown (cancelling its background work, closing its
# clients) took longer twice in ten runs of the whole suite on 2 cores, never when run alone; the
# cause is not found. A shutdown that hangs still fails the test.
LIFESPAN_SECONDS = 30


@asynccontextmanager
async def serve(name: str, settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = load_app_factory(installed_services()[name])(settings)
    async with (
        LifespanManager(app, startup_timeout=LIFESPAN_SECONDS, shutdown_timeout=LIFESPAN_SECONDS) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://test") as client,
    ):
        yield client


async def consume(runtime: Runtime, event: Envelope) -> None:
    """Hand ``event`` to the service's consumer (inbox, reader model, handler, one transaction)
    as if Kafka had delivered it."""
    subscription = runtime.spec.subscription_for(event.type)
    assert subscription is not None, event.type
    raw = event.to_bytes()
    record = ConsumerRecord(subscription.topic, 0, 0, 0, 0, event.subject.encode(), raw, None, 0, len(raw), [])
    await runtime.consumer().apply(record)


def bus_settings(name: str, endpoints: Endpoints, keys: tuple[Path, Path], unique: str, **overrides: Any) -> Any:
    """Settings for a test through the real bus: the test's own database, quick broker checks."""
    return service_settings(
        name, endpoints, keys, mongodb_database=f"{name}_{unique}", broker_check_seconds=0.5, **overrides
    )


async def add_station(records: httpx.AsyncClient, admin: dict[str, str], station: str) -> None:
    """A station in records with its district, city and region above it."""
    for unit in (
        {"id": "r-1", "level": "region", "name": "区"},
        {"id": "c-1", "level": "city", "name": "市", "parent_id": "r-1"},
        {"id": "d-1", "level": "district", "name": "县", "parent_id": "c-1"},
        {"id": station, "level": "station", "name": "站", "parent_id": "d-1"},
    ):
        assert (await records.post("/v1/stations", json=unit, headers=admin)).status_code == 201


def own_database(name: str, endpoints: Endpoints, keys: tuple[Path, Path], unique: str) -> Any:
    """The service's app on a database of the test's own."""
    return serve(name, service_settings(name, endpoints, keys, mongodb_database=f"{name}_{unique}"))


class Caller:
    """Makes bearer headers for a role and scope, signed with the test key pair."""

    def __init__(self, keys: tuple[Path, Path]) -> None:
        self.private_key = keys[0].read_bytes()

    def __call__(
        self,
        role: Role = Role.STATION_STAFF,
        *,
        stations: tuple[str, ...] = (),
        districts: tuple[str, ...] = (),
        subject: str = "staff-1",
        department: str | None = None,
    ) -> dict[str, str]:
        token = issue_token(
            self.private_key,
            subject=subject,
            roles=[role],
            stations=stations,
            districts=districts,
            department=department,
        )
        return {"Authorization": f"Bearer {token}"}
