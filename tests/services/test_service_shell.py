"""Every service app: health, readiness, metrics, docs, authentication and correlation ids."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from liaison_infra.auth import Role
from liaison_infra.body_limit import MAX_BODY_BYTES
from liaison_infra.service import installed_services
from liaison_infra.tokens import ensure_key_pair, issue_token
from liaison_records.service_layer.imports import MAX_FILE_BYTES

from tests.apps import own_database, serve, service_settings

SERVICES = ("records", "cases", "notify")


@pytest.fixture(params=SERVICES)
async def client(request, endpoints, keys) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(request.param, service_settings(request.param, endpoints, keys)) as http:
        yield http


def token(keys, **claims) -> str:
    claims.setdefault("subject", "u1")
    claims.setdefault("roles", [Role.STATION_STAFF])
    return issue_token(keys[0].read_bytes(), **claims)


async def test_installed_services_are_the_three() -> None:
    assert tuple(sorted(installed_services())) == tuple(sorted(SERVICES))


async def test_health_readiness_and_metrics_need_no_token(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"mongodb": True, "kafka": True}}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "liaison_http_requests_total" in metrics.text
    assert (await client.get("/openapi.json")).json()["info"]["title"].startswith("Liaison")


async def test_what_the_framework_refuses_answers_in_the_one_error_shape_the_docs_describe(client, keys) -> None:
    """A path or a method that does not exist: the same ``error`` body as every refusal, and the
    OpenAPI document shows that body, not FastAPI's own."""
    headers = {"Authorization": f"Bearer {token(keys, stations=['st-1'])}"}
    nowhere = await client.get("/v1/nowhere", headers=headers)
    wrong_method = await client.delete("/healthz")
    for response, status, code in ((nowhere, 404, "not_found"), (wrong_method, 405, "method_not_allowed")):
        assert response.status_code == status and response.json()["error"]["code"] == code, response.text
    assert wrong_method.headers["Allow"] == "GET"
    docs = (await client.get("/openapi.json")).json()
    schemas = docs["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and schemas["Error"]["required"] == ["error"]
    problem = schemas["Error"]["properties"]["error"]["properties"]["problems"]["items"]["properties"]
    assert problem["field"]["type"] == ["string", "null"], "a problem of the body as a whole names no field"
    assert "HTTPValidationError" not in str(docs["paths"]) and "#/components/schemas/Error" in str(docs["paths"])
    assert "text/plain" in docs["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


# A path of each service that takes a JSON body, and its method.
SENT = {
    "records": ("POST", "/v1/people"),
    "cases": ("POST", "/v1/cases"),
    "notify": ("PUT", "/v1/stations/st-1/contacts"),
}


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(endpoints, keys, unique) -> None:
    """A JSON body is parsed whole before it is checked: one over ``MAX_BODY_BYTES`` is a 413 in
    the one error shape, whether its length is declared or it arrives in chunks."""
    headers = {"Authorization": f"Bearer {token(keys, stations=['st-1'])}", "Content-Type": "application/json"}
    oversized = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 65536):
            yield oversized[start : start + 65536]

    for name, (method, path) in SENT.items():
        async with own_database(name, endpoints, keys, unique) as http:
            for body in (oversized, chunked()):
                refused = await http.request(method, path, content=body, headers=headers)
                assert refused.status_code == 413 and refused.json()["error"]["code"] == "too_large", refused.text
    # A roster import takes a workbook of up to 50 MB, and no more.
    async with own_database("records", endpoints, keys, unique) as records:
        workbook = {**headers, "Content-Type": "application/octet-stream"}
        taken = await records.post("/v1/imports?station_id=st-1", content=oversized, headers=workbook)
        assert taken.status_code != 413, taken.text
        too_big = await records.post(
            "/v1/imports?station_id=st-1", content=b"x" * (MAX_FILE_BYTES + 1), headers=workbook
        )
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "too_large", too_big.text


async def test_readiness_fails_when_kafka_does_not_answer(endpoints, keys) -> None:
    from socket import socket

    with socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{unused.getsockname()[1]}"
    async with serve("records", service_settings("records", endpoints, keys, kafka_bootstrap_servers=dead)) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"mongodb": True, "kafka": False}


async def test_a_valid_token_is_accepted_and_the_correlation_id_comes_back(client, keys) -> None:
    response = await client.get(
        "/v1/me",
        headers={"Authorization": f"Bearer {token(keys, stations=['st-1'])}", "X-Correlation-ID": "corr-42"},
    )
    assert response.status_code == 200
    assert response.json()["stations"] == ["st-1"]
    assert response.headers["X-Correlation-ID"] == "corr-42"


@pytest.mark.parametrize(
    ("make_header", "code"),
    [
        (lambda keys: None, "missing_token"),
        (lambda keys: f"Bearer {token(keys, ttl=timedelta(seconds=-5))}", "token_expired"),
        (lambda keys: f"Bearer {token_signed_by_a_stranger()}", "invalid_token"),
        (lambda keys: "Bearer not-a-jwt", "invalid_token"),
        (lambda keys: f"Bearer {token(keys, audience='someone-else')}", "invalid_token"),
    ],
)
async def test_bad_tokens_are_refused_with_401(client, keys, make_header, code) -> None:
    header = make_header(keys)
    response = await client.get("/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.headers["WWW-Authenticate"] == "Bearer"


def token_signed_by_a_stranger() -> str:
    import tempfile

    with tempfile.TemporaryDirectory() as other:
        private, _ = ensure_key_pair(Path(other))
        return issue_token(private.read_bytes(), subject="intruder", roles=[Role.ADMIN])
