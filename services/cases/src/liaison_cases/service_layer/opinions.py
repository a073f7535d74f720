"""Every opinion raised on a visit or at an activity becomes one case in the collected state.

The case id is derived from the opinion id, so a redelivered or replayed event finds its case
already there: exactly one case per opinion, whatever the bus does. An opinion of a person
erased before it arrived opens its case as their erasure leaves one (``erasure``).
"""

from liaison_infra.auth import Role
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_cases.adapters import links_store
from liaison_cases.adapters.records_events import ActivityRead, OpinionRead, VisitRead
from liaison_cases.adapters.store import CASES, to_document
from liaison_cases.domain import cases as rules
from liaison_cases.domain.announcements import announcements
from liaison_cases.domain.cases import Actor, Case, Kind
from liaison_cases.service_layer.erasure import ERASED_TEXT
from liaison_cases.service_layer.statistics import count_change

OPINION_TITLE_LENGTH = 30  # a case opened from an opinion is titled by its first words


async def _open_for(
    opinions: list[OpinionRead], source: str, ref_id: str, deputy_ids: list[str], envelope: Envelope, tx: Transaction
) -> None:
    collector = Actor(subject=deputy_ids[0] if deputy_ids else envelope.source, roles=frozenset({Role.DEPUTY}))
    raised: dict[str, OpinionRead] = {}
    for opinion in opinions:
        raised.setdefault(f"c-{opinion.opinion_id}", opinion)
    found = tx.db[CASES].find({"_id": {"$in": list(raised)}}, {"_id": 1}, session=tx.session)
    opened = {case["_id"] async for case in found}  # a redelivered or replayed event's
    new = {case_id: opinion for case_id, opinion in raised.items() if case_id not in opened}
    gone = await links_store.erased(tx, [opinion.person_id for opinion in new.values() if opinion.person_id])
    for case_id, opinion in new.items():
        erased = opinion.person_id in gone
        text = ERASED_TEXT if erased else opinion.text
        case = Case(
            id=case_id,
            station_id=envelope.station_id or "",
            district_id=envelope.district_id,
            kind=Kind(opinion.kind) if opinion.kind in Kind._value2member_map_ else Kind.OPINION,
            title=text[:OPINION_TITLE_LENGTH],
            content=text,
            origin={"source": source, "ref_id": ref_id, "opinion_id": opinion.opinion_id},
            originators=[opinion.person_id] if opinion.person_id and not erased else [],
            erased_originators=int(erased),
            household_id=opinion.household_id,
            deputy_ids=deputy_ids,
        )
        case = rules.collected(case, collector, envelope.time)
        await tx.insert(CASES, to_document(case))
        await count_change(tx, None, case)
        for event in announcements(case):
            tx.publish(event, subject=case.id, station_id=case.station_id, district_id=case.district_id)


async def on_visit_logged(visit: VisitRead, envelope: Envelope, tx: Transaction) -> None:
    await _open_for(visit.opinions, "visit", visit.visit_id, visit.deputy_ids, envelope, tx)


async def on_activity_held(activity: ActivityRead, envelope: Envelope, tx: Transaction) -> None:
    await _open_for(activity.opinions, "activity", activity.activity_id, activity.deputy_ids, envelope, tx)
