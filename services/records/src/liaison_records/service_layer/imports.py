"""Importing a station's existing roster (.xlsx): upload and dry run, adjust the column mapping,
then commit all rows or only the valid ones, as the user chooses.

Rows are upserted by ID number (through the blind index), so importing the same file again
changes nothing. The commit goes in chunks, each one transaction with its history and events;
progress is stored, so a commit interrupted half-way is finished by asking again.
"""

import asyncio
import io
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from itertools import islice
from typing import Any, Literal
from uuid import uuid4

from gridfs import AsyncGridFSBucket
from liaison_infra.auth import Principal
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction

from liaison_records.adapters.people_store import PEOPLE
from liaison_records.adapters.xlsx_import import read_header, read_rows
from liaison_records.domain import files
from liaison_records.domain.events import ReturneeRegistered, ReturneeUpdated
from liaison_records.domain.files import FieldChange, Person
from liaison_records.domain.people import PersonFields
from liaison_records.service_layer.context import WRITERS, Records, document_view, require
from liaison_records.service_layer.import_rows import RowFile, row_file
from liaison_records.service_layer.people import HISTORY, history_entries

IMPORTS = "imports"
CHUNK_ROWS = 500
LOOKUP_BATCH = 50  # the station's server compares each candidate with every key of an $in
MAX_REPORTED_PROBLEMS = 1000
MAX_FILE_BYTES = 50 * 1024 * 1024
Mode = Literal["all_or_nothing", "valid_rows"]


def _bucket(records: Records) -> AsyncGridFSBucket:
    return AsyncGridFSBucket(records.db, bucket_name="import_files")


async def upload(records: Records, principal: Principal, station_id: str, content: bytes) -> Document:
    require(principal, WRITERS, "import rosters")
    await records.station_in_scope(principal, station_id)
    if not content:
        raise InvalidInput("empty_file", "the upload is empty", field="file")
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput("file_too_large", f"the file is over {MAX_FILE_BYTES // 2**20} MB", field="file")
    import_id = f"imp-{uuid4().hex[:12]}"
    file_id = await _bucket(records).upload_from_stream(f"{import_id}.xlsx", content)
    document = {
        "_id": import_id,
        "station_id": station_id,
        "file_id": file_id,
        "header_map": {},
        "status": "uploaded",
        "created_by": principal.subject,
        "created_at": records.clock(),
    }
    await records.db[IMPORTS].insert_one(document)
    return await check(records, principal, import_id, {})


async def _load(records: Records, principal: Principal, import_id: str) -> Document:
    require(principal, WRITERS, "import rosters")
    document = await records.db[IMPORTS].find_one({"_id": import_id, **principal.scope_filter()})
    if document is None:
        raise NotFound("import_not_found", f"no import {import_id}")
    return document


async def _content(records: Records, document: Document) -> bytes:
    stream = await _bucket(records).open_download_stream(document["file_id"])
    return bytes(await stream.read())


async def check(records: Records, principal: Principal, import_id: str, header_map: Mapping[str, str]) -> Document:
    """Dry run with the given column mapping: every problem by row and column, nothing written."""
    document = await _load(records, principal, import_id)
    if document["status"] == "committed":
        raise Conflict("already_committed", "this import is committed; upload the file again to re-import")
    content = await _content(records, document)
    report = await asyncio.to_thread(_dry_run, content, dict(header_map))
    await records.db[IMPORTS].update_one(
        {"_id": import_id}, {"$set": {"header_map": dict(header_map), "status": "checked", "report": report}}
    )
    return view({**document, "header_map": dict(header_map), "status": "checked", "report": report})


def _dry_run(content: bytes, header_map: dict[str, str]) -> Document:
    """The parser's problems and the file rules' problems together, in one pass over the rows."""
    header = read_header(io.BytesIO(content), header_map)
    problems = list(header.problems)
    rows = valid = 0
    if header.ok:
        for row in read_rows(io.BytesIO(content), header_map):
            checked = row_file(row, header)
            problems.extend(checked.problems)
            rows += 1
            valid += checked.fields is not None
    return {
        "sheet": header.sheet,
        "columns": [asdict(column) for column in header.columns],
        "rows": rows,
        "valid_rows": valid,
        "problem_count": len(problems),
        "problems": [asdict(problem) for problem in problems[:MAX_REPORTED_PROBLEMS]],
        "importable": header.ok,
    }


async def commit(records: Records, principal: Principal, import_id: str, mode: Mode) -> Document:
    document = await _load(records, principal, import_id)
    report = document.get("report")
    if report is None or not report["importable"]:
        raise Conflict("not_importable", "the file cannot be imported; see the report's problems")
    if mode == "all_or_nothing" and report["valid_rows"] != report["rows"]:
        raise Conflict(
            "rows_have_problems",
            f"{report['rows'] - report['valid_rows']} rows have problems; fix them or import the valid rows only",
            details={"problem_count": report["problem_count"]},
        )
    content = await _content(records, document)
    progress = document.get("progress") or {"rows_done": 0, "created": 0, "updated": 0, "unchanged": 0, "skipped": 0}
    station = await records.station_in_scope(principal, document["station_id"])
    rows = _row_files(content, document["header_map"])
    await asyncio.to_thread(lambda: list(islice(rows, progress["rows_done"])))  # resume after what is done
    # Parsing runs in a thread so the service keeps answering during a long commit.
    while chunk := await asyncio.to_thread(lambda: list(islice(rows, CHUNK_ROWS))):
        counts = await _commit_chunk(records, principal, station, chunk)
        for key, value in counts.items():
            progress[key] += value
        progress["rows_done"] += len(chunk)
        await records.db[IMPORTS].update_one(
            {"_id": import_id}, {"$set": {"progress": progress, "status": "committing"}}
        )
    await records.db[IMPORTS].update_one({"_id": import_id}, {"$set": {"status": "committed"}})
    return view({**document, "status": "committed", "progress": progress})


def _row_files(content: bytes, header_map: dict[str, str]) -> Iterator[RowFile]:
    source = io.BytesIO(content)
    header = read_header(io.BytesIO(content), header_map)
    return (row_file(row, header) for row in read_rows(source, header_map))


async def _commit_chunk(
    records: Records, principal: Principal, station: Document, chunk: list[RowFile]
) -> dict[str, int]:
    """Upsert one chunk of rows by ID number in one transaction, with history and events."""
    valid = [row.fields for row in chunk if row.fields is not None and row.fields.id_number]
    indexes = {records.codec.id_number_indexes(fields.id_number)[0]: fields for fields in valid if fields.id_number}
    keys = list(indexes)
    existing = {
        doc["id_number_index"]: doc
        for start in range(0, len(keys), LOOKUP_BATCH)
        for doc in await records.db[PEOPLE]
        .find({"id_number_index": {"$in": keys[start : start + LOOKUP_BATCH]}})
        .to_list()
    }
    new_people: list[Person] = []
    changed: list[tuple[Document, Person, list[FieldChange]]] = []
    unchanged = 0
    for index, fields in indexes.items():
        current = existing.get(index)
        if current is None:
            new_people.append(
                files.register(
                    fields,
                    person_id=f"p-{uuid4().hex[:12]}",
                    station_id=station["_id"],
                    district_id=station.get("district_id"),
                )
            )
            continue
        person = records.codec.to_person(current)
        updated, changes = files.change(person, _import_patch(fields))
        if changes:
            changed.append((current, updated, changes))
        else:
            unchanged += 1
    now = records.clock()
    stamp = {"updated_at": now, "updated_by": principal.subject}

    async def write(tx: Transaction) -> None:
        if new_people:
            documents = [
                {
                    **records.codec.to_document(p),
                    "version": 1,
                    "created_at": now,
                    "created_by": principal.subject,
                    **stamp,
                }
                for p in new_people
            ]
            await tx.db[PEOPLE].insert_many(documents, session=tx.session)
        entries: list[Document] = []
        for person in new_people:
            entries += history_entries(person, [FieldChange(field="*", before=None, after="imported")], principal, now)
            tx.publish(
                ReturneeRegistered(person=files.snapshot(person)),
                subject=person.id,
                station_id=person.station_id,
                district_id=person.district_id,
            )
        for current, person, changes in changed:
            stored = {
                **records.codec.to_document(person),
                **{k: current.get(k) for k in ("created_at", "created_by", "deputy_id", "cases")},
                **stamp,
            }
            version = await tx.replace(PEOPLE, stored, expected_version=current["version"])
            entries += history_entries(person.model_copy(update={"version": version}), changes, principal, now)
            tx.publish(
                ReturneeUpdated(
                    person=files.snapshot(person), changed_fields=sorted({c.field.split(".")[0] for c in changes})
                ),
                subject=person.id,
                station_id=person.station_id,
                district_id=person.district_id,
            )
        if entries:
            await tx.db[HISTORY].insert_many(entries, session=tx.session)

    await records.runtime.transaction(write)
    return {
        "created": len(new_people),
        "updated": len(changed),
        "unchanged": unchanged,
        "skipped": len(chunk) - len(valid) + (len(valid) - len(indexes)),
    }


def _import_patch(fields: PersonFields) -> dict[str, Any]:
    """What a row says: its filled fields only, so a re-import never blanks what staff added."""
    return fields.model_dump(mode="json", exclude_unset=True, exclude={"status"})


async def read_import(records: Records, principal: Principal, import_id: str) -> Document:
    return view(await _load(records, principal, import_id))


def view(document: Document) -> Document:
    shown = document_view(document)
    shown["file_id"] = str(shown["file_id"])
    return shown
