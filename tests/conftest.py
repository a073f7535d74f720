"""Starts the real servers once per test run (or uses MONGODB_URL, KAFKA_BOOTSTRAP_SERVERS and
REDIS_URL when they are set) and gives each test its own database names and topics."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from liaison_infra.harness.servers import Endpoints, LocalServers
from liaison_infra.mongo import Document, connect
from liaison_infra.tokens import ensure_key_pair
from pymongo import AsyncMongoClient

from tests.apps import Caller


@pytest.fixture(scope="session")
def local_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServers]:
    servers = LocalServers(var=tmp_path_factory.mktemp("var"), persistent=False)
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def endpoints(local_servers: LocalServers) -> Endpoints:
    return local_servers.start()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def unique() -> str:
    """A short id that keeps one test's databases, topics and groups apart from the others."""
    return uuid4().hex[:10]


@pytest.fixture(scope="session")
async def mongo(endpoints: Endpoints) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = connect(endpoints.mongodb_url)
    yield client
    await client.close()


@pytest.fixture
def caller(keys: tuple[Path, Path]) -> Caller:
    """Bearer headers for a role and scope, signed with the test key pair."""
    return Caller(keys)
