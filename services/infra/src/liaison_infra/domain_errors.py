"""Errors a service's domain raises, mapped once to HTTP by the shared app shell.

They carry a machine-readable code and the field at fault, so bad input is answered with a
4xx that names what to fix; the domain stays free of HTTP.
"""

from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(
        self, code: str, message: str, *, field: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}


class InvalidInput(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request contradicts stored state (a duplicate, an illegal transition)."""

    status = 409


class StaleVersion(DomainError):
    """The caller's If-Match version is not the stored one; nothing was written."""

    status = 412


class PreconditionRequired(DomainError):
    """A change must say which version it was based on (If-Match)."""

    status = 428


class Forbidden(DomainError):
    status = 403
