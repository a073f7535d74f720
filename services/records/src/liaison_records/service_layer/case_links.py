"""Each person's file shows the cases they raised and how those stand, kept from case events."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_records.adapters.cases_events import CaseRead
from liaison_records.adapters.people_store import PEOPLE


async def on_case_event(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """Replace the person's link to this case with its latest state.

    The version is bumped so that a concurrent edit of the file, based on the read before this
    link changed, is refused instead of writing the old links back.
    """
    if not case.originators:
        return
    people = {"_id": {"$in": case.originators}}
    await tx.db[PEOPLE].update_many(people, {"$pull": {"cases": {"case_id": case.case_id}}}, session=tx.session)
    link = {"case_id": case.case_id, "status": case.state, "title": case.title, "updated_at": envelope.time}
    await tx.db[PEOPLE].update_many(people, {"$push": {"cases": link}, "$inc": {"version": 1}}, session=tx.session)
