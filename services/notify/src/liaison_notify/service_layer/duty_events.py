"""How records and cases events move duties: fulfil them, follow a household to its new deputy,
and create or reschedule the duty that watches a case's deadline.

A visit or an activity may arrive before the scan has generated the duty it fulfils (or for a
household generation never saw); since duty ids are deterministic, the handler then stores that
duty already fulfilled, and the scan's insert-only upsert leaves it so.
"""

from datetime import date, datetime

from liaison_infra.clock import china_day
from liaison_infra.envelope import Envelope
from liaison_infra.mongo import Transaction

from liaison_notify.adapters import deliveries_store, duties_store, messages_store
from liaison_notify.adapters.households_store import HOUSEHOLDS, district_of, record_household, remember_station
from liaison_notify.adapters.rules_store import rulebook_for
from liaison_notify.adapters.upstream_events import ActivityRead, AssignmentRead, CaseRead, HouseholdRead, VisitRead
from liaison_notify.domain.duties import Duty, DutyStatus, duty_id, new_duty
from liaison_notify.domain.duty_messages import readdressed
from liaison_notify.domain.events import DutyFulfilled, about
from liaison_notify.domain.periods import case_window
from liaison_notify.domain.rules import Rule, RuleKind
from liaison_notify.service_layer.planning import Plans, store_new

CASE_RULE = "case_deadline"
CONDOLENCE = "condolence"  # the visit kind (慰问) a festival visit asks for


async def on_household_changed(household: HouseholdRead, envelope: Envelope, tx: Transaction) -> None:
    await remember_station(tx, household.station_id, envelope.district_id)
    deputy_id = await record_household(
        tx,
        household.household_id,
        envelope.time,
        station_id=household.station_id,
        district_id=envelope.district_id,
        deputy_id=household.deputy_id,
        details={"hardship": household.hardship, "elderly": household.elderly},
    )
    await _follow_deputy(tx, household.household_id, deputy_id, envelope.time)


async def on_assignment_changed(assignment: AssignmentRead, envelope: Envelope, tx: Transaction) -> None:
    await remember_station(tx, assignment.station_id, envelope.district_id)
    deputy_id = await record_household(
        tx,
        assignment.household_id,
        envelope.time,
        station_id=assignment.station_id,
        district_id=envelope.district_id,
        deputy_id=assignment.deputy_id,
    )
    await _follow_deputy(tx, assignment.household_id, deputy_id, envelope.time)


async def _follow_deputy(tx: Transaction, household_id: str, deputy_id: str | None, now: datetime) -> None:
    """Open duties move to the new deputy: their remaining reminders go to them from now on, and
    so does one released to the old deputy but not sent yet (one being sent goes on: it would
    reach both)."""
    open_duties = await duties_store.find(tx, {"subject_id": household_id, "status": DutyStatus.OPEN})
    moves = [(duty, moved) for duty in open_duties if (moved := duty.reassign(deputy_id))]
    await duties_store.save(tx, moves)
    for before, after in moves:
        pending = await messages_store.pending_of_duty(tx, before.recipient_id, before.id)
        sending = await deliveries_store.in_flight(tx, [message.key for message in pending], now)
        waiting = [message for message in pending if message.key not in sending]  # one under way goes on
        await messages_store.drop(tx.db, [m.key for m in waiting], now, "reassigned", session=tx.session)
        now_theirs = [readdressed(message, after) for message in waiting]
        stored = set(await messages_store.enqueue(tx, now_theirs, now))
        await messages_store.revive(tx, [message.key for message in now_theirs if message.key not in stored])


async def on_visit_logged(visit: VisitRead, envelope: Envelope, tx: Transaction) -> None:
    """A visit fulfils each visited household's monthly visit; a condolence visit (慰问) also its
    festival visit in its window, which a routine visit (走访) does not: the festival asks for one."""
    district = envelope.district_id or await district_of(tx.db, visit.station_id)
    plans = Plans(await rulebook_for(tx.db, visit.station_id, district, tx.session), visit.visited_on)
    visited = tx.db[HOUSEHOLDS].find({"_id": {"$in": visit.household_ids}}, session=tx.session)
    stored = {doc["_id"]: doc async for doc in visited}
    expected = []
    for household_id in visit.household_ids:
        household = stored.get(household_id, {"station_id": visit.station_id})
        station_id = household["station_id"]
        expected += [
            new_duty(
                rule,
                window,
                subject_id=household_id,
                station_id=station_id,
                district_id=household.get("district_id") or district,
                deputy_id=household.get("deputy_id"),
                made_at=envelope.time,
            )
            for rule, window in plans.for_household(station_id, district, household)
        ]
    # A duty owed already stays owed: a festival visit made while the household was a hardship one
    # is fulfilled by this visit even if the flag has been cleared since.
    owed = await duties_store.find(tx, {"subject_id": {"$in": visit.household_ids}, "status": DutyStatus.OPEN})
    planned = {duty.id for duty in expected}
    expected += [duty for duty in owed if duty.id not in planned]
    if visit.kind != CONDOLENCE:
        expected = [duty for duty in expected if duty.kind != RuleKind.FESTIVAL_VISIT]
    await _settle(tx, envelope, expected, visit.household_ids, visit.visited_on, f"visit:{visit.visit_id}")


async def on_activity_held(activity: ActivityRead, envelope: Envelope, tx: Transaction) -> None:
    """A lecture or a study session fulfils the station's duty of that kind for its quarter."""
    await remember_station(tx, activity.station_id, envelope.district_id)
    district = envelope.district_id or await district_of(tx.db, activity.station_id)
    plans = Plans(await rulebook_for(tx.db, activity.station_id, district, tx.session), activity.held_on)
    expected = [
        new_duty(
            rule,
            window,
            subject_id=activity.station_id,
            station_id=activity.station_id,
            district_id=district,
            deputy_id=None,
            made_at=envelope.time,
        )
        for rule, window in plans.for_station(activity.station_id, district)
        if rule.activity_kind == activity.kind
    ]
    if expected:
        by = f"activity:{activity.activity_id}"
        await _settle(tx, envelope, expected, [activity.station_id], activity.held_on, by)


async def on_case_scheduled(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """A case assigned with a deadline gets a duty watching it; a changed deadline moves the duty."""
    if case.due is None:
        return
    district, rule = await _case_rule(tx, case, envelope)
    stored = await duties_store.find(tx, {"_id": duty_id(CASE_RULE, case.case_id, "deadline")})
    if stored:
        moved = stored[0].reschedule(rule, case_window(china_day(stored[0].window_start), case.due), envelope.time)
        await duties_store.save(tx, [(stored[0], moved)] if moved else [])
    elif rule.enabled:
        window = case_window(china_day(envelope.time), case.due)
        duty = new_duty(
            rule,
            window,
            subject_id=case.case_id,
            station_id=case.station_id,
            district_id=district,
            deputy_id=None,
            made_at=envelope.time,
        )
        await store_new(tx, [duty])


async def on_case_reopened(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """不满意: the case is handled again, and its deadline duty watches it again."""
    stored = await duties_store.find(tx, {"_id": duty_id(CASE_RULE, case.case_id, "deadline")})
    if case.due is None or not stored:
        return
    _, rule = await _case_rule(tx, case, envelope)
    window = case_window(china_day(stored[0].window_start), case.due)
    reopened = stored[0].reopen(rule, window, envelope.time)
    await duties_store.save(tx, [(stored[0], reopened)] if reopened else [])


async def _case_rule(tx: Transaction, case: CaseRead, envelope: Envelope) -> tuple[str | None, Rule]:
    """The case's district and the deadline rule in force at its station."""
    district = envelope.district_id or await district_of(tx.db, case.station_id)
    book = await rulebook_for(tx.db, case.station_id, district, tx.session)
    return district, book.rule(CASE_RULE, case.station_id, district)


async def on_case_answered(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """A reply or a closing ends the case's deadline duty: fulfilled, or resolved late when overdue."""
    stored = await duties_store.find(tx, {"_id": duty_id(CASE_RULE, case.case_id, "deadline")})
    await _settle(tx, envelope, stored, [case.case_id], china_day(envelope.time), f"case:{case.state}")


async def on_case_merged(case: CaseRead, envelope: Envelope, tx: Transaction) -> None:
    """A merge announces both cases: the one merged away (``merged_into``) is answered, as by a
    reply; the surviving one's duty carries on."""
    if case.merged_into:
        await on_case_answered(case, envelope, tx)


async def _settle(
    tx: Transaction, envelope: Envelope, expected: list[Duty], subjects: list[str], day: date, by: str
) -> None:
    """Fulfil the expected duties done on ``day``, storing those not generated yet already
    fulfilled, and resolve the subjects' missed duties of the same rules late."""
    rule_ids = sorted({duty.rule_id for duty in expected})
    stored = {
        duty.id: duty
        for duty in await duties_store.find(tx, {"_id": {"$in": [duty.id for duty in expected]}})
        + await duties_store.find(
            tx, {"subject_id": {"$in": subjects}, "status": DutyStatus.MISSED, "rule_id": {"$in": rule_ids}}
        )
    }
    candidates = [*stored.values(), *(duty for duty in expected if duty.id not in stored)]
    done = [(duty, after) for duty in candidates if duty.done_by(day) and (after := duty.fulfil(by, envelope.time))]
    await store_new(tx, [after for _, after in done if not after.version])
    await duties_store.save(tx, [(before, after) for before, after in done if after.version])
    for before, after in done:
        late = before.status == DutyStatus.MISSED
        event = DutyFulfilled.model_validate({**about(after), "fulfilled_by": by, "late": late})
        tx.publish(event, subject=after.id, station_id=after.station_id, district_id=after.district_id)
