"""The FastAPI shell every service shares: lifespan, health, readiness, metrics, correlation
ids, the error shape and authentication. A service adds its routers and nothing else."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from liaison_infra.auth import Authenticator, CurrentPrincipal
from liaison_infra.body_limit import BodyLimit
from liaison_infra.errors import documented_errors, install_error_handlers
from liaison_infra.logs import configure_logging, correlation_id
from liaison_infra.runtime import Runtime
from liaison_infra.service import ServiceSpec
from liaison_infra.settings import ServiceSettings

CORRELATION_HEADER = "X-Correlation-ID"


def create_service_app(
    settings: ServiceSettings,
    spec: ServiceSpec,
    routers: Sequence[APIRouter] = (),
    *,
    title: str,
    on_startup: Callable[[FastAPI, Runtime], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
    larger_bodies: Mapping[str, int] | None = None,
) -> FastAPI:
    """Build the app; connections open in the lifespan, never at import or construction.

    ``on_startup`` runs before the first request, ``on_shutdown`` after the last (before the
    connections close). ``larger_bodies`` gives the paths that take a body larger than
    ``MAX_BODY_BYTES`` their limit (``BodyLimit``)."""
    configure_logging(settings.service_name, settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, spec)
        app.state.runtime = runtime
        app.state.authenticator = Authenticator.from_file(
            settings.jwt_public_key_file, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        )
        try:
            if on_startup is not None:
                await on_startup(app, runtime)
            yield
            if on_shutdown is not None:
                await on_shutdown(app)
        finally:
            await runtime.close()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    install_error_handlers(app)
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = documented_errors(framework_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, larger=larger_bodies or {})

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = correlation_id.set(request.headers.get(CORRELATION_HEADER) or None)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            runtime: Runtime | None = getattr(request.app.state, "runtime", None)
            if runtime is not None:
                runtime.metrics.http_seconds.labels(request.method, path).observe(time.perf_counter() - started)
        if runtime is not None:
            runtime.metrics.http_requests.labels(request.method, path, str(response.status_code)).inc()
        current = correlation_id.get()
        if current:
            response.headers[CORRELATION_HEADER] = current
        correlation_id.reset(token)
        return response

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> JSONResponse:
        checks = await request.app.state.runtime.readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/me", tags=["access"])
    async def me(principal: CurrentPrincipal) -> dict[str, object]:
        """The caller as the service sees them: roles and the scopes they may read."""
        return {
            "subject": principal.subject,
            "roles": sorted(principal.roles),
            "stations": sorted(principal.stations),
            "districts": sorted(principal.districts),
            "department": principal.department,
        }

    for router in routers:
        app.include_router(router)
    return app
