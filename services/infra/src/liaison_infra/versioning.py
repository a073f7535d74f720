"""Optimistic concurrency over HTTP: reads send the version as an ETag, changes send it back
in If-Match; a change without it is refused (428), one based on an old read gets 412."""

from typing import Annotated, Any

from fastapi import Depends, Header, Response

from liaison_infra.domain_errors import InvalidInput, PreconditionRequired, StaleVersion


def expected_version(if_match: Annotated[str | None, Header()] = None) -> int:
    """The version a change was based on, from ``If-Match: "3"`` (the ETag of the read)."""
    if if_match is None:
        raise PreconditionRequired("if_match_required", "send If-Match with the ETag you read", field="If-Match")
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise InvalidInput("invalid_if_match", "If-Match must be an ETag this service gave", field="If-Match") from exc


ExpectedVersion = Annotated[int, Depends(expected_version)]


def with_etag(response: Response, document: dict[str, Any]) -> dict[str, Any]:
    """Send the document's version as its ETag, for the If-Match of the next change."""
    response.headers["ETag"] = f'"{document["version"]}"'
    return document


def check_version(document_id: str, current_version: int, expected_version: int) -> None:
    """Refuse a change based on an old read (If-Match); nothing is written."""
    if current_version != expected_version:
        raise StaleVersion(
            "stale_version",
            f"{document_id} is at version {current_version}, not {expected_version}; reload and try again",
            details={"current_version": current_version},
        )
