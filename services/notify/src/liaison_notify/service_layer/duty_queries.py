"""Which duties a caller may see: a deputy their own, station staff their stations', a district
supervisor their districts'; anyone else is answered as if there were none."""

from liaison_infra.auth import Principal, Role, within
from liaison_infra.domain_errors import NotFound
from liaison_infra.mongo import Document

from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scope import stations_in_scope

SUPERVISING = (Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR)


async def visible(notify: Notify, principal: Principal) -> Document:
    """The filter that keeps a caller to their own scope."""
    if principal.is_admin:
        return {}
    if principal.has_any(*SUPERVISING):
        return {"station_id": {"$in": await stations_in_scope(notify.db, principal)}}
    if Role.DEPUTY in principal.roles:
        return {"deputy_id": principal.subject}
    raise NotFound("not_found", "no duties")


def view(document: Document) -> Document:
    view = {"id": document["_id"], **{k: v for k, v in document.items() if k != "_id"}}
    view["reminders"] = [reminder["occurrence"] for reminder in document["reminders"]]
    return view


async def list_duties(
    notify: Notify, principal: Principal, filters: dict[str, str | None], *, limit: int
) -> list[Document]:
    """The caller's duties matching ``filters``, latest window first."""
    query = within(await visible(notify, principal), filters)
    cursor = notify.db[DUTIES].find(query).sort([("window_end", -1), ("_id", 1)]).limit(limit)
    return [view(document) async for document in cursor]


async def read_duty(notify: Notify, principal: Principal, duty_id: str) -> Document:
    document = await notify.db[DUTIES].find_one({"_id": duty_id, **await visible(notify, principal)})
    if document is None:
        raise NotFound("not_found", "no such duty")
    return view(document)
