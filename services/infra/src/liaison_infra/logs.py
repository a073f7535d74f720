"""JSON logs that carry the correlation id of the request or event being handled.

The id lives in a context variable: the HTTP middleware sets it from ``X-Correlation-ID``,
the outbox copies it into every envelope, and the consumer runner restores it from the
envelope, so one id follows a request through every event it causes.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from uuid import uuid4

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> str:
    """The id of the work in hand, or a fresh one for work that starts here."""
    value = correlation_id.get()
    if value is None:
        value = uuid4().hex
        correlation_id.set(value)
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": correlation_id.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "pymongo", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
