"""/v1 deputies' channel preferences and the contacts of station heads and districts.

Channels come in the order the recipient reads them; the in-app inbox is always appended last.
Out of the caller's scope is answered as not found; bad input gets 422 naming the entry at fault.
"""

from fastapi import APIRouter
from liaison_infra.auth import CurrentPrincipal
from liaison_infra.mongo import Document
from pydantic import BaseModel, ConfigDict, Field

from liaison_notify.domain.channels import Channel
from liaison_notify.entrypoints.dependencies import Id, NotifyDep
from liaison_notify.service_layer import recipients

router = APIRouter(prefix="/v1", tags=["recipients"])


class RouteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    address: str | None = Field(default=None, max_length=200)


class ChannelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[RouteIn] = Field(max_length=len(Channel))

    def pairs(self) -> list[tuple[str, str | None]]:
        return [(route.channel.value, route.address) for route in self.channels]


class ContactsIn(ChannelsIn):
    name: str = Field(min_length=1, max_length=100)
    district_id: str | None = Field(default=None, max_length=64)


def view(recipient: Document) -> Document:
    return {
        "id": recipient["_id"],
        "kind": recipient["kind"],
        "name": recipient.get("name", ""),
        "station_ids": recipient.get("station_id", []),
        "district_id": recipient.get("district_id"),
        "channels": recipient.get("routes", []),
        "channels_set_by": recipient.get("routes_set_by"),
        "updated_at": recipient.get("updated_at"),
    }


@router.get("/deputies/{deputy_id}/channels")
async def deputy_channels(deputy_id: Id, principal: CurrentPrincipal, notify: NotifyDep) -> Document:
    return view(await recipients.read(notify, principal, f"deputy:{deputy_id}"))


@router.put("/deputies/{deputy_id}/channels")
async def set_deputy_channels(
    deputy_id: Id, change: ChannelsIn, principal: CurrentPrincipal, notify: NotifyDep
) -> Document:
    """The deputy themself, staff of their stations or an administrator; records no longer sets them."""
    return view(await recipients.set_deputy_routes(notify, principal, deputy_id, change.pairs()))


@router.get("/stations/{station_id}/contacts")
async def station_contacts(station_id: Id, principal: CurrentPrincipal, notify: NotifyDep) -> Document:
    return view(await recipients.read(notify, principal, f"station_head:{station_id}"))


@router.put("/stations/{station_id}/contacts")
async def set_station_contacts(
    station_id: Id, change: ContactsIn, principal: CurrentPrincipal, notify: NotifyDep
) -> Document:
    """The station head: told of escalations, digests and alerts. Station staff, the district's
    supervisor or an administrator."""
    recipient = await recipients.set_contacts(
        notify,
        principal,
        f"station_head:{station_id}",
        name=change.name,
        district_id=change.district_id,
        pairs=change.pairs(),
    )
    return view(recipient)


@router.get("/districts/{district_id}/contacts")
async def district_contacts(district_id: Id, principal: CurrentPrincipal, notify: NotifyDep) -> Document:
    return view(await recipients.read(notify, principal, f"district:{district_id}"))


@router.put("/districts/{district_id}/contacts")
async def set_district_contacts(
    district_id: Id, change: ContactsIn, principal: CurrentPrincipal, notify: NotifyDep
) -> Document:
    """The district's contact for escalations: its supervisor or an administrator."""
    recipient = await recipients.set_contacts(
        notify, principal, f"district:{district_id}", name=change.name, district_id=district_id, pairs=change.pairs()
    )
    return view(recipient)
