"""Reading an action's body: one endpoint serves every transition, so its body is free-form
JSON, read here field by field. Each field is checked for its type and bounded (domain/limits.py),
so that bad input is a 422 naming the field, never a 500, and nothing oversized is stored."""

from enum import StrEnum
from typing import Any, TypeVar

from liaison_infra.domain_errors import InvalidInput

from liaison_cases.domain.limits import ID_LENGTH, is_id

E = TypeVar("E", bound=StrEnum)


def read_text(body: dict[str, Any], field: str, length: int) -> str:
    """The text ``field``, stripped: present, a string, at most ``length`` characters."""
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidInput("not_text", f"{field} must be a string", field=field)
    text = (value or "").strip()
    if not text:
        raise InvalidInput("required", f"{field} is required", field=field)
    if len(text) > length:
        raise InvalidInput("too_long", f"{field} must be at most {length} characters", field=field)
    return text


def read_optional_text(body: dict[str, Any], field: str, length: int) -> str | None:
    """Like ``read_text``, but null, absent or blank is no text."""
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return read_text(body, field, length)


def read_id(body: dict[str, Any], field: str) -> str:
    value = read_text(body, field, ID_LENGTH)
    if not is_id(value):
        raise InvalidInput("invalid_id", f"{field} must be an id (ASCII letters, digits, '.', '_', '-')", field=field)
    return value


def read_ids(body: dict[str, Any], field: str, most: int) -> list[str]:
    """A list of at most ``most`` ids (absent or null: none), stripped, each once."""
    values = body.get(field)
    values = [] if values is None else values
    fits = isinstance(values, list) and len(values) <= most
    if not fits or not all(isinstance(v, str) and is_id(v.strip()) for v in values):
        raise InvalidInput("invalid_ids", f"{field} must be a list of at most {most} ids", field=field)
    return list(dict.fromkeys(v.strip() for v in values))


def read_choice(body: dict[str, Any], field: str, choices: type[E]) -> E:
    value = read_text(body, field, ID_LENGTH)
    try:
        return choices(value)
    except ValueError as exc:
        allowed = ", ".join(choice.value for choice in choices)
        raise InvalidInput("invalid_choice", f"{field} must be one of {allowed}", field=field) from exc
