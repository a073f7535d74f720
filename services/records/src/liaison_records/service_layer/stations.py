"""Stations and the units above them. Only administrators shape the hierarchy."""

from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction

from liaison_records.domain.org import PARENT_LEVEL, Level, OrgUnitFields
from liaison_records.service_layer.context import ADMIN_ONLY, STATIONS, Records, document_view, require


async def create_org_unit(records: Records, principal: Principal, fields: OrgUnitFields) -> Document:
    require(principal, ADMIN_ONLY, "create stations or districts")
    ancestry = await _ancestry(records, fields)
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

    await records.runtime.transaction(insert)
    return document_view({**document, "version": 1})


async def _ancestry(records: Records, fields: OrgUnitFields) -> dict[str, Any]:
    """The ids of the unit's station, district, city and region (itself included), for scoping."""
    ancestry: dict[str, Any] = {f"{fields.level.value}_id": fields.id}
    expected_parent = PARENT_LEVEL.get(fields.level)
    if expected_parent is None:
        if fields.parent_id is not None:
            raise InvalidInput("invalid_parent", "a region has no parent", field="parent_id")
        return ancestry
    if fields.parent_id is None:
        raise InvalidInput(
            "parent_required", f"a {fields.level.value} needs a {expected_parent.value}", field="parent_id"
        )
    parent = await records.db[STATIONS].find_one({"_id": fields.parent_id})
    if parent is None or parent["level"] != expected_parent:
        raise InvalidInput("invalid_parent", f"{fields.parent_id} is not a {expected_parent.value}", field="parent_id")
    for level in Level:
        key = f"{level.value}_id"
        if key in parent and key not in ancestry:
            ancestry[key] = parent[key]
    return ancestry


async def list_org_units(records: Records, principal: Principal, level: Level | None) -> list[Document]:
    query: dict[str, Any] = dict(principal.scope_filter())
    if level is not None:
        query["level"] = level.value
    return [document_view(doc) async for doc in records.db[STATIONS].find(query).sort("_id", 1)]


async def get_org_unit(records: Records, principal: Principal, unit_id: str) -> Document:
    unit = await records.db[STATIONS].find_one({"_id": unit_id, **principal.scope_filter()})
    if unit is None:
        raise NotFound("not_found", f"no station or district {unit_id}")
    return document_view(unit)
