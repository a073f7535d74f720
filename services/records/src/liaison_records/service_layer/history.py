"""A person's field-level history: one entry per changed field (who, when, before, after),
protected values masked. Written wherever a file changes: its own endpoints, imports, and the
household and deputy links other records keep in it."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.mongo import Document, Transaction
from liaison_infra.pii import mask_middle

from liaison_records.adapters.people_store import PEOPLE
from liaison_records.domain import files
from liaison_records.domain.files import FieldChange, Person

HISTORY = "history"


def history_entries(person: Person, changes: list[FieldChange], principal: Principal, at: datetime) -> list[Document]:
    """One entry per changed field; protected values are kept masked, never in clear."""
    return [_entry(person.id, person.station_id, person.version or 1, change, principal, at) for change in changes]


def _entry(
    person_id: str, station_id: str, version: int, change: FieldChange, principal: Principal, at: datetime
) -> Document:
    return {
        "person_id": person_id,
        "station_id": station_id,
        "version": version,
        "at": at,
        "by": principal.subject,
        "field": change.field,
        "before": _history_value(change.field, change.before),
        "after": _history_value(change.field, change.after),
    }


def _history_value(field: str, value: Any) -> Any:
    if value is None or field not in files.PROTECTED_FIELDS:
        return value
    if isinstance(value, list):
        return [mask_middle(str(item), 3, 2) for item in value]
    return mask_middle(str(value), 3, 2)


async def link(
    tx: Transaction, principal: Principal, at: datetime, person_ids: Iterable[str], links: dict[str, str | None]
) -> None:
    """Point these files at a household and deputy (``links``: their new ``household_id`` and
    ``deputy_id``), bumping each one's version, with a history entry for each link that changed:
    a hand-over shows in every member's history."""
    ids = list(person_ids)
    if not ids:
        return
    fields = {name: 1 for name in ("station_id", "version", *links)}
    current = await tx.db[PEOPLE].find({"_id": {"$in": ids}}, fields, session=tx.session).to_list()
    await tx.db[PEOPLE].update_many({"_id": {"$in": ids}}, {"$set": links, "$inc": {"version": 1}}, session=tx.session)
    entries = [
        _entry(file["_id"], file["station_id"], file["version"] + 1, change, principal, at)
        for file in current
        for name, after in links.items()
        if (change := FieldChange(field=name, before=file.get(name), after=after)).before != after
    ]
    if entries:
        await tx.db[HISTORY].insert_many(entries, session=tx.session)
