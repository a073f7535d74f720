"""Recipients: deputies as records describes them, station heads and districts as staff set them,
and the routes each is reached on. Out of a caller's scope is answered as not found."""

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import NotFound
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Document, Transaction

from liaison_notify.adapters import households_store, recipients_store
from liaison_notify.adapters.records_events import DeputyRead
from liaison_notify.domain.channels import preferred_routes, routes
from liaison_notify.service_layer.context import Notify

RouteInput = list[tuple[str, str | None]]


async def on_deputy_changed(event: DeputyRead, envelope: Envelope, tx: Transaction) -> None:
    """deputy.registered / deputy.updated: name and stations always follow records; the routes
    too, until the deputy's preferences are set in notify, which then owns them."""
    fields: Document = {"kind": "deputy", "name": event.name, "station_id": event.station_ids}
    recipient_id = f"deputy:{event.deputy_id}"
    await recipients_store.store(tx.db, recipient_id, fields, envelope.time, session=tx.session)
    derived = preferred_routes(event.channels.addresses(), event.channels.preferences)
    await tx.db[recipients_store.RECIPIENTS].update_one(
        {"_id": recipient_id, "routes_set_by": {"$ne": "api"}},
        {"$set": {"routes": recipients_store.routes_document(derived), "routes_set_by": "records"}},
        session=tx.session,
    )


def _may_manage(principal: Principal, recipient: Document) -> bool:
    """The deputy themself, staff of a station the recipient belongs to, its district's
    supervisor (station heads and districts), an administrator."""
    if principal.is_admin:
        return True
    if recipient["_id"] == f"deputy:{principal.subject}" and Role.DEPUTY in principal.roles:
        return True
    stations = set(recipient.get("station_id", []))
    if Role.STATION_STAFF in principal.roles and recipient["kind"] != "district" and stations & principal.stations:
        return True
    return (
        Role.DISTRICT_SUPERVISOR in principal.roles
        and recipient["kind"] != "deputy"
        and recipient.get("district_id") in principal.districts
    )


async def read(notify: Notify, principal: Principal, recipient_id: str) -> Document:
    stored = await recipients_store.find(notify.db, recipient_id)
    recipient = await _as_placed(notify, stored) if stored else None
    if recipient is None or not _may_manage(principal, recipient):
        raise NotFound("not_found", f"no recipient {recipient_id}")
    return recipient


async def _as_placed(notify: Notify, recipient: Document) -> Document:
    """A station head belongs to the district records placed its station in, once notify has
    heard of it; before, to the one given when its contacts were first set."""
    if recipient["kind"] != "station_head":
        return recipient
    known = await households_store.district_of(notify.db, recipient["_id"].partition(":")[2])
    return {**recipient, "district_id": known or recipient.get("district_id")}


async def set_deputy_routes(notify: Notify, principal: Principal, deputy_id: str, pairs: RouteInput) -> Document:
    """The deputy's channels in the order they read them; from now on records no longer sets them."""
    recipient_id = f"deputy:{deputy_id}"
    await read(notify, principal, recipient_id)
    fields = {"routes": recipients_store.routes_document(routes(pairs)), "routes_set_by": "api"}
    return await recipients_store.store(notify.db, recipient_id, fields, notify.clock())


async def set_contacts(
    notify: Notify, principal: Principal, recipient_id: str, *, name: str, district_id: str | None, pairs: RouteInput
) -> Document:
    """A station head's or a district's contacts; the first setting creates the recipient.

    A station head belongs to the district records placed its station in, once notify has heard
    of it; only then may that district's supervisor set it (so no supervisor claims another
    district's station by naming their own). Before, the given ``district_id`` is kept."""
    kind, _, place = recipient_id.partition(":")
    target = await recipients_store.find(notify.db, recipient_id) or {
        "_id": recipient_id,
        "kind": kind,
        "station_id": [place] if kind == "station_head" else [],
        "district_id": place if kind == "district" else district_id,
    }
    known = place if kind == "district" else await households_store.district_of(notify.db, place)
    if not _may_manage(principal, {**target, "district_id": known}):
        raise NotFound("not_found", f"no recipient {recipient_id}")
    fields = {
        "kind": kind,
        "name": name,
        "station_id": target["station_id"],
        "district_id": known or target["district_id"],
        "routes": recipients_store.routes_document(routes(pairs)),
        "routes_set_by": "api",
    }
    return await recipients_store.store(notify.db, recipient_id, fields, notify.clock())
