"""The in-app inbox as its readers see it: whose items a caller reads, marking them read, and
the stream of new ones.

A deputy reads ``deputy:<own id>``, station staff the inbox of each station they serve
(``station_head:<station>``, where alerts land too), a district supervisor ``district:<id>``.
The stream follows MongoDB's change stream on the inbox (SecantusDB has them, single node,
oplog-backed): an item is pushed once, in commit order, with nothing missed between polls.
SecantusDB shows a change on the stream's next getMore, not to one already waiting, so the wait
(the heartbeat) is kept short.
"""

from collections.abc import AsyncIterator

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import NotFound
from liaison_infra.mongo import Document

from liaison_notify.adapters import inbox_store
from liaison_notify.service_layer.context import Notify


def owners(principal: Principal) -> list[str]:
    """The recipient ids whose inbox the caller reads."""
    mine = [f"deputy:{principal.subject}"] if Role.DEPUTY in principal.roles else []
    if principal.has_any(Role.STATION_STAFF):
        mine += [f"station_head:{station}" for station in sorted(principal.stations)]
    if principal.has_any(Role.DISTRICT_SUPERVISOR):
        mine += [f"district:{district}" for district in sorted(principal.districts)]
    return mine


async def my_items(notify: Notify, principal: Principal, limit: int) -> list[Document]:
    return await inbox_store.items_of(notify.db, owners(principal), after=None, limit=limit)


async def mark_read(notify: Notify, principal: Principal, item_id: str) -> None:
    if not await inbox_store.mark_read(notify.db, item_id, owners(principal), notify.clock()):
        raise NotFound("not_found", f"no inbox item {item_id}")


async def new_items(notify: Notify, principal: Principal, heartbeat_seconds: float) -> AsyncIterator[Document | None]:
    """Each item stored for the caller from now on, as it is stored; None after every quiet
    ``heartbeat_seconds`` (so the caller can keep the connection alive and notice it closed).

    The change stream is open when this returns, so nothing stored after the call is missed.
    """
    match = {"operationType": "insert", "fullDocument.recipient_id": {"$in": owners(principal)}}
    wait_ms = int(heartbeat_seconds * 1000)
    stream = await notify.db[inbox_store.INBOX].watch([{"$match": match}], max_await_time_ms=wait_ms)

    async def follow() -> AsyncIterator[Document | None]:
        async with stream:
            while True:
                change = await stream.try_next()
                yield None if change is None else change["fullDocument"]

    return follow()
