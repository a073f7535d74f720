"""One service process's connections and workers, opened the same way by every entrypoint.

A service describes itself with a ``ServiceSpec`` (what it publishes, what it consumes);
``Runtime`` turns that plus its settings into the MongoDB client, the relay and the
consumer runner, so the service packages hold business logic only.
"""

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import start_http_server
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from liaison_infra.consumer import ConsumerRunner
from liaison_infra.logs import configure_logging
from liaison_infra.metrics import Metrics
from liaison_infra.mongo import Document, Transaction, connect, ensure_outbox_indexes, run_in_transaction
from liaison_infra.relay import OutboxRelay
from liaison_infra.service import ServiceSpec
from liaison_infra.settings import ServiceSettings

T = TypeVar("T")


class Worker(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


class Runtime:
    def __init__(self, settings: ServiceSettings, spec: ServiceSpec) -> None:
        self.settings = settings
        self.spec = spec
        self.client: AsyncMongoClient[Document] = connect(settings.mongodb_url)
        self.db: AsyncDatabase[Document] = self.client[settings.mongodb_database]
        self.metrics = Metrics(settings.service_name)
        self._outbox_exists = False

    async def close(self) -> None:
        await self.client.close()

    async def transaction(self, work: Callable[[Transaction], Awaitable[T]]) -> T:
        if not self._outbox_exists:
            await ensure_outbox_indexes(self.db)
            self._outbox_exists = True
        return await run_in_transaction(self.client, self.db, self.settings.service_name, work)

    def relay(self) -> OutboxRelay:
        return OutboxRelay(self.settings, self.db, self.spec.published_topics, self.metrics)

    def consumer(self) -> ConsumerRunner:
        return ConsumerRunner(
            self.settings,
            self.client,
            self.db,
            self.metrics,
            self.spec,
        )

    async def readiness(self) -> dict[str, bool]:
        """Whether this service's MongoDB and Kafka answer, each within two seconds."""
        return {"mongodb": await _answers(self._ping_mongodb()), "kafka": await _answers(self._ping_kafka())}

    async def _ping_mongodb(self) -> None:
        await self.db.command("ping")

    async def _ping_kafka(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap_servers, request_timeout_ms=2000)
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()


async def _answers(probe: Awaitable[None]) -> bool:
    try:
        await asyncio.wait_for(probe, timeout=2.0)
    except Exception:
        return False
    return True


def run_worker(
    settings: ServiceSettings, spec: ServiceSpec, build: Callable[[Runtime], Worker], *, metrics_port: int = 0
) -> None:
    """Run one long-lived worker (relay or consumer) until SIGTERM or SIGINT, then stop cleanly.

    With a ``metrics_port`` its Prometheus metrics (backlog, lag, dead letters) are served there.
    """
    configure_logging(settings.service_name, settings.log_level)

    async def main() -> None:
        runtime = Runtime(settings, spec)
        if metrics_port:
            start_http_server(metrics_port, addr=settings.http_host, registry=runtime.metrics.registry)
        worker = build(runtime)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        try:
            await worker.run()
        finally:
            await runtime.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
