from collections.abc import AsyncIterator

import httpx
import pytest
from liaison_infra.auth import Role

from tests.apps import own_database


@pytest.fixture
async def records(endpoints, keys, unique) -> AsyncIterator[httpx.AsyncClient]:
    async with own_database("records", endpoints, keys, unique) as client:
        yield client


@pytest.fixture
async def station(records, caller) -> str:
    """A region → city → district → station chain; returns the station id (st-shengli)."""
    admin = caller(Role.ADMIN)
    for unit in (
        {"id": "r-guangxi", "level": "region", "name": "广西壮族自治区"},
        {"id": "c-liuzhou", "level": "city", "name": "柳州市", "parent_id": "r-guangxi"},
        {"id": "d-yufeng", "level": "district", "name": "鱼峰区", "parent_id": "c-liuzhou"},
        {"id": "st-shengli", "level": "station", "name": "胜利社区联络站", "parent_id": "d-yufeng"},
        {"id": "st-other", "level": "station", "name": "其他联络站", "parent_id": "d-yufeng"},
    ):
        response = await records.post("/v1/stations", json=unit, headers=admin)
        assert response.status_code == 201, response.text
    return "st-shengli"
