"""When records erases a person (PIPL), cases keep their figures but drop the person: the id
leaves every case they raised, only a count of erased originators remains, and the read model
keeps nothing of them but a tombstone (so no replayed event brings their name back)."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_cases.adapters import links_store
from liaison_cases.adapters.case_keys import keyed
from liaison_cases.adapters.records_events import ErasedRead
from liaison_cases.adapters.store import CASES


async def on_returnee_erased(erased: ErasedRead, envelope: Envelope, tx: Transaction) -> None:
    await tx.db[CASES].update_many(
        {"originators": erased.person_id},
        {
            "$pull": {"originators": erased.person_id, "facets": keyed("person", [erased.person_id])[0]},
            "$inc": {"erased_originators": 1, "version": 1},
        },
        session=tx.session,
    )
    await links_store.erase_person(tx, erased.person_id, envelope.time)
