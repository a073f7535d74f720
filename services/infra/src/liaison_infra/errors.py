"""The one error shape every service answers with: ``{"error": {"code", "message", "field"}}``.

Handlers raise ``ApiError``; request validation failures become 422 naming each field, so a
client never has to parse prose and bad input never surfaces as a 500.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from liaison_infra.domain_errors import DomainError
from liaison_infra.mongo import ConcurrencyConflict


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, **self.details}}


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {
                "field": ".".join(str(part) for part in err["loc"][1:]) or None,
                "message": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        body = {
            "error": {
                "code": "invalid_request",
                "message": problems[0]["message"] if problems else "invalid request",
                "field": problems[0]["field"] if problems else None,
                "problems": problems,
            }
        }
        return JSONResponse(body, status_code=422)

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        error = ApiError(exc.status, exc.code, exc.message, field=exc.field, details=exc.details)
        return JSONResponse(jsonable_encoder(error.body()), status_code=exc.status)

    async def concurrency_conflict(_: Request, exc: Exception) -> JSONResponse:
        body = ApiError(409, "concurrent_change", str(exc)).body()
        return JSONResponse(body, status_code=409)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(ConcurrencyConflict, concurrency_conflict)
    app.add_exception_handler(RequestValidationError, invalid_request)
