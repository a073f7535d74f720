"""Reminders (every stored message) and their delivery log, and the station's alerts, as the
API shows them: within the caller's scope, a deputy seeing only their own."""

from typing import Any

from liaison_infra.auth import Principal, Role, within
from liaison_infra.domain_errors import NotFound
from liaison_infra.mongo import Document
from pymongo import DESCENDING

from liaison_notify.adapters import deliveries_store, inbox_store, messages_store
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scope import stations_in_scope


async def _visible(notify: Notify, principal: Principal) -> dict[str, Any]:
    """Station staff, supervisors and auditors their stations' (a district's by its stations), an
    administrator all; a deputy alone, their own."""
    if principal.is_admin:
        return {}
    if principal.has_any(Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR, Role.AUDITOR):
        return {"station_id": {"$in": await stations_in_scope(notify.db, principal)}}
    return {"recipient_id": f"deputy:{principal.subject}"}


async def list_reminders(
    notify: Notify, principal: Principal, filters: dict[str, str | None], limit: int
) -> list[Document]:
    query = within(await _visible(notify, principal), filters)
    cursor = notify.db[messages_store.MESSAGES].find(query, sort=[("_id", DESCENDING)], limit=limit)
    return [document async for document in cursor]


async def delivery_log(notify: Notify, principal: Principal, message_id: str) -> Document:
    """A message with its claims (one per channel tried) and every attempt, oldest first."""
    message = await notify.db[messages_store.MESSAGES].find_one(
        {"_id": message_id, **await _visible(notify, principal)}
    )
    if message is None:
        raise NotFound("not_found", f"no reminder {message_id}")
    claims, attempts = await deliveries_store.of_message(notify.db, message)
    return {**message, "deliveries": claims, "attempts": attempts}


async def list_alerts(notify: Notify, principal: Principal, station_id: str | None, limit: int) -> list[Document]:
    if not principal.has_any(Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR, Role.AUDITOR):
        return []
    query = within(principal.scope_filter(), {"station_id": station_id})
    cursor = notify.db[inbox_store.ALERTS].find(query, sort=[("created_at", DESCENDING)], limit=limit)
    return [document async for document in cursor]
