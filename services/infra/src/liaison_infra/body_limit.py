"""A request body over its limit is refused with 413, in the one error shape, before the API
reads it whole: a JSON body is parsed whole before anything checks it, so an unbounded one could
take an API's memory. A declared length is judged at once, a chunked body as it arrives."""

from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from liaison_infra.errors import FRAMEWORK_CODES, ApiError, ErrorResponse

# Every JSON body a service takes is far smaller; a route that takes a file sets its own limit.
MAX_BODY_BYTES = 1024 * 1024


class BodyLimit:
    """``MAX_BODY_BYTES``, or the limit ``larger`` gives the request's path."""

    def __init__(self, app: ASGIApp, larger: Mapping[str, int]) -> None:
        self.app = app
        self.larger = dict(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], MAX_BODY_BYTES)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            body = ApiError(413, FRAMEWORK_CODES[413], _over(limit)).body()
            await ErrorResponse(body, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, _over(limit))  # answered by the framework's handler, in the one shape
            return message

        await self.app(scope, counted, send)


def _over(limit: int) -> str:
    return f"the request body is over {limit:,} bytes"
