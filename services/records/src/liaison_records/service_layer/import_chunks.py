"""One chunk of an import's commit, in three stages that overlap from chunk to chunk.

``read_chunk`` (CPU only, run in a thread) parses the next rows and builds, for each valid row,
the file and stored document it would register: pinyin keys, encryption and blind indexes.
``prepare_chunk`` (on the event loop) looks up which ID numbers are already on file and builds
what the chunk writes; ``ChunkWrite.store`` writes it in one transaction: new files, changed
files with their field-level history, and one event each (and household.changed for a household
whose member's hardship or birth date changed), every collection through one ``insert_many``.
So while the store writes chunk N, the commit prepares chunk N+1 and parses N+2, and the
database sees a few large writes per chunk instead of one per row. A new file names its import,
and its registration entry in the history is read from it (``imported_registration``): no
history document per new file.

Rows are upserted by ID number through the blind index: a row whose file already says the same
changes nothing, so importing the same file again writes nothing. A row whose ID number is on
file at another station leaves that file alone: an import changes only its own station's files
(the row is counted as ``elsewhere``; the person moves through the API, by whoever may). A row
the file's rules refuse as a change is left out and counted as ``refused``, so that one row
cannot stop a commit half-way.
"""

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar
from uuid import uuid4

from liaison_infra.auth import Principal
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import DomainError
from liaison_infra.envelope import Event
from liaison_infra.mongo import ConcurrencyConflict, Document, Transaction
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from liaison_records.adapters.people_store import PEOPLE, PeopleCodec, find_in
from liaison_records.domain import files
from liaison_records.domain.events import ReturneeRegistered, ReturneeUpdated
from liaison_records.domain.files import FieldChange, Person
from liaison_records.domain.people import PersonFields
from liaison_records.service_layer.context import Records
from liaison_records.service_layer.history import HISTORY, history_entries
from liaison_records.service_layer.households import announce, reached
from liaison_records.service_layer.import_rows import RowFile
from liaison_records.service_layer.people import IMPORT_ID, KEPT_ON_CHANGE, routing

CHUNK_ROWS = 500
DUPLICATE_KEY = 11000
K = TypeVar("K")


@dataclass(frozen=True)
class Candidate:
    """A valid row, and the new file it becomes unless its ID number is already on file."""

    fields: PersonFields
    person: Person
    document: Document


@dataclass(frozen=True)
class Chunk:
    rows: int
    candidates: dict[str, Candidate]  # by the ID number's blind index under the current key
    aliases: dict[str, str]  # blind index under any key version → the candidate's key


def read_chunk(rows: Iterator[RowFile], codec: PeopleCodec, station: Document) -> Chunk | None:
    """The next ``CHUNK_ROWS`` rows, prepared; None at the end. Rows without an ID number are skipped."""
    chunk = list(islice(rows, CHUNK_ROWS))
    if not chunk:
        return None
    candidates: dict[str, Candidate] = {}
    aliases: dict[str, str] = {}
    for row in chunk:
        if row.fields is None or row.fields.id_number is None:
            continue
        person = files.register(
            row.fields,
            person_id=f"p-{uuid4().hex[:12]}",
            station_id=station["_id"],
            district_id=station.get("district_id"),
        )
        document = codec.to_document(person)
        key = document["id_number_index"]
        candidates[key] = Candidate(row.fields, person, document)
        aliases.update((alias, key) for alias in codec.id_number_indexes(row.fields.id_number))
    return Chunk(len(chunk), candidates, aliases)


@dataclass(frozen=True)
class ChunkWrite:
    """What one chunk stores, ready to write: files new and changed, history, events, counts."""

    created: list[Document]
    replaced: list[Document]  # each to replace the file at the version in ``versions``
    versions: list[int]
    history: list[Document]
    events: list[tuple[Event, Person]]
    households: list[str]  # whose household.changed a changed member's file changes
    counts: dict[str, int]  # ``imports.PROGRESS``: rows read included

    async def store(self, records: Records, record: Callable[[Transaction], Awaitable[None]]) -> None:
        """Write it all in one transaction with what ``record`` writes (the import's progress)."""

        async def write(tx: Transaction) -> None:
            if self.created:
                await tx.db[PEOPLE].insert_many(self.created, session=tx.session)
            if self.replaced:
                await _replace_all(tx, self.replaced, self.versions)
            if self.history:
                await tx.db[HISTORY].insert_many(self.history, session=tx.session)
            for event, person in self.events:
                tx.publish(event, **routing(person))
            await announce(tx, self.households, china_day(records.clock()))
            await record(tx)

        try:
            await records.runtime.transaction(write)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if not errors or any(error["code"] != DUPLICATE_KEY for error in errors):
                raise
            # Registered through the API after the lookup: the next commit finds it on file.
            raise ConcurrencyConflict("a person of this import was registered meanwhile; commit again") from exc


async def prepare_chunk(records: Records, principal: Principal, import_id: str, chunk: Chunk) -> ChunkWrite:
    """Look up which ID numbers are on file and build what the chunk writes. Only the store
    reads here, so the next chunk is prepared while this one is written: the valid rows of a
    workbook never share an ID number (the parser refuses a repeat), so no chunk finds another's files."""
    found = await on_file_by(records, chunk.aliases)
    on_file = {key: d for key, d in found.items() if d["station_id"] == chunk.candidates[key].person.station_id}
    await records.audit_told_elsewhere(principal, list(found.values()))
    new = [candidate for key, candidate in chunk.candidates.items() if key not in found]
    changed: list[tuple[Document, Person, list[FieldChange]]] = []
    refused = 0
    for key, current in on_file.items():
        try:
            person, changes = import_change(records.codec, current, chunk.candidates[key].fields)
        except DomainError:  # the row contradicts the file (say, a returnee's row over a relative's file)
            refused += 1
            continue
        if changes:
            changed.append((current, person, changes))
    now = records.clock()
    stamp = {"updated_at": now, "updated_by": principal.subject}
    registered = {"version": 1, "created_at": now, "created_by": principal.subject, IMPORT_ID: import_id, **stamp}
    history: list[Document] = []
    events: list[tuple[Event, Person]] = [
        (ReturneeRegistered(person=files.snapshot(candidate.person)), candidate.person) for candidate in new
    ]
    changed_files: list[tuple[str | None, list[str]]] = []
    for current, person, changes in changed:
        next_version = person.model_copy(update={"version": current["version"] + 1})
        history += history_entries(next_version, changes, principal, now)
        changed_fields = files.changed_fields(changes)
        events.append((ReturneeUpdated(person=files.snapshot(person), changed_fields=changed_fields), person))
        changed_files.append((person.household_id, changed_fields))
    return ChunkWrite(
        created=[{**candidate.document, **registered} for candidate in new],
        replaced=[
            {**records.codec.to_document(person), **{key: current.get(key) for key in KEPT_ON_CHANGE}, **stamp}
            for current, person, _ in changed
        ],
        versions=[current["version"] for current, _, _ in changed],
        history=history,
        events=events,
        households=reached(changed_files),
        counts={
            "rows_done": chunk.rows,
            "created": len(new),
            "updated": len(changed),
            "unchanged": len(on_file) - len(changed) - refused,
            "refused": refused,
            "elsewhere": len(found) - len(on_file),
            "skipped": chunk.rows - len(chunk.candidates),
        },
    )


async def _replace_all(tx: Transaction, documents: list[Document], versions: list[int]) -> None:
    """Each file replaced only if still at the version read, in one ``bulk_write``."""
    replacements = [
        ReplaceOne({"_id": document["_id"], "version": version}, {**document, "version": version + 1})
        for document, version in zip(documents, versions, strict=True)
    ]
    result = await tx.db[PEOPLE].bulk_write(replacements, session=tx.session)
    if result.matched_count != len(replacements):
        raise ConcurrencyConflict("files of this import changed while it was written; commit again")


async def on_file_by(records: Records, aliases: Mapping[str, K]) -> dict[K, Document]:
    """The stored files of the ID numbers whose blind indexes (any key version) are ``aliases``'
    keys, each under the alias's value."""
    found = find_in(records.db, "id_number_index", aliases)
    return {aliases[document["id_number_index"]]: document async for document in found}


def import_change(codec: PeopleCodec, current: Document, fields: PersonFields) -> tuple[Person, list[FieldChange]]:
    """What a row changes in its stored file: its filled fields only, so a re-import never blanks
    what staff added. Raises the file rules' ``DomainError`` when they refuse the change."""
    patch = fields.model_dump(mode="json", exclude_unset=True, exclude={"status"})
    return files.change(codec.values(current), patch)
