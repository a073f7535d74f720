"""Each person's file shows the cases they raised and how those stand, kept from case events."""

from collections.abc import Iterable

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_records.adapters.cases_events import CaseRead
from liaison_records.adapters.people_store import PEOPLE


async def on_case_event(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """Replace the person's link to this case with its latest state.

    The version is bumped so that a concurrent edit of the file, based on the read before this
    link changed, is refused instead of writing the old links back.
    """
    files = await _showing(tx, case.originators)
    if not files:
        return
    people = {"_id": {"$in": files}}
    await tx.db[PEOPLE].update_many(people, {"$pull": {"cases": {"case_id": case.case_id}}}, session=tx.session)
    link = {"case_id": case.case_id, "status": case.state, "title": case.title, "updated_at": envelope.time}
    await tx.db[PEOPLE].update_many(people, {"$push": {"cases": link}, "$inc": {"version": 1}}, session=tx.session)


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
