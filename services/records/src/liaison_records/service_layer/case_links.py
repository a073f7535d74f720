"""Each person's file shows the cases they raised and how those stand, kept from case events."""

from collections.abc import Iterable

from liaison_infra.clock import utc_now
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Document, Transaction

from liaison_records.adapters.cases_events import CaseRead
from liaison_records.adapters.people_store import PEOPLE
from liaison_records.domain.files import FieldChange
from liaison_records.service_layer.history import HISTORY, stored_file_entries


async def on_case_event(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """Replace the person's link to this case with its latest state, and keep a change of its
    status in the file's history (by the cases service, when the file took it in).

    The version is bumped so that a concurrent edit of the file, based on the read before this
    link changed, is refused instead of writing the old links back.
    """
    files = await _showing(tx, case.originators)
    if not files:
        return
    people = {"_id": {"$in": files}}
    facts = {"station_id": 1, "district_id": 1, "version": 1, "cases": 1}
    current = await tx.db[PEOPLE].find(people, facts, session=tx.session).to_list()
    await tx.db[PEOPLE].update_many(people, {"$pull": {"cases": {"case_id": case.case_id}}}, session=tx.session)
    link = {"case_id": case.case_id, "status": case.state, "title": case.title, "updated_at": envelope.time}
    await tx.db[PEOPLE].update_many(people, {"$push": {"cases": link}, "$inc": {"version": 1}}, session=tx.session)
    entries: list[Document] = []
    for file in current:
        entries += stored_file_entries(file, [_status_change(file, case)], envelope.source, utc_now())
    if entries:
        await tx.db[HISTORY].insert_many(entries, session=tx.session)


def _status_change(file: Document, case: CaseRead) -> FieldChange:
    before = next((link["status"] for link in file.get("cases", []) if link["case_id"] == case.case_id), None)
    return FieldChange(field=f"cases.{case.case_id}", before=before, after=case.state)


async def _showing(tx: Transaction, person_ids: Iterable[str]) -> list[str]:
    """The files that show these people's cases: each one's own and the files it was merged
    into (the kept file carries its duplicates' cases); an erased file shows none."""
    showing: set[str] = set()
    wanted = sorted(set(person_ids))
    while wanted:
        cursor = tx.db[PEOPLE].find({"_id": {"$in": wanted}}, {"status": 1, "merged_into": 1}, session=tx.session)
        live = [document async for document in cursor if document.get("status") != "erased"]
        showing |= {document["_id"] for document in live}
        wanted = sorted({d["merged_into"] for d in live if d.get("merged_into")} - showing)
    return sorted(showing)
