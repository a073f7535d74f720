"""The periodic scans Celery beat triggers: generate duties, release due reminders, close windows.

Each is idempotent and safe to run concurrently or repeatedly: duties have deterministic ids and
are inserted only when not stored yet, every change is a compare-and-set on the duty's version, and messages
are stored under their idempotency key. Work goes in batches (one transaction writes hundreds of
documents), because the station's server does hundreds of transactions a second, not thousands.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial

from liaison_infra.clock import china_day
from liaison_infra.envelope import Event
from liaison_infra.mongo import ConcurrencyConflict, Document, Transaction
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError

from liaison_notify.adapters import duties_store, release_mark
from liaison_notify.adapters.households_store import HOUSEHOLDS, STATIONS
from liaison_notify.adapters.messages_store import enqueue
from liaison_notify.adapters.rules_store import load_rulebook
from liaison_notify.domain.duties import Duty, new_duty
from liaison_notify.domain.duty_messages import escalation_message, reminder_message, unroutable_messages
from liaison_notify.domain.events import DutyMissed, about
from liaison_notify.domain.messages import Message
from liaison_notify.domain.rules import Rule
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.planning import Plans, store_new

log = logging.getLogger(__name__)
BATCH = 500


async def generate_duties(notify: Notify, now: datetime) -> int:
    """Create the duty instances of every period under way at ``now``; returns how many were new.

    Each station on its own: one whose data makes its generation fail is logged and tried again
    at the next run, and the others still get their duties (the store being away fails them all)."""
    plans = Plans(await load_rulebook(notify.db), china_day(now))
    created = 0
    async for station in notify.db[STATIONS].find({}):
        try:
            created += await _generate_for_station(notify, plans, station["_id"], station.get("district_id"), now)
        except ConnectionFailure:
            raise
        except Exception:
            fields = {"station": station["_id"]}
            log.exception("the station's duties could not be generated; tried again next run", extra={"fields": fields})
    return created


async def _generate_for_station(
    notify: Notify, plans: Plans, station_id: str, district: str | None, now: datetime
) -> int:
    """The station's own duties and its households', stored in batches."""
    owed = [
        new_duty(
            rule,
            window,
            subject_id=station_id,
            station_id=station_id,
            district_id=district,
            deputy_id=None,
            made_at=now,
        )
        for rule, window in plans.for_station(station_id, district)
    ]
    async for household in notify.db[HOUSEHOLDS].find({"station_id": station_id}, batch_size=BATCH):
        owed += [
            new_duty(
                rule,
                window,
                subject_id=household["_id"],
                station_id=station_id,
                district_id=household.get("district_id") or district,
                deputy_id=household.get("deputy_id"),
                made_at=now,
            )
            for rule, window in plans.for_household(station_id, district, household)
        ]
    return await _store_new(notify, owed)


BatchStep = Callable[[Duty, Rule], tuple[Duty, list[Message]]]
# Told the keys of each batch's new messages once they are stored, to hand them to the deliverers.
HandOut = Callable[[list[str]], None]


async def _in_batches(
    notify: Notify,
    query: Document,
    step: BatchStep,
    announce: Callable[[Duty], Event] | None = None,
    hand_out: HandOut | None = None,
) -> tuple[int, int]:
    """Apply ``step`` to the duties matching ``query``, a batch per transaction, each read once
    (``duties_store.matching``). Every change is a compare-and-set on the version read, so a batch
    that met a duty changed since (an event fulfilled it, another scan ran) is read again by id,
    keeping those still matching, and done again; a duty the cursor did not bring, changed into
    the query meanwhile, waits for the next scan. Returns how many duties, and how many messages
    were new."""

    async def work(tx: Transaction, read: list[Duty]) -> tuple[int, list[str]]:
        book = await load_rulebook(tx.db, session=tx.session)
        changed, produced = [], []
        for duty in read:
            after, out = step(duty, book.rule(duty.rule_id, duty.station_id, duty.district_id))
            changed.append((duty, after))
            produced += out
            if announce is not None:
                tx.publish(announce(after), subject=duty.id, station_id=duty.station_id, district_id=duty.district_id)
        await duties_store.save(tx, changed)
        return len(read), await enqueue(tx, produced, notify.clock())  # due from when stored

    duties = messages = 0
    async for read in duties_store.matching(notify.db, query, BATCH):
        while True:
            try:
                batch_duties, new = await notify.runtime.transaction(partial(work, read=read))
                break
            except ConcurrencyConflict:  # read again those still matching
                ids = [duty.id for duty in read]
                read = await notify.runtime.transaction(partial(duties_store.find_among, ids=ids, query=query))
        if hand_out is not None:
            hand_out(new)
        duties, messages = duties + batch_duties, messages + len(new)
    return duties, messages


async def release_due_reminders(notify: Notify, now: datetime, hand_out: HandOut | None = None) -> int:
    """Enqueue the reminders of open duties that are due at ``now``, each batch's new messages
    given to ``hand_out`` once stored (a month's fan-out is delivered while the scan still
    releases, instead of after it); returns how many new messages.

    The reminders timed since the last scan (``release_mark``) are found by their times and
    write nothing on their duties; duties whose catch-up is due are written, to clear it. A
    message produced twice (a catch-up that is also in the range, two scans at once, a scan
    stopped midway and repeated) is stored once.
    """
    mark = await release_mark.released_to(notify.db)
    after = min(mark, now) if mark else None

    def release(duty: Duty, rule: Rule) -> tuple[Duty, list[Message]]:
        released, reminder = duty.release(after, now, rule.quiet_hours)
        return released, [reminder_message(duty, rule, reminder)] if reminder and rule.enabled else []

    timed = {"$gt": after, "$lte": now} if after else {"$lte": now}
    messages = 0
    for query in ({"catch_up_at": {"$lte": now}}, {"reminders.at": timed}):
        messages += (await _in_batches(notify, {**query, "status": "open"}, release, hand_out=hand_out))[1]
    await release_mark.advance(notify.db, now)
    return messages


async def close_windows(notify: Notify, now: datetime) -> int:
    """Mark open duties past their window missed and take every escalation step that is due;
    returns how many duties were missed plus how many escalation messages went out. The duties of
    a rule switched off remind and escalate no more."""

    def escalate(duty: Duty, rule: Rule) -> tuple[Duty, list[Message]]:
        taken, due = duty.escalate_due(now)
        return taken, [escalation_message(duty, rule, step) for step in due] if rule.enabled else []

    def miss(duty: Duty, rule: Rule) -> tuple[Duty, list[Message]]:
        # A rule switched off since its duty was made: the miss is recorded, nobody is told.
        missed = duty.miss(rule if rule.enabled else rule.model_copy(update={"escalation": ()}))
        taken, messages = escalate(missed, rule)
        return taken, messages + unroutable_messages(missed, rule)

    def announce(duty: Duty) -> Event:
        return DutyMissed.model_validate(
            {**about(duty), "escalate_to": [e.recipient_id for e in duty.escalations if e.recipient_id]}
        )

    missed, first_steps = await _in_batches(notify, {"status": "open", "window_end": {"$lte": now}}, miss, announce)
    _, later_steps = await _in_batches(notify, {"next_escalation_at": {"$lte": now}, "status": "missed"}, escalate)
    return missed + first_steps + later_steps


async def _store_new(notify: Notify, duties: list[Duty], attempts: int = 5) -> int:
    """Store those of ``duties`` not stored yet, a batch per transaction; when a concurrent scan
    stored some first, look again at what is stored and go on."""
    created = 0
    for attempt in range(1, attempts + 1):
        known = await duties_store.stored_ids(notify.db, duties)
        pending = [duty for duty in duties if duty.id not in known]
        try:
            for start in range(0, len(pending), BATCH):
                batch = pending[start : start + BATCH]
                created += await notify.runtime.transaction(partial(store_new, duties=batch, known=known))
            return created
        except (DuplicateKeyError, BulkWriteError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
