"""Scope rules: a caller sees only their stations or districts, and the rest does not exist."""

from datetime import timedelta

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from liaison_infra.auth import Authenticator, CurrentPrincipal, Principal, Role, require_station
from liaison_infra.errors import ApiError, install_error_handlers
from liaison_infra.tokens import issue_token


def station_app(keys) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.authenticator = Authenticator(keys[1].read_bytes(), issuer="liaison", audience="liaison")
    router = APIRouter()

    @router.get("/v1/stations/{station_id}")
    async def station(station_id: str, principal: CurrentPrincipal) -> dict[str, str]:
        require_station(principal, station_id, district_id=f"d-of-{station_id}")
        return {"station_id": station_id}

    app.include_router(router)
    return app


async def get(keys, path: str, **claims) -> httpx.Response:
    token = issue_token(keys[0].read_bytes(), subject="u", **claims)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=station_app(keys)), base_url="http://t") as http:
        return await http.get(path, headers={"Authorization": f"Bearer {token}"})


async def test_a_token_for_another_station_is_answered_as_not_found(keys) -> None:
    mine = await get(keys, "/v1/stations/st-1", roles=[Role.STATION_STAFF], stations=["st-1"])
    assert mine.status_code == 200
    theirs = await get(keys, "/v1/stations/st-2", roles=[Role.STATION_STAFF], stations=["st-1"])
    assert theirs.status_code == 404
    assert theirs.json() == {"error": {"code": "not_found", "message": "no such station", "field": None}}


async def test_a_district_scope_covers_its_stations_and_admin_covers_all(keys) -> None:
    supervisor = await get(keys, "/v1/stations/st-9", roles=[Role.DISTRICT_SUPERVISOR], districts=["d-of-st-9"])
    assert supervisor.status_code == 200
    elsewhere = await get(keys, "/v1/stations/st-8", roles=[Role.DISTRICT_SUPERVISOR], districts=["d-of-st-9"])
    assert elsewhere.status_code == 404
    assert (await get(keys, "/v1/stations/st-8", roles=[Role.ADMIN])).status_code == 200


async def test_a_token_without_roles_is_forbidden(keys) -> None:
    response = await get(keys, "/v1/stations/st-1", roles=[], stations=["st-1"])
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "no_role"


def test_an_unknown_role_is_an_invalid_token(keys) -> None:
    import jwt

    forged = issue_token(keys[0].read_bytes(), subject="u", roles=[Role.DEPUTY], ttl=timedelta(minutes=1))
    claims = jwt.decode(forged, options={"verify_signature": False})
    claims["roles"] = ["emperor"]
    token = jwt.encode(claims, keys[0].read_bytes(), algorithm="EdDSA")
    with pytest.raises(ApiError) as refused:
        Authenticator(keys[1].read_bytes(), issuer="liaison", audience="liaison").verify(token)
    assert refused.value.status == 401


def test_a_principal_kept_as_its_claims_reads_back_the_same(keys) -> None:
    """What a service stores to act later on a caller's behalf (an import's commit) is the caller."""
    token = issue_token(keys[0].read_bytes(), subject="u", roles=[Role.STATION_STAFF], stations=["st-1"])
    caller = Authenticator(keys[1].read_bytes(), issuer="liaison", audience="liaison").verify(token)
    assert Principal.from_claims(caller.claims()) == caller
    handler = Principal("h", frozenset({Role.DEPARTMENT_HANDLER}), frozenset(), frozenset({"d-1"}), department="民政局")
    assert Principal.from_claims(handler.claims()) == handler


def test_scope_filter_keeps_only_the_callers_stations_and_districts() -> None:
    staff = Principal("u", frozenset({Role.STATION_STAFF}), frozenset({"st-2", "st-1"}), frozenset({"d-1"}))
    assert staff.scope_filter() == {
        "$or": [{"station_id": {"$in": ["st-1", "st-2"]}}, {"district_id": {"$in": ["d-1"]}}]
    }
    assert staff.can_see("st-1", None) and staff.can_see("st-7", "d-1") and not staff.can_see("st-7", "d-7")
    only_stations = Principal("u", frozenset({Role.STATION_STAFF}), frozenset({"st-1"}), frozenset())
    assert only_stations.scope_filter() == {"station_id": {"$in": ["st-1"]}}  # flat: served by an index
    admin = Principal("a", frozenset({Role.ADMIN}), frozenset(), frozenset())
    assert admin.scope_filter() == {} and admin.can_see("anything", None)
