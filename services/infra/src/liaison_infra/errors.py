"""The one error shape every service answers with: ``{"error": {"code", "message", "field"}}``.

Handlers raise ``ApiError``; request validation failures become 422 naming each field, so a
client never has to parse prose and bad input never surfaces as a 500. What the framework refuses
itself (a body that is not JSON, a path or method that does not exist) answers in the same shape,
and the OpenAPI document describes it (``documented_errors``). JSON lets a text hold a lone
UTF-16 surrogate (``"\\ud800"``), which no store can take: wherever such a text reaches the store,
it is a 422 ``invalid_text``; an error that repeats it is written in ASCII escapes.
"""

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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


# What the framework refuses itself, named as the error body names it (not by the status's
# phrase, which changes between Python versions).
FRAMEWORK_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ErrorResponse(JSONResponse):
    """An error body in ASCII: it may repeat what the caller sent, lone surrogates included."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return ErrorResponse(exc.body(), status_code=exc.status, headers=headers)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [
            {
                # A body that is not JSON is located by its character offset, which is no field.
                "field": None
                if err["type"] == "json_invalid"
                else ".".join(str(part) for part in err["loc"][1:]) or None,
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
        return ErrorResponse(body, status_code=422)

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        error = ApiError(exc.status, exc.code, exc.message, field=exc.field, details=exc.details)
        return ErrorResponse(jsonable_encoder(error.body()), status_code=exc.status)

    async def concurrency_conflict(_: Request, exc: Exception) -> JSONResponse:
        body = ApiError(409, "concurrent_change", str(exc)).body()
        return ErrorResponse(body, status_code=409)

    async def refused_by_framework(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = FRAMEWORK_CODES.get(exc.status_code, f"http_{exc.status_code}")
        body = ApiError(exc.status_code, code, str(exc.detail)).body()
        return ErrorResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def invalid_text(_: Request, exc: Exception) -> JSONResponse:
        message = "a text holds a character no store can take (a lone UTF-16 surrogate such as \\ud800)"
        return ErrorResponse(ApiError(422, "invalid_text", message).body(), status_code=422)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(ConcurrencyConflict, concurrency_conflict)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, refused_by_framework)
    app.add_exception_handler(UnicodeEncodeError, invalid_text)


ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "what went wrong, for programs"},
                "message": {"type": "string", "description": "what went wrong, for people"},
                "field": {"type": ["string", "null"], "description": "the field it names, dotted"},
                "problems": {
                    "type": "array",
                    "description": "each field a request's validation refused (422 invalid_request)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": ["string", "null"], "description": "none: the body as a whole"},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            },
            "additionalProperties": True,  # details some refusals add (candidates, existing_id, …)
        }
    },
}
FRAMEWORK_SCHEMAS = ("HTTPValidationError", "ValidationError")


def documented_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with FastAPI's validation error body (which no response has) replaced
    by ``ERROR_SCHEMA``, which every error response has."""
    schemas = openapi.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in schemas:
        return openapi
    for name in FRAMEWORK_SCHEMAS:
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    documented: dict[str, Any] = _with_error_refs(openapi)
    return documented


def _with_error_refs(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("$ref") == "#/components/schemas/HTTPValidationError":
            return {"$ref": "#/components/schemas/Error"}
        return {key: _with_error_refs(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_with_error_refs(inner) for inner in value]
    return value
