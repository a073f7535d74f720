"""Importing a station's existing roster (.xlsx): upload and dry run, adjust the column mapping,
then commit all rows or only the valid ones, as the user chooses.

Rows are upserted by ID number (through the blind index), so importing the same file again
changes nothing. The commit goes in chunks (``import_chunks``), each one transaction with its
history and events; progress is stored, so a commit interrupted half-way is finished by asking
again, or at the next start on behalf of whoever asked (``finish_commits``): an "all or
nothing" import is not left half-stored. One request at a time commits an import: a second one
(a double click) is refused with a 409 while the first holds it, and a hold left by a process
that stopped lapses after ``COMMIT_LEASE``. Each pass over the workbook (dry run, commit) opens
it once and checks each row once; the dry run also looks up the stored files, so it reports the
rows a commit would leave out. An "all or nothing" commit runs the dry run again as it begins,
so that it holds for the files as they are then.

The workbook holds personal data, so it is stored sealed with the PII keyring and kept only while
it is needed: deleted once its import is committed, and after ``KEEP_UPLOADS`` if it never is
(checked at each upload and at each start).
"""

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, suppress
from dataclasses import asdict
from datetime import timedelta
from itertools import islice
from typing import Any, Literal, TypeVar
from uuid import uuid4

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from liaison_infra.auth import Principal
from liaison_infra.domain_errors import Conflict, InvalidInput, NotFound
from liaison_infra.mongo import Document, Transaction
from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from liaison_records.adapters.xlsx_header import effective_header_map
from liaison_records.adapters.xlsx_import import HeaderReport, ParsedRow, UnimportableFile, hostile_part, reading
from liaison_records.service_layer.context import WRITERS, Records, document_view, require
from liaison_records.service_layer.import_check import problems_with_files, read_rows
from liaison_records.service_layer.import_chunks import ChunkWrite, prepare_chunk, read_chunk
from liaison_records.service_layer.import_rows import RowFile, row_file

IMPORTS = "imports"
MAX_REPORTED_PROBLEMS = 1000
MAX_FILE_BYTES = 50 * 1024 * 1024
KEEP_UPLOADS = timedelta(days=7)
WORKBOOK_CONTEXT = "import.workbook"
XLSX_MAGIC = b"PK"  # a zip archive: a workbook stored unsealed
Mode = Literal["all_or_nothing", "valid_rows"]
# What a commit counts: rows read, files created, changed, already the same, refused as a change
# of their file, on file at another station (left alone), and skipped (invalid, or no ID number).
PROGRESS = ("rows_done", "created", "updated", "unchanged", "refused", "elsewhere", "skipped")
# One commit of an import at a time: a request holds it while storing, renewed every third of
# the lease; a claim left by a process that stopped lapses, and asking again goes on from the progress.
CLAIM, CLAIMED_UNTIL = "commit_claim", "commit_claimed_until"
COMMIT_LEASE = timedelta(seconds=30)
COMMITTER = "committer"  # who stored its last chunk (``Principal.claims()``), and in which mode
T = TypeVar("T")

log = logging.getLogger(__name__)


def _bucket(records: Records) -> AsyncGridFSBucket:
    return AsyncGridFSBucket(records.db, bucket_name="import_files")


async def upload(records: Records, principal: Principal, station_id: str, content: bytes) -> Document:
    require(principal, WRITERS, "import rosters")
    station = await records.station_in_scope(principal, station_id)
    if not content:
        raise InvalidInput("empty_file", "the upload is empty", field="file")
    if (part := await asyncio.to_thread(hostile_part, content)) is not None:
        message = f"{part} holds what no spreadsheet program writes (an XML comment or an overlong token)"
        raise InvalidInput("unreadable_file", f"{message}; save the file again from Excel or WPS", field="file")
    await expire_uploads(records)
    import_id = f"imp-{uuid4().hex[:12]}"
    sealed = records.codec.keyring.seal(content, context=WORKBOOK_CONTEXT)
    file_id = await _bucket(records).upload_from_stream(f"{import_id}.xlsx", sealed)
    document: Document = {
        "_id": import_id,
        "station_id": station_id,
        "district_id": station.get("district_id"),  # a district's staff find it through their scope
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
    if document["status"] == "expired":
        raise Conflict("upload_expired", f"uploads are kept {KEEP_UPLOADS.days} days; upload the file again")
    stream = await _bucket(records).open_download_stream(document["file_id"])
    stored = bytes(await stream.read())
    if stored.startswith(XLSX_MAGIC):  # uploaded by a version that kept it in clear
        return stored
    return records.codec.keyring.unseal(stored, context=WORKBOOK_CONTEXT)


async def expire_uploads(records: Records) -> None:
    """Delete the workbooks of imports never committed within ``KEEP_UPLOADS`` (checked at
    each upload: they are few, and a station that stops uploading keeps none for long). One whose
    commit began, or is being asked for, is kept until it is finished."""
    stale = {
        "status": {"$nin": ["committed", "expired", "committing"]},
        "created_at": {"$lt": records.clock() - KEEP_UPLOADS},
        **_unclaimed(records),
    }
    async for document in records.db[IMPORTS].find(stale, {"file_id": 1}):
        await _forget_file(records, document["_id"], document["file_id"], "expired")


async def _forget_file(records: Records, import_id: str, file_id: Any, status: str) -> None:
    """The workbook deleted, its import left at ``status`` with its report and counts."""
    with suppress(NoFile):  # deleted already by a call that stopped before the update
        await _bucket(records).delete(file_id)
    forgotten = {"$set": {"status": status, "file_id": None}, "$unset": {COMMITTER: ""}}
    await records.db[IMPORTS].update_one({"_id": import_id}, forgotten)


async def check(records: Records, principal: Principal, import_id: str, header_map: Mapping[str, str]) -> Document:
    """Dry run with the given column mapping: every problem by row and column, nothing written."""
    document = await _load(records, principal, import_id)
    try:
        effective_header_map(header_map)
    except ValueError as exc:  # a field that does not exist: the caller's mistake, not the file's
        raise InvalidInput("unknown_field", str(exc), field="header_map") from exc
    if document["status"] == "committed":
        raise Conflict("already_committed", "this import is committed; upload the file again to re-import")
    if document["status"] == "committing":  # the rows stored so far were read with the mapping checked
        raise Conflict("commit_in_progress", "this import's commit has begun; commit again to finish it")
    content = await _content(records, document)
    report = await _dry_run(records, principal, content, dict(header_map), document["station_id"])
    checked = {"$set": {"header_map": dict(header_map), "status": "checked", "report": report}}
    unclaimed = {**_free(records, import_id), "status": {"$nin": ["committed", "committing"]}}
    if not (await records.db[IMPORTS].update_one(unclaimed, checked)).matched_count:
        raise Conflict("commit_in_progress", "this import is being committed; its progress shows how far")
    return view({**document, "header_map": dict(header_map), "status": "checked", "report": report})


async def _dry_run(
    records: Records, principal: Principal, content: bytes, header_map: dict[str, str], station_id: str
) -> Document:
    """The parser's problems, the file rules' problems and those the stored files give
    (``import_check``) together, in one pass over the rows."""
    rows = valid = 0
    readable = True
    with ExitStack() as opened:
        header, parsed = await asyncio.to_thread(opened.enter_context, reading(io.BytesIO(content), header_map))
        problems = list(header.problems)
        row_files = _row_files(header, parsed)
        try:
            async for read in _read_ahead(lambda: read_rows(row_files, records.codec)):
                with_files = await problems_with_files(records, principal, station_id, read, header)
                for checked in read.rows:
                    found = [with_files[checked.row_number]] if checked.row_number in with_files else []
                    problems += checked.problems + found
                    rows += 1
                    valid += checked.fields is not None and all(p.severity == "warning" for p in found)
        except UnimportableFile as damaged:  # the sheet breaks off part-way
            problems += damaged.report.problems
            readable = False
    return {
        "sheet": header.sheet,
        "columns": [asdict(column) for column in header.columns],
        "rows": rows,
        "valid_rows": valid,
        "problem_count": len(problems),
        "problems": [asdict(problem) for problem in problems[:MAX_REPORTED_PROBLEMS]],
        "importable": header.ok and readable,
    }


def _row_files(header: HeaderReport, parsed: Iterator[ParsedRow]) -> Iterator[RowFile]:
    """Each row checked by the file rules; none when the header makes the file unimportable."""
    return (row_file(row, header) for row in parsed) if header.ok else iter(())


async def _read_ahead(read: Callable[[], T | None]) -> AsyncIterator[T]:
    """What ``read`` gives, call after call until None. Parsing runs in a thread, so the service
    keeps answering, and the next part is read while the store works on this one."""
    ahead = asyncio.ensure_future(asyncio.to_thread(read))
    try:
        while (part := await ahead) is not None:
            ahead = asyncio.ensure_future(asyncio.to_thread(read))
            yield part
    finally:
        ahead.cancel()


async def commit(records: Records, principal: Principal, import_id: str, mode: Mode) -> Document:
    document = await _load(records, principal, import_id)
    if document["status"] == "committed":
        return view(document)
    claim = uuid4().hex
    claimed = await _claimed(records, import_id, claim)
    if claimed is None:  # committed meanwhile, or being committed (a double click)
        document = await _load(records, principal, import_id)
        if document["status"] == "committed":
            return view(document)
        raise Conflict("commit_in_progress", "this import is being committed; its progress shows how far")
    try:
        async with _holding(records, import_id, claim):
            content = await _content(records, claimed)
            if mode == "all_or_nothing" and not claimed.get("progress"):
                claimed = await _checked_again(records, principal, claimed, claim, content)
            _check_committable(claimed, mode)
            progress = await _commit_rows(records, principal, claimed, claim, mode, content)
        await _forget_file(records, import_id, claimed["file_id"], "committed")
    finally:
        released = {"$unset": {CLAIM: "", CLAIMED_UNTIL: ""}}
        await records.db[IMPORTS].update_one({"_id": import_id, CLAIM: claim}, released)
    return view({**claimed, "status": "committed", "progress": progress, "file_id": None})


async def finish_commits(records: Records) -> None:
    """At start: each commit a stopped process left half-way, finished once its claim lapses on
    behalf of whoever asked for it. One that fails is logged, and left to be asked again."""
    half_way = {"status": "committing", COMMITTER: {"$exists": True}}  # older versions kept no committer
    for document in await records.db[IMPORTS].find(half_way, {CLAIMED_UNTIL: 1, COMMITTER: 1}).to_list():
        lapses = document.get(CLAIMED_UNTIL) or records.clock()
        await asyncio.sleep(max(0.0, (lapses - records.clock()).total_seconds()))
        committer = document[COMMITTER]
        try:
            await commit(records, Principal.from_claims(committer), document["_id"], committer["mode"])
        except Exception as exc:  # one import's failure must not stop the others
            log.warning(
                "an interrupted import commit was not finished",
                extra={"fields": {"id": document["_id"], "error": repr(exc)}},
            )
        else:
            log.info("an interrupted import commit was finished", extra={"fields": {"id": document["_id"]}})


async def _checked_again(
    records: Records, principal: Principal, document: Document, claim: str, content: bytes
) -> Document:
    """The import with a fresh dry run: "all or nothing" holds for the files as they are when
    the commit begins, not as they were at the upload (someone may have registered or moved a
    person of the roster since)."""
    report = await _dry_run(records, principal, content, document["header_map"], document["station_id"])
    read_with = {"_id": document["_id"], CLAIM: claim, "header_map": document["header_map"]}  # not re-mapped since
    await records.db[IMPORTS].update_one(read_with, {"$set": {"report": report}})
    return {**document, "report": report}


def _check_committable(document: Document, mode: Mode) -> None:
    report = document.get("report")
    if report is None or not report["importable"]:
        raise Conflict("not_importable", "the file cannot be imported; see the report's problems")
    if mode == "all_or_nothing" and report["valid_rows"] != report["rows"]:
        raise Conflict(
            "rows_have_problems",
            f"{report['rows'] - report['valid_rows']} rows have problems; fix them or import the valid rows only",
            details={"problem_count": report["problem_count"]},
        )


def _free(records: Records, import_id: str) -> Document:
    """The import, unless committed or held by a commit whose claim has not lapsed."""
    return {"_id": import_id, "status": {"$ne": "committed"}, **_unclaimed(records)}


def _unclaimed(records: Records) -> Document:
    """Held by no commit whose claim has not lapsed."""
    return {CLAIMED_UNTIL: {"$not": {"$gt": records.clock()}}}


async def _claimed(records: Records, import_id: str, claim: str) -> Document | None:
    """The import, taken for this commit; None once committed, or while another request holds it."""
    taken = {"$set": {CLAIM: claim, CLAIMED_UNTIL: records.clock() + COMMIT_LEASE}}
    return await records.db[IMPORTS].find_one_and_update(
        _free(records, import_id), taken, return_document=ReturnDocument.AFTER
    )


@asynccontextmanager
async def _holding(records: Records, import_id: str, claim: str) -> AsyncIterator[None]:
    """The claim renewed every third of its lease while the commit runs (reading a workbook up to
    where an interrupted commit stopped takes a while before the first chunk is stored)."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(COMMIT_LEASE.total_seconds() / 3)
            with suppress(PyMongoError):  # the next round tries again
                renewed = {"$set": {CLAIMED_UNTIL: records.clock() + COMMIT_LEASE}}
                await records.db[IMPORTS].update_one({"_id": import_id, CLAIM: claim}, renewed)

    renewing = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewing.cancel()


async def _commit_rows(
    records: Records, principal: Principal, document: Document, claim: str, mode: Mode, content: bytes
) -> dict[str, int]:
    """Store the rows not yet committed, chunk after chunk, each with the progress after it (and
    who stores it, for ``finish_commits``) in its transaction; returns the progress."""
    import_id = document["_id"]
    progress = {name: 0 for name in PROGRESS} | (document.get("progress") or {})
    station = await records.station_in_scope(principal, document["station_id"])
    rows = _committed_rows(content, document["header_map"], progress["rows_done"])
    committer = {**principal.claims(), "mode": mode}

    async def store(chunk: ChunkWrite) -> None:
        after = {name: progress[name] + chunk.counts.get(name, 0) for name in PROGRESS}

        async def record(tx: Transaction) -> None:
            committing = {"$set": {"progress": after, "status": "committing", COMMITTER: committer}}
            held = await tx.db[IMPORTS].update_one({"_id": import_id, CLAIM: claim}, committing, session=tx.session)
            if not held.matched_count:  # this commit stalled past its lease, and a later one took over
                raise Conflict("commit_taken_over", "another request took this commit over; its progress shows how far")

        await chunk.store(records, record)
        progress.update(after)

    storing: asyncio.Task[None] | None = None  # a chunk is stored while the next one is prepared
    try:
        async for chunk in _read_ahead(lambda: read_chunk(rows, records.codec, station)):
            prepared = await prepare_chunk(records, principal, import_id, chunk)
            if storing is not None:
                await asyncio.shield(storing)  # progress is stored in order
            storing = asyncio.create_task(store(prepared))
    finally:
        if storing is not None:  # a chunk begun is stored whole, whatever stops the rest
            await asyncio.gather(storing, return_exceptions=True)
    if storing is not None:
        storing.result()  # its failure, if the last one failed
    return progress


def _committed_rows(content: bytes, header_map: dict[str, str], done: int) -> Iterator[RowFile]:
    """The rows from the first one not yet committed, from one opening of the workbook (the rows
    before it are parsed, which checks repeats, but not checked by the file rules)."""
    with reading(io.BytesIO(content), header_map) as (header, parsed):
        yield from _row_files(header, islice(parsed, done, None))


async def read_import(records: Records, principal: Principal, import_id: str) -> Document:
    return view(await _load(records, principal, import_id))


def view(document: Document) -> Document:
    shown = document_view(
        {key: value for key, value in document.items() if key not in (CLAIM, CLAIMED_UNTIL, COMMITTER)}
    )
    shown["file_id"] = str(shown["file_id"]) if shown.get("file_id") else None
    return shown
