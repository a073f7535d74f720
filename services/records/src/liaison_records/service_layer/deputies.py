"""Deputies: registration, changes, and the change of term (换届) that moves all households of
one deputy to another in one audited step."""

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

from liaison_infra.auth import Principal, Role, within
from liaison_infra.clock import utc_now
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction
from liaison_infra.pii import Keyring, mask_phone

from liaison_records.domain.deputies import DeputyFields
from liaison_records.domain.events import AssignmentChanged, DeputyChannels, DeputyRegistered, DeputyUpdated
from liaison_records.service_layer.context import (
    READERS,
    STATIONS,
    WRITERS,
    Records,
    check_version,
    document_view,
    require,
)
from liaison_records.service_layer.history import link

DEPUTIES = "deputies"
HOUSEHOLDS = "households"
MOBILE_CONTEXT = "deputy.mobile"


def deputy_scope(principal: Principal) -> dict[str, Any]:
    return principal.scope_filter("station_ids", "district_ids")


async def _stations_in_scope(
    records: Records, principal: Principal, station_ids: list[str], served: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """The stations a deputy serves after the caller's change, and their districts. The caller
    may name only stations they manage, besides those the deputy ``served`` already; a served
    station outside their scope stays, named or not (another station's staff keep it)."""
    stations: list[str] = []
    districts: set[str] = set()
    for station_id in dict.fromkeys([*station_ids, *served]):
        station = await records.db[STATIONS].find_one({"_id": station_id, "level": "station"})
        visible = station is not None and principal.can_see(station_id, station.get("district_id"))
        if station is None or not (visible or station_id in served):
            raise InvalidInput("unknown_station", f"no station {station_id} in your scope", field="station_ids")
        if station_id in station_ids or not visible:
            stations.append(station_id)
            districts |= {station["district_id"]} if station.get("district_id") else set()
    return stations, sorted(districts)


def _document(records: Records, deputy_id: str, fields: DeputyFields, district_ids: list[str]) -> Document:
    values = fields.model_dump(mode="json", exclude={"mobile"})
    mobile = protected_mobile(records.codec.keyring, fields.mobile) if fields.mobile else None
    return {"_id": deputy_id, **values, "mobile": mobile, "district_ids": district_ids}


def protected_mobile(keyring: Keyring, mobile: str) -> Document:
    """A deputy's mobile as stored: encrypted, and masked for whoever may not see it."""
    return keyring.protect(mobile, context=MOBILE_CONTEXT, mask=mask_phone)


def _event(deputy_id: str, fields: DeputyFields, event: type[DeputyRegistered]) -> DeputyRegistered:
    channels = DeputyChannels(
        mobile=fields.mobile,
        wecom_id=fields.wecom_id,
        dingtalk_id=fields.dingtalk_id,
        email=fields.email,
        preferences=[channel.value for channel in fields.preferences],
    )
    return event(
        deputy_id=deputy_id,
        name=fields.name,
        level=fields.level,
        station_ids=fields.station_ids,
        channels=channels,
        term_start=fields.term_start,
        term_end=fields.term_end,
    )


def deputy_view(document: Document) -> Document:
    mobile = document.get("mobile")
    return {**document_view(document), "mobile": mask_phone(mobile["masked"]) if mobile else None}


async def register_deputy(records: Records, principal: Principal, fields: DeputyFields) -> Document:
    require(principal, WRITERS, "register deputies")
    _, district_ids = await _stations_in_scope(records, principal, fields.station_ids)
    deputy_id = f"dep-{uuid4().hex[:10]}"
    document = _document(records, deputy_id, fields, district_ids)

    async def write(tx: Transaction) -> None:
        await tx.insert(DEPUTIES, document)
        tx.publish(
            _event(deputy_id, fields, DeputyRegistered),
            subject=deputy_id,
            station_id=fields.station_ids[0],
            district_id=district_ids[0] if district_ids else None,
        )

    await records.runtime.transaction(write)
    return deputy_view({**document, "version": 1})


async def load_deputy(records: Records, principal: Principal, deputy_id: str) -> Document:
    deputy = await records.db[DEPUTIES].find_one({"_id": deputy_id, **deputy_scope(principal)})
    if deputy is None:
        raise NotFound("deputy_not_found", f"no deputy {deputy_id}")
    return deputy


async def update_deputy(
    records: Records, principal: Principal, deputy_id: str, fields: DeputyFields, *, expected_version: int
) -> Document:
    require(principal, WRITERS, "change deputies")
    current = await load_deputy(records, principal, deputy_id)
    check_version(current, expected_version)
    stations, district_ids = await _stations_in_scope(records, principal, fields.station_ids, current["station_ids"])
    fields = fields.model_copy(update={"station_ids": stations})
    document = _document(records, deputy_id, fields, district_ids)

    async def write(tx: Transaction) -> int:
        await _refuse_leaving_households(tx, deputy_id, set(current["station_ids"]) - set(stations))
        version = await tx.replace(DEPUTIES, document, expected_version=expected_version)
        tx.publish(
            _event(deputy_id, fields, DeputyUpdated),
            subject=deputy_id,
            station_id=fields.station_ids[0],
            district_id=district_ids[0] if district_ids else None,
        )
        return version

    version = await records.runtime.transaction(write)
    return deputy_view({**document, "version": version})


async def _refuse_leaving_households(tx: Transaction, deputy_id: str, dropped: set[str]) -> None:
    """A deputy stops serving a station only once its households have another responsible deputy."""
    if not dropped:
        return
    held = {"deputy_id": deputy_id, "station_id": {"$in": sorted(dropped)}}
    stations = sorted(await tx.db[HOUSEHOLDS].distinct("station_id", held, session=tx.session))
    if stations:
        raise Conflict(
            "holds_households",
            f"{deputy_id} is responsible for households at {', '.join(stations)}: hand them over first",
            field="station_ids",
            details={"station_ids": stations},
        )


async def hold_serving(tx: Transaction, deputy_id: str, station_ids: set[str], *, field: str) -> None:
    """Refuse, in the transaction, a deputy who does not serve these stations; the deputy is
    written too, so that a change of its stations meanwhile conflicts (and is tried again)."""
    if not station_ids:
        return
    serving = {"_id": deputy_id, "station_ids": {"$all": sorted(station_ids)}}
    held = await tx.db[DEPUTIES].update_one(serving, {"$set": {"assigned_at": utc_now()}}, session=tx.session)
    if not held.matched_count:
        message = f"{deputy_id} does not serve {', '.join(sorted(station_ids))}"
        raise InvalidInput("deputy_not_serving", message, field=field)


async def read_deputy(records: Records, principal: Principal, deputy_id: str) -> Document:
    require(principal, READERS, "read deputies")
    return deputy_view(await load_deputy(records, principal, deputy_id))


async def list_deputies(records: Records, principal: Principal, station_id: str | None) -> list[Document]:
    require(principal, READERS, "read deputies")
    query = within(deputy_scope(principal), {"station_ids": station_id})
    return [deputy_view(doc) async for doc in records.db[DEPUTIES].find(query).sort("name", 1)]


async def hand_over(
    records: Records, principal: Principal, from_deputy_id: str, to_deputy_id: str, reason: str
) -> Document:
    """Move every household of one deputy to another (换届), in one transaction, audited: those
    within the caller's scope (a deputy serving two districts is handed over by each)."""
    require(principal, (Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR), "hand households over")
    if from_deputy_id == to_deputy_id:
        raise InvalidInput("same_deputy", "a deputy cannot hand households over to themself", field="to_deputy_id")
    source = await load_deputy(records, principal, from_deputy_id)
    target = await load_deputy(records, principal, to_deputy_id)
    households = await records.db[HOUSEHOLDS].find({"deputy_id": from_deputy_id, **principal.scope_filter()}).to_list()

    async def write(tx: Transaction) -> None:
        await hold_serving(tx, to_deputy_id, {h["station_id"] for h in households}, field="to_deputy_id")
        for household in households:
            await tx.replace(
                HOUSEHOLDS, {**household, "deputy_id": to_deputy_id}, expected_version=household["version"]
            )
            members = [member["person_id"] for member in household["members"]]
            await link(tx, principal, records.clock(), members, {"deputy_id": to_deputy_id})
            tx.publish(
                AssignmentChanged(
                    household_id=household["_id"],
                    station_id=household["station_id"],
                    previous_deputy_id=from_deputy_id,
                    deputy_id=to_deputy_id,
                    reason=reason,
                ),
                subject=household["_id"],
                station_id=household["station_id"],
                district_id=household.get("district_id"),
            )
        subject = f"{source['_id']}->{target['_id']} ({len(households)} households): {reason}"
        where = households[0] if households else {"station_id": source["station_ids"][0]}
        await records.audit(principal, "hand_over", subject, where["station_id"], where.get("district_id"), tx.session)

    await records.runtime.transaction(write)
    return {"from_deputy_id": from_deputy_id, "to_deputy_id": to_deputy_id, "households": len(households)}
