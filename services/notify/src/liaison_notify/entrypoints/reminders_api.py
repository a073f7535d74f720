"""/v1/reminders and their delivery log; /v1/alerts, what the station must look at (recipients
nobody could reach, sends whose outcome is unknown). Scope enforced: out of scope is not found."""

from typing import Annotated

from fastapi import APIRouter, Query
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document

from liaison_notify.entrypoints.dependencies import NotifyDep
from liaison_notify.service_layer import reminders

router = APIRouter(prefix="/v1", tags=["reminders"])
Limit = Annotated[int, Query(ge=1, le=500)]


def view(document: Document) -> Document:
    """A stored document as the API shows it: ``id`` for ``_id``."""
    return {"id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}


@router.get("/alerts")
async def alerts(
    principal: CurrentPrincipal, notify: NotifyDep, station_id: str | None = None, limit: Limit = 100
) -> list[Document]:
    return [view(alert) for alert in await reminders.list_alerts(notify, principal, station_id, limit)]


@router.get("/reminders")
async def list_reminders(
    principal: CurrentPrincipal,
    notify: NotifyDep,
    station_id: str | None = None,
    status: str | None = Query(default=None, pattern="^(pending|sent|dropped|failed)$"),
    recipient_id: str | None = None,
    limit: Limit = 100,
) -> list[Document]:
    filters = {"station_id": station_id, "status": status, "recipient_id": recipient_id}
    return [view(message) for message in await reminders.list_reminders(notify, principal, filters, limit)]


@router.get("/reminders/{message_id}/deliveries")
async def delivery_log(message_id: str, principal: CurrentPrincipal, notify: NotifyDep) -> Document:
    """The reminder, a claim per channel tried and every attempt with the provider's answer."""
    log = await reminders.delivery_log(notify, principal, message_id)
    return {
        **view(log),
        "deliveries": [view(d) for d in log["deliveries"]],
        "attempts": [view(a) for a in log["attempts"]],
    }
