"""When records erases a person (PIPL), cases keep their figures but drop the person: the id
leaves every case they raised, and only a count of erased originators remains."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_cases.adapters.records_events import ErasedRead
from liaison_cases.adapters.store import CASES


async def on_returnee_erased(erased: ErasedRead, envelope: Envelope, tx: Transaction) -> None:
    await tx.db[CASES].update_many(
        {"originators": erased.person_id},
        {"$pull": {"originators": erased.person_id}, "$inc": {"erased_originators": 1, "version": 1}},
        session=tx.session,
    )
