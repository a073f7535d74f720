"""A person's field-level history: one entry per changed field (who, when, before, after),
protected values masked. Written wherever a file changes: its own endpoints, imports, the
household and deputy links other records keep in it, and the cases service's news of the cases
the person raised."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.mongo import Document, Transaction
from liaison_infra.pii import mask_address, mask_phone

from liaison_records.adapters.people_store import PEOPLE
from liaison_records.domain.files import FieldChange, Person
from liaison_records.domain.idcard import mask_id_number

HISTORY = "history"
# The fields that are personal data under PIPL (encrypted at rest), each with its mask: history
# shows them as the masked file does.
MASKS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "phones": mask_phone,
    "address.detail": mask_address,
}


def history_entries(person: Person, changes: list[FieldChange], principal: Principal, at: datetime) -> list[Document]:
    """One entry per changed field; protected values are kept masked, never in clear."""
    where = {"station_id": person.station_id, "district_id": person.district_id}
    return [_entry(person.id, where, person.version or 1, change, principal.subject, at) for change in changes]


def stored_file_entries(file: Document, changes: Iterable[FieldChange], by: str, at: datetime) -> list[Document]:
    """The entries of ``changes`` (those that change something) to a stored file about to move
    to its next version."""
    where, version = _where(file), file["version"] + 1
    return [_entry(file["_id"], where, version, change, by, at) for change in changes if change.before != change.after]


def _entry(person_id: str, where: Document, version: int, change: FieldChange, by: str, at: datetime) -> Document:
    """``where``: the file's ``station_id`` and ``district_id`` when it changed."""
    return {
        "person_id": person_id,
        **where,
        "version": version,
        "at": at,
        "by": by,
        "field": change.field,
        "before": masked_value(change.field, change.before),
        "after": masked_value(change.field, change.after),
    }


def shown_entry(entry: Document) -> Document:
    """A stored entry as today's masks show it: one an older, looser mask wrote shows no more
    (masking a masked value again changes nothing more)."""
    return {
        **entry,
        "before": masked_value(entry["field"], entry["before"]),
        "after": masked_value(entry["field"], entry["after"]),
    }


def masked_value(field: str, value: Any) -> Any:
    """A protected value as the masked file shows it."""
    mask = MASKS.get(field)
    if value is None or mask is None:
        return value
    return [mask(str(item)) for item in value] if isinstance(value, list) else mask(str(value))


def _where(document: Document) -> Document:
    return {"station_id": document.get("station_id"), "district_id": document.get("district_id")}


async def link(
    tx: Transaction, principal: Principal, at: datetime, person_ids: Iterable[str], links: dict[str, str | None]
) -> None:
    """Point these files at a household and deputy (``links``: their new ``household_id`` and
    ``deputy_id``), bumping each one's version, with a history entry for each link that changed:
    a hand-over shows in every member's history."""
    ids = list(person_ids)
    if not ids:
        return
    fields = {name: 1 for name in ("station_id", "district_id", "version", *links)}
    current = await tx.db[PEOPLE].find({"_id": {"$in": ids}}, fields, session=tx.session).to_list()
    await tx.db[PEOPLE].update_many({"_id": {"$in": ids}}, {"$set": links, "$inc": {"version": 1}}, session=tx.session)
    entries: list[Document] = []
    for file in current:
        changes = [FieldChange(field=name, before=file.get(name), after=after) for name, after in links.items()]
        entries += stored_file_entries(file, changes, principal.subject, at)
    if entries:
        await tx.db[HISTORY].insert_many(entries, session=tx.session)
