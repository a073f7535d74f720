"""Stations and the units above them. Only administrators shape the hierarchy; every creation and
change is announced (``org_unit.*``) in its own transaction, so other services can keep it."""

from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction

from liaison_records.domain.events import OrgUnitRegistered, OrgUnitUpdated
from liaison_records.domain.org import PARENT_LEVEL, Level, OrgUnitDetails, OrgUnitFields, check_move
from liaison_records.service_layer.context import (
    ADMIN_ONLY,
    STATIONS,
    Records,
    check_version,
    document_view,
    require,
)

ANCESTRY = tuple(f"{level.value}_id" for level in Level)


async def create_org_unit(records: Records, principal: Principal, fields: OrgUnitFields) -> Document:
    require(principal, ADMIN_ONLY, "create stations or districts")
    ancestry = await _ancestry(records, fields.id, fields.level, fields.parent_id)
    document: Document = {
        "_id": fields.id,
        **fields.model_dump(mode="json", exclude={"id"}),
        **ancestry,
        "created_at": records.clock(),
    }

    async def insert(tx: Transaction) -> None:
        if await tx.db[STATIONS].find_one({"_id": fields.id}, session=tx.session):
            raise Conflict("duplicate_id", f"{fields.id} already exists", field="id")
        await tx.insert(STATIONS, document)
        _announce(tx, OrgUnitRegistered, document)

    await records.runtime.transaction(insert)
    return document_view({**document, "version": 1})


async def change_org_unit(
    records: Records, principal: Principal, unit_id: str, details: OrgUnitDetails, *, expected_version: int
) -> Document:
    """Rename a unit, change its address or contacts, or move a district or city under another
    parent; the units below a moved one follow it (their ancestry is rewritten in the same step)."""
    require(principal, ADMIN_ONLY, "change stations or districts")
    current = await _load(records, principal, unit_id)
    check_version(current, expected_version)
    level = Level(current["level"])
    check_move(level, current.get("parent_id"), details.parent_id)
    ancestry = await _ancestry(records, unit_id, level, details.parent_id)
    document: Document = {
        **{key: value for key, value in current.items() if key not in ANCESTRY},
        **details.model_dump(mode="json"),
        **ancestry,
        "updated_at": records.clock(),
    }

    async def write(tx: Transaction) -> int:
        version = await tx.replace(STATIONS, document, expected_version=expected_version)
        if details.parent_id != current.get("parent_id"):
            await _carry_ancestry(tx, unit_id, level, ancestry)
        _announce(tx, OrgUnitUpdated, document)
        return version

    version = await records.runtime.transaction(write)
    return document_view({**document, "version": version})


def _announce(tx: Transaction, event: type[OrgUnitRegistered], document: Document) -> None:
    """The unit as other services see it, routed by the station and district it stands for."""
    tx.publish(
        event(unit_id=document["_id"], level=document["level"], name=document["name"], parent_id=document["parent_id"]),
        subject=document["_id"],
        station_id=document.get("station_id"),
        district_id=document.get("district_id"),
    )


async def _carry_ancestry(tx: Transaction, unit_id: str, level: Level, ancestry: dict[str, Any]) -> None:
    """The units below a moved one take its new ancestors (a moved district's stations, a new city)."""
    above = {key: ancestry.get(key) for key in ANCESTRY[list(Level).index(level) + 1 :]}
    await tx.db[STATIONS].update_many(
        {f"{level.value}_id": unit_id, "_id": {"$ne": unit_id}},
        {"$set": above, "$inc": {"version": 1}},
        session=tx.session,
    )


async def _ancestry(records: Records, unit_id: str, level: Level, parent_id: str | None) -> dict[str, Any]:
    """The ids of the unit's station, district, city and region (itself included), for scoping."""
    ancestry: dict[str, Any] = {f"{level.value}_id": unit_id}
    expected_parent = PARENT_LEVEL.get(level)
    if expected_parent is None:
        if parent_id is not None:
            raise InvalidInput("invalid_parent", "a region has no parent", field="parent_id")
        return ancestry
    if parent_id is None:
        raise InvalidInput("parent_required", f"a {level.value} needs a {expected_parent.value}", field="parent_id")
    parent = await records.db[STATIONS].find_one({"_id": parent_id})
    if parent is None or parent["level"] != expected_parent:
        raise InvalidInput("invalid_parent", f"{parent_id} is not a {expected_parent.value}", field="parent_id")
    for key in ANCESTRY:
        if key in parent and key not in ancestry:
            ancestry[key] = parent[key]
    return ancestry


async def list_org_units(records: Records, principal: Principal, level: Level | None) -> list[Document]:
    query: dict[str, Any] = dict(principal.scope_filter())
    if level is not None:
        query["level"] = level.value
    return [document_view(doc) async for doc in records.db[STATIONS].find(query).sort("_id", 1)]


async def _load(records: Records, principal: Principal, unit_id: str) -> Document:
    unit = await records.db[STATIONS].find_one({"_id": unit_id, **principal.scope_filter()})
    if unit is None:
        raise NotFound("not_found", f"no station or district {unit_id}")
    return unit


async def get_org_unit(records: Records, principal: Principal, unit_id: str) -> Document:
    return document_view(await _load(records, principal, unit_id))
