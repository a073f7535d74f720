"""/v1/inbox: my in-app messages, marking one read, and a server-sent events stream of new ones."""

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_notify.entrypoints.dependencies import NotifyDep
from liaison_notify.entrypoints.reminders_api import view
from liaison_notify.service_layer import inbox

router = APIRouter(prefix="/v1", tags=["inbox"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/inbox")
async def my_inbox(principal: CurrentPrincipal, notify: NotifyDep, limit: Limit = 50) -> list[Document]:
    """Newest first: a deputy's own items; station staff's station inboxes; a supervisor's district's."""
    return [view(item) for item in await inbox.my_items(notify, principal, limit)]


@router.post("/inbox/{item_id}/read", status_code=204)
async def mark_read(item_id: str, principal: CurrentPrincipal, notify: NotifyDep) -> Response:
    await inbox.mark_read(notify, principal, item_id)
    return Response(status_code=204)


@router.get("/inbox/stream", response_class=StreamingResponse)
async def stream(request: Request, principal: CurrentPrincipal, notify: NotifyDep) -> StreamingResponse:
    """Server-sent events (``text/event-stream``): an ``inbox`` event for each new item, a comment
    line while nothing happens."""
    items = await inbox.new_items(notify, principal, notify.settings.inbox_heartbeat_seconds)

    async def events() -> AsyncIterator[str]:
        async for item in items:
            if await request.is_disconnected():
                return
            if item is None:
                yield ": still here\n\n"
            else:
                data = json.dumps(jsonable_encoder(view(item)), ensure_ascii=False)
                yield f"id: {item['_id']}\nevent: inbox\ndata: {data}\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
