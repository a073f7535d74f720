"""When records erases a person (PIPL), cases keep their figures but drop the person: the id
leaves every case they raised, only a count of erased originators remains, and the read model
keeps nothing of them but a tombstone (so no replayed event brings their name back).

A case they raised alone holds their words: its title and content are blanked, as records blanks
their opinions, and so are the events about it that the outbox retains for a replay. An opinion
of theirs that arrives after the erasure (the bus orders no two topics) opens its case already
erased (``opinions``)."""

from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Document, Transaction, redact_retained

from liaison_cases.adapters import links_store
from liaison_cases.adapters.case_keys import keyed
from liaison_cases.adapters.records_events import ErasedRead
from liaison_cases.adapters.store import CASES

ERASED_TEXT = "（已应本人要求删除）"  # what records writes in place of an erased person's opinion


async def on_returnee_erased(erased: ErasedRead, envelope: Envelope, tx: Transaction) -> None:
    person = erased.person_id
    cases = tx.db[CASES]
    found = cases.find({"originators": person}, {"originators": 1}, session=tx.session)
    raised = {case["_id"]: case["originators"] async for case in found}
    alone = [case_id for case_id, originators in raised.items() if originators == [person]]
    await cases.update_many(
        {"_id": {"$in": alone}}, {"$set": {"title": ERASED_TEXT, "content": ERASED_TEXT}}, session=tx.session
    )
    await cases.update_many(
        {"originators": person},
        {
            "$pull": {"originators": person, "facets": keyed("person", [person])[0]},
            "$inc": {"erased_originators": 1, "version": 1},
        },
        session=tx.session,
    )
    await redact_retained(tx, list(raised), lambda data: _without(data, person, set(alone)))
    await links_store.erase_person(tx, person, envelope.time)


def _without(data: Document, person: str, blanked: set[str]) -> Document:
    """A case event's data as a replay may send it again: without the person, and without the
    title of a case they raised alone."""
    redacted = {**data, "originators": [o for o in data["originators"] if o != person]}
    if data["case_id"] in blanked:
        redacted["title"] = ERASED_TEXT
    return redacted
