"""Cursor pages over sorted MongoDB streams: the opaque cursor a client passes back, and several
streams sorted on the same unique key read as one."""

import base64
from collections.abc import AsyncGenerator
from typing import Any

from liaison_infra.domain_errors import InvalidInput
from liaison_infra.mongo import Document


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_cursor(cursor: str, within: str = "") -> str:
    """The key a page ended at; every key this service pages by holds a ``|``. A list whose keys
    share a prefix (``within``) takes only a cursor of its own: another would move its range
    over other lists' keys."""
    try:
        key = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError as exc:
        raise InvalidInput("invalid_cursor", "the cursor is not one this service gave", field="cursor") from exc
    if "|" not in key or not key.startswith(within):
        raise InvalidInput("invalid_cursor", "the cursor is not one this service gave", field="cursor")
    return key


async def merged(streams: list[Any], field: str, direction: int) -> AsyncGenerator[Document]:
    """The documents of several streams sorted on the same unique ``field``, in one order, each
    once (a case in two of the caller's scopes comes from both); the streams are closed at the end."""
    try:
        iterators = [stream.__aiter__() for stream in streams]
        heads = [await anext(iterator, None) for iterator in iterators]
        last = None
        while any(head is not None for head in heads):
            candidates = [(head[field], i) for i, head in enumerate(heads) if head is not None]
            _, i = min(candidates) if direction > 0 else max(candidates)
            document, heads[i] = heads[i], await anext(iterators[i], None)
            if document is not None and document[field] != last:
                last = document[field]
                yield document
    finally:
        for stream in streams:
            await stream.close()
