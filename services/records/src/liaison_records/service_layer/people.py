"""Handlers for people's files: register, read, change, search, history, merge, archive, erase."""

from typing import Any
from uuid import uuid4

from liaison_infra.auth import Principal
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import Conflict, NotFound
from liaison_infra.mongo import Document, Transaction, forget_retained

from liaison_records.adapters.people_store import PEOPLE, likely_duplicates, masked_view, name_birth
from liaison_records.domain import files
from liaison_records.domain.events import ReturneeArchived, ReturneeErased, ReturneeRegistered, ReturneeUpdated
from liaison_records.domain.files import FieldChange, Person
from liaison_records.domain.people import PersonFields, Status
from liaison_records.service_layer.context import READERS, REVEALERS, WRITERS, Records, check_version, require
from liaison_records.service_layer.history import HISTORY, history_entries, shown_entry
from liaison_records.service_layer.households import announce, reached, remove_member, replace_member
from liaison_records.service_layer.logs import erase_from_logs

# The import that registered a file; its registration entry is read from the file (see
# ``imported_registration``).
IMPORT_ID = "import_id"
# Stored beside the file's own fields (set at registration, by households, by a merge): a change keeps them.
KEPT_ON_CHANGE = ("created_at", "created_by", "deputy_id", "merged_into", IMPORT_ID)


async def register_person(
    records: Records, principal: Principal, station_id: str, fields: PersonFields, *, allow_duplicates: bool
) -> Document:
    require(principal, WRITERS, "register people")
    station = await records.station_in_scope(principal, station_id)
    person = files.register(
        files.checked(fields),
        person_id=f"p-{uuid4().hex[:12]}",
        station_id=station_id,
        district_id=station.get("district_id"),
    )
    await _refuse_duplicate_id_number(records, principal, person)
    if not allow_duplicates:
        await _refuse_likely_duplicates(records, person, "register again with allow_duplicates=true to keep both")
    document = records.codec.to_document(person)
    now = records.clock()
    document.update(created_at=now, created_by=principal.subject, updated_at=now, updated_by=principal.subject)

    async def write(tx: Transaction) -> None:
        await tx.insert(PEOPLE, document)
        await _record_history(tx, person, [FieldChange(field="*", before=None, after="registered")], principal, records)
        tx.publish(ReturneeRegistered(person=files.snapshot(person)), **routing(person))

    await records.runtime.transaction(write)
    return masked_view({**document, "version": 1})


async def _refuse_duplicate_id_number(records: Records, principal: Principal, person: Person) -> None:
    """An ID number is one person's: refused if on file. The existing file is named only to a
    caller who may see it; others learn only that it is kept at another station (audited)."""
    if person.id_number is None:
        return
    indexes = records.codec.id_number_indexes(person.id_number)
    other = await records.db[PEOPLE].find_one(
        {"id_number_index": {"$in": indexes}, "_id": {"$ne": person.id}},  # erased files keep no index
        {"station_id": 1, "district_id": 1},
    )
    if other is None:
        return
    if principal.can_see(other["station_id"], other.get("district_id")):
        details = {"existing_id": other["_id"], "existing_station_id": other["station_id"]}
        raise Conflict("duplicate_id_number", "a file with this ID number exists", field="id_number", details=details)
    await records.audit_told_elsewhere(principal, [other])
    message = "a file with this ID number is kept at another station; whoever serves both can transfer it here"
    raise Conflict("duplicate_id_number", message, field="id_number")


async def _refuse_likely_duplicates(records: Records, person: Person, then: str) -> None:
    """Same name and birth date, or a shared phone: the user decides (``allow_duplicates``, as
    ``then`` says)."""
    name_births = [name_birth(person.name, person.birth_date)] if person.birth_date else []
    phones = [index for phone in person.phones for index in records.codec.phone_indexes(phone)]
    candidates = (await likely_duplicates(records.db, person.station_id, name_births, phones))[:20]
    if candidates:
        raise Conflict(
            "possible_duplicates",
            f"files that may be the same person exist; {then}",
            field="allow_duplicates",  # what to set, once the user has decided
            details={"candidates": [masked_view(candidate) for candidate in candidates]},
        )


async def load_person(records: Records, principal: Principal, person_id: str) -> Document:
    require(principal, READERS, "read people's files")
    document = await records.db[PEOPLE].find_one({"_id": person_id})
    if document is None or not principal.can_see(document["station_id"], document.get("district_id")):
        raise NotFound("person_not_found", f"no person {person_id}")
    return document


async def read_person(records: Records, principal: Principal, person_id: str, *, reveal: bool) -> Document:
    document = await load_person(records, principal, person_id)
    if not reveal:
        return masked_view(document)
    require(principal, REVEALERS, "see unmasked personal data")
    await records.audit(principal, "reveal_person", person_id, document["station_id"], document.get("district_id"))
    return {**masked_view(document), **records.codec.revealed(document)}


async def update_person(
    records: Records, principal: Principal, person_id: str, patch: dict[str, Any], *, expected_version: int
) -> Document:
    require(principal, WRITERS, "change people's files")
    document = await load_person(records, principal, person_id)
    check_version(document, expected_version)
    changed, changes = files.change(records.codec.values(document), patch)
    if not changes:
        return masked_view(document)
    await _refuse_duplicate_id_number(records, principal, changed)
    return await store_change(records, principal, document, changed, changes, expected_version=expected_version)


async def transfer_person(
    records: Records,
    principal: Principal,
    person_id: str,
    station_id: str,
    *,
    expected_version: int,
    allow_duplicates: bool = False,
) -> Document:
    """Move a file, with its history, to the station the person now lives at. Whoever serves
    both stations moves it (a district's staff, for two of its stations). A household is a
    station's: its member leaves it first. Files there that may be the same person are shown,
    as at registration, for the user to decide (and merge)."""
    require(principal, WRITERS, "transfer people's files")
    document = await load_person(records, principal, person_id)
    check_version(document, expected_version)
    station = await records.station_in_scope(principal, station_id)
    if household_id := document.get("household_id"):
        message = (
            f"{person_id} is a member of household {household_id} at {document['station_id']}: take them out first"
        )
        raise Conflict("in_household", message, field="station_id", details={"household_id": household_id})
    changed, changes = files.transferred(records.codec.to_person(document), station_id, station.get("district_id"))
    if not allow_duplicates:
        await _refuse_likely_duplicates(records, changed, "transfer again with allow_duplicates true to move it anyway")
    return await store_change(records, principal, document, changed, changes, expected_version=expected_version)


async def store_change(
    records: Records,
    principal: Principal,
    document: Document,
    changed: Person,
    changes: list[FieldChange],
    *,
    expected_version: int,
) -> Document:
    """Write a changed file with its field-level history and events, if still at ``expected_version``.
    A duplicate merged into another file is not changed: that file is the person's."""
    if merged_into := document.get("merged_into"):
        raise Conflict("merged_file", f"this file was merged into {merged_into}: change that one")
    new_document = {
        **records.codec.to_document(changed),
        **{key: document.get(key) for key in KEPT_ON_CHANGE},
        "updated_at": records.clock(),
        "updated_by": principal.subject,
    }

    async def write(tx: Transaction) -> int:
        version = await tx.replace(PEOPLE, new_document, expected_version=expected_version)
        await _record_history(tx, changed.model_copy(update={"version": version}), changes, principal, records)
        changed_fields = files.changed_fields(changes)
        tx.publish(ReturneeUpdated(person=files.snapshot(changed), changed_fields=changed_fields), **routing(changed))
        await announce(tx, reached([(changed.household_id, changed_fields)]), china_day(records.clock()))
        if "status" in changed_fields and changed.status in files.CLOSING_STATUSES:
            tx.publish(ReturneeArchived(person_id=changed.id, status=changed.status), **routing(changed))
        return version

    version = await records.runtime.transaction(write)
    return masked_view({**new_document, "version": version})


async def _record_history(
    tx: Transaction, person: Person, changes: list[FieldChange], principal: Principal, records: Records
) -> None:
    await tx.db[HISTORY].insert_many(history_entries(person, changes, principal, records.clock()), session=tx.session)


def imported_registration(document: Document) -> list[Document]:
    """The registration entry of a file an import made, read from the file itself.

    An import stores no history document per new file (each stored document costs the station's
    server about 0.3 ms, a sixth of a row's commit); the file keeps who imported it, when, and
    which import.
    """
    if document.get(IMPORT_ID) is None:
        return []
    return [
        {
            "person_id": document["_id"],
            "station_id": document["station_id"],
            "district_id": document.get("district_id"),
            "version": 1,
            "at": document["created_at"],
            "by": document["created_by"],
            "field": "*",
            "before": None,
            "after": "imported",
            IMPORT_ID: document[IMPORT_ID],
        }
    ]


async def person_history(records: Records, principal: Principal, person_id: str) -> list[Document]:
    document = await load_person(records, principal, person_id)
    cursor = records.db[HISTORY].find({"person_id": person_id}, {"_id": 0}).sort([("person_id", 1), ("at", 1)])
    entries = [*imported_registration(document), *await cursor.to_list()]
    if document.get("merged_into"):  # a duplicate's own history went to the file it was merged into
        entries += await records.db[HISTORY].find({"merged_from": person_id}, {"_id": 0}).to_list()
    # Stable: the registration stays first among entries of the same instant.
    return sorted(map(shown_entry, entries), key=lambda entry: entry["at"])


def routing(person: Person) -> dict[str, Any]:
    return {"subject": person.id, "station_id": person.station_id, "district_id": person.district_id}


async def merge_people(
    records: Records, principal: Principal, keep_id: str, duplicate_id: str, *, expected_version: int
) -> Document:
    """Merge a duplicate file into ``keep_id``: fields completed, histories joined, the duplicate archived."""
    require(principal, WRITERS, "merge people's files")
    keep_document = await load_person(records, principal, keep_id)
    check_version(keep_document, expected_version)
    duplicate_document = await load_person(records, principal, duplicate_id)
    closed = (Status.ERASED, Status.ARCHIVED)  # an archived file may be one merged into another
    if keep_document["status"] in closed or keep_document.get("merged_into"):
        raise Conflict("cannot_merge", "a duplicate can be merged only into an open file")
    if duplicate_document["station_id"] != keep_document["station_id"] or duplicate_document["status"] in closed:
        raise Conflict("cannot_merge", "only open files of the same station can be merged", field="duplicate_id")
    keep, duplicate = records.codec.to_person(keep_document), records.codec.to_person(duplicate_document)
    if keep.household_id and duplicate.household_id and keep.household_id != duplicate.household_id:
        message = "the two files belong to different households; fix that first"
        raise Conflict("different_households", message, field="duplicate_id")
    completed, changes = files.merged(keep, duplicate)
    if duplicate.household_id and completed.household_id is None:
        completed = completed.model_copy(update={"household_id": duplicate.household_id})
    kept = records.codec.to_document(completed)
    kept.update({key: keep_document.get(key) for key in KEPT_ON_CHANGE})
    kept.update(
        updated_at=records.clock(),
        updated_by=principal.subject,
        cases=[*keep_document.get("cases", []), *duplicate_document.get("cases", [])],
    )
    retired = {
        **{key: value for key, value in duplicate_document.items() if key not in ("id_number_index", IMPORT_ID)},
        "status": Status.ARCHIVED.value,
        "merged_into": keep_id,
        "household_id": None,
        "phone_index": [],
    }
    merge_note = FieldChange(field="*", before=None, after=f"merged from {duplicate_id}")

    async def write(tx: Transaction) -> int:
        # The duplicate first: it gives up its ID number's unique index before the kept file takes it.
        await tx.replace(PEOPLE, retired, expected_version=duplicate_document["version"])
        version = await tx.replace(PEOPLE, kept, expected_version=expected_version)
        # Its entries go to the kept file, each still naming the file it was written for.
        own = {"person_id": duplicate_id, "merged_from": {"$exists": False}}
        await tx.db[HISTORY].update_many(own, {"$set": {"merged_from": duplicate_id}}, session=tx.session)
        moved = {"$set": {"person_id": keep_id}}
        await tx.db[HISTORY].update_many({"person_id": duplicate_id}, moved, session=tx.session)
        for entry in imported_registration(duplicate_document):  # read from the file, which is retired
            await tx.db[HISTORY].insert_one(
                {**entry, "person_id": keep_id, "merged_from": duplicate_id}, session=tx.session
            )
        await _record_history(
            tx, completed.model_copy(update={"version": version}), [merge_note, *changes], principal, records
        )
        await replace_member(tx, duplicate_id, keep_id, china_day(records.clock()))
        changed_fields = files.changed_fields(changes)
        await announce(tx, reached([(keep.household_id, changed_fields)]), china_day(records.clock()))
        tx.publish(
            ReturneeUpdated(person=files.snapshot(completed), changed_fields=changed_fields), **routing(completed)
        )
        tx.publish(
            ReturneeArchived(person_id=duplicate_id, status=Status.ARCHIVED, merged_into=keep_id), **routing(duplicate)
        )
        return version

    version = await records.runtime.transaction(write)
    return masked_view({**kept, "version": version})


async def erase_person(records: Records, principal: Principal, person_id: str) -> Document:
    """Remove every personal datum; keep an anonymous tombstone so counts stay right.

    The files merged into this one (archived duplicates, which keep their data) are the same
    person and are erased with it, and so is what the logs say of them (``erase_from_logs``). The person's
    events leave the outbox too, so a replay cannot send their data again; those not relayed yet
    still go out, and returnee.erased follows them.
    """
    require(principal, WRITERS, "erase people's files")
    document = await load_person(records, principal, person_id)
    stored = [document, *await _merged_into(records, person_id)]  # a scan: erasure is rare
    erased_at = {"erased_at": records.clock(), "erased_by": principal.subject}
    files_of_person = [records.codec.values(file) for file in stored]  # unchecked: erasure is never refused for them
    tombstones = [files.erased(file) for file in files_of_person]
    person = tombstones[0]
    documents = [{**records.codec.to_document(tombstone), **erased_at} for tombstone in tombstones]

    async def write(tx: Transaction) -> None:
        for tombstone, tombstone_document in zip(tombstones, documents, strict=True):
            await tx.replace(PEOPLE, tombstone_document, expected_version=tombstone.version)
            tx.publish(ReturneeErased(person_id=tombstone.id), **routing(tombstone))
        erased_ids = [tombstone.id for tombstone in tombstones]
        await forget_retained(tx, erased_ids)  # the erasures above are stored after: they stay
        for theirs in ({"person_id": {"$in": erased_ids}}, {"merged_from": {"$in": erased_ids}}):
            await tx.db[HISTORY].delete_many(theirs, session=tx.session)
        await erase_from_logs(tx, files_of_person)  # while the households still list them
        await remove_member(tx, person_id, china_day(records.clock()))
        await tx.db[HISTORY].insert_one(
            {
                "person_id": person_id,
                "station_id": person.station_id,
                "district_id": person.district_id,
                "version": document["version"] + 1,
                "at": records.clock(),
                "by": principal.subject,
                "field": "*",
                "before": None,
                "after": "erased",
            },
            session=tx.session,
        )
        await records.audit(principal, "erase_person", person_id, person.station_id, person.district_id, tx.session)

    await records.runtime.transaction(write)
    return masked_view({**documents[0], "version": document["version"] + 1})


async def _merged_into(records: Records, person_id: str) -> list[Document]:
    """The files merged into ``person_id``, and those merged into them, and so on (each once: an
    older version let two files be merged into each other)."""
    found: list[Document] = []
    seen, wanted = {person_id}, [person_id]
    while wanted:
        merged = await records.db[PEOPLE].find({"merged_into": {"$in": wanted}}).to_list()
        merged = [document for document in merged if document["_id"] not in seen]
        seen.update(document["_id"] for document in merged)
        found += merged
        wanted = [document["_id"] for document in merged]
    return found
