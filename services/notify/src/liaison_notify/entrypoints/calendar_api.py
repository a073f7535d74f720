"""/v1/calendar: a deputy's private iCalendar feed (secret URL) and the rotation of its token."""

from fastapi import APIRouter, Response
from liaison_infra.auth import CurrentPrincipal
from pydantic import BaseModel

from liaison_notify.entrypoints.dependencies import NotifyDep
from liaison_notify.service_layer.calendar import calendar_feed, rotate_calendar_token

router = APIRouter(prefix="/v1/calendar", tags=["calendar"])


class FeedToken(BaseModel):
    token: str
    path: str  # where the feed is, relative to this service


@router.post("/token", status_code=201)
async def rotate(principal: CurrentPrincipal, notify: NotifyDep) -> FeedToken:
    """A new secret URL for the calling deputy's feed (shown once); the previous one stops working."""
    token = await rotate_calendar_token(notify, principal)
    return FeedToken(token=token, path=f"{router.prefix}/{token}.ics")


@router.get("/{token}.ics", response_class=Response)
async def feed(token: str, notify: NotifyDep) -> Response:
    """The feed itself: no bearer token, the secret in the URL is the credential."""
    body = await calendar_feed(notify, token)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "private, no-store"})
