"""Duties against the real database: generated exactly once, reminded on an injected clock,
fulfilled by events, moved with their household, missed and escalated; released messages handed
out batch by batch."""

import asyncio
import json
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta

import pytest
from liaison_infra.clock import CHINA
from liaison_infra.mongo import Document, Transaction
from liaison_notify.adapters import deliveries_store, duties_store
from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.adapters.messages_store import MESSAGES
from liaison_notify.adapters.rules_store import RULE_OVERRIDES
from liaison_notify.domain.duties import Duty
from liaison_notify.service_layer import scans
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import close_windows, generate_duties, release_due_reminders

from tests.notify.duty_support import apply, envelope, every, household, local, own_notify, scan_at, visit_logged


@pytest.fixture
async def notify(endpoints, keys, unique) -> AsyncIterator[Notify]:
    async with own_notify(endpoints, keys, unique) as notify:
        yield notify


async def created_events(notify: Notify) -> int:
    return await notify.db["outbox"].count_documents({"topic": "notify.duty.v1"})


async def test_generation_makes_each_duty_exactly_once_however_often_and_concurrently_it_runs(notify) -> None:
    for number, cared in ((1, True), (2, False), (3, False)):
        await household(notify, f"h-{number}", "dep-a", at=local(2026, 10, 20), cared=cared)
    # November: three monthly visits, the station's lecture and study of Q4; no festival under way.
    assert await generate_duties(notify, local(2026, 11, 3)) == 5
    assert await generate_duties(notify, local(2026, 11, 3, 12)) == 0
    # December, by two scans at once: the quarter's duties exist already, three visits are new.
    assert sum(await asyncio.gather(*(generate_duties(notify, local(2026, 12, 1)) for _ in range(2)))) == 3
    assert await notify.db[DUTIES].count_documents({}) == 8
    assert await created_events(notify) == 8
    # 重阳 2026 falls on 10-18: only the hardship household owes a festival visit in its window.
    assert await generate_duties(notify, local(2026, 10, 15)) == 4  # three October visits, one festival
    festival = await notify.db[DUTIES].find({"rule_id": "festival_double_ninth"}).to_list()
    assert [d["subject_id"] for d in festival] == ["h-1"] and festival[0]["recipient_id"] == "deputy:dep-a"


async def test_a_whole_month_reminds_at_the_right_times_follows_the_deputy_and_escalates(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
    await household(notify, "h-2", "dep-b", at=local(2026, 10, 20))
    await household(notify, "h-3", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))
    november = every(timedelta(hours=3), local(2026, 11, 1), local(2026, 11, 10, 12))
    produced = await scan_at(notify, november)
    moved = {"household_id": "h-3", "station_id": "st-1", "previous_deputy_id": "dep-a", "deputy_id": "dep-c"}
    await apply(notify, envelope("assignment.changed", moved | {"reason": "换届"}, at=local(2026, 11, 10, 14)))
    visit = {
        "visit_id": "v-1",
        "station_id": "st-1",
        "kind": "household_visit",
        "visited_on": "2026-11-15",
        "deputy_ids": ["dep-b"],
        "household_ids": ["h-2"],
        "person_ids": [],
        "opinions": [],
    }
    await apply(notify, envelope("visit.logged", visit, at=local(2026, 11, 15, 18)))
    produced += await scan_at(notify, every(timedelta(hours=3), local(2026, 11, 10, 15), local(2026, 12, 5)))

    visits = [(at, m) for at, m in produced if m["rule_id"] == "monthly_visit"]
    sent = sorted((m["recipient_id"], m["occurrence"]) for _, m in visits)
    assert sent == [
        ("deputy:dep-a", "2026-11-01T09:00"),
        ("deputy:dep-a", "2026-11-01T09:00"),
        ("deputy:dep-a", "2026-11-20T09:00"),
        ("deputy:dep-a", "2026-11-30T09:00"),
        ("deputy:dep-b", "2026-11-01T09:00"),  # nothing after the visit of the 15th
        ("deputy:dep-c", "2026-11-20T09:00"),  # h-3 moved to dep-c on the 10th
        ("deputy:dep-c", "2026-11-30T09:00"),
        ("district:d-1", "2026-11:escalation:district"),
        ("district:d-1", "2026-11:escalation:district"),
        ("station_head:st-1", "2026-11:escalation:station_head"),
        ("station_head:st-1", "2026-11:escalation:station_head"),
    ]
    for at, message in visits:
        assert 8 <= at.astimezone(CHINA).hour < 21, (at, message["_id"])
        if "reminder" in message["tags"]:  # released at its own time
            assert at.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M") == message["occurrence"]
    escalations = sorted((at.astimezone(CHINA), m["recipient_id"]) for at, m in visits if "escalation" in m["tags"])
    assert [(at.day, at.hour) for at, _ in escalations] == [(1, 9), (1, 9), (4, 9), (4, 9)]
    statuses = {d["subject_id"]: d["status"] async for d in notify.db[DUTIES].find({"rule_id": "monthly_visit"})}
    assert statuses == {"h-1": "missed", "h-2": "fulfilled", "h-3": "missed"}
    # Scanning the whole month again, even on a clock set back, produces nothing new.
    before = await notify.db[MESSAGES].count_documents({})
    assert await scan_at(notify, every(timedelta(hours=6), local(2026, 11, 1), local(2026, 12, 6))) == []
    assert await notify.db[MESSAGES].count_documents({}) == before


async def test_a_reminder_released_but_not_sent_goes_to_the_households_new_deputy(notify) -> None:
    for number in (1, 2, 3):
        await household(notify, f"h-{number}", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))
    await scan_at(notify, [local(2026, 11, 1, 9)])
    sent = {"$set": {"status": "sent", "channel": "sms"}}
    await notify.db[MESSAGES].update_one({"subject_id": "h-2", "rule_id": "monthly_visit"}, sent)
    sending = await notify.db[MESSAGES].find_one({"subject_id": "h-3", "rule_id": "monthly_visit"})
    assert sending is not None  # a worker took it at 09:29 and is sending it
    claim = deliveries_store.Claim(sending["_id"], "sms", "st-1", "d-1")
    await deliveries_store.claim(notify.db, [claim], local(2026, 11, 1, 9, 29), timedelta(seconds=120))
    for number in (1, 2, 3):
        moved = {
            "household_id": f"h-{number}",
            "station_id": "st-1",
            "previous_deputy_id": "dep-a",
            "deputy_id": "dep-c",
        }
        await apply(notify, envelope("assignment.changed", moved | {"reason": "换届"}, at=local(2026, 11, 1, 9, 30)))

    visits = notify.db[MESSAGES].find({"rule_id": "monthly_visit"}, sort=[("subject_id", 1), ("recipient_id", 1)])
    found = [(m["subject_id"], m["recipient_id"], m["status"], m["variables"]["deputy_id"]) async for m in visits]
    assert found == [
        ("h-1", "deputy:dep-a", "dropped", "dep-a"),
        ("h-1", "deputy:dep-c", "pending", "dep-c"),  # the same reminder of the 1st, now for dep-c
        ("h-2", "deputy:dep-a", "sent", "dep-a"),  # already sent: nothing to move
        ("h-3", "deputy:dep-a", "pending", "dep-a"),  # being sent: it goes on, and is not sent twice
    ]
    dropped = await notify.db[MESSAGES].find_one({"subject_id": "h-1", "recipient_id": "deputy:dep-a"})
    assert dropped is not None and dropped["dropped_because"] == "reassigned"

    back = {"household_id": "h-1", "station_id": "st-1", "previous_deputy_id": "dep-c", "deputy_id": "dep-a"}
    await apply(notify, envelope("assignment.changed", back | {"reason": "换届"}, at=local(2026, 11, 1, 9, 40)))
    again = notify.db[MESSAGES].find({"subject_id": "h-1", "rule_id": "monthly_visit"}, sort=[("recipient_id", 1)])
    assert [(m["recipient_id"], m["status"]) async for m in again] == [
        ("deputy:dep-a", "pending"),  # moved back: the same reminder waits for dep-a again
        ("deputy:dep-c", "dropped"),
    ]


async def test_each_released_batch_is_handed_out_once_stored_and_never_again(notify, monkeypatch) -> None:
    monkeypatch.setattr(scans, "BATCH", 2)  # five duties: three batches
    for number in (1, 2, 3):
        await household(notify, f"h-{number}", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))
    handed: list[list[str]] = []

    released = await release_due_reminders(notify, local(2026, 11, 1, 10), handed.append)

    stored = sorted([m["_id"] async for m in notify.db[MESSAGES].find({}, {"_id": 1})])
    assert released == len(stored) >= 3
    assert sorted(key for keys in handed for key in keys) == stored
    assert len(handed) >= 2 and all(len(keys) <= 2 for keys in handed)
    handed.clear()
    assert await release_due_reminders(notify, local(2026, 11, 1, 11), handed.append) == 0
    assert [key for keys in handed for key in keys] == []


async def test_two_scans_closing_the_month_at_once_miss_each_duty_once(notify, monkeypatch) -> None:
    monkeypatch.setattr(scans, "BATCH", 2)  # many small batches, so the two scans meet
    read_again: list[list[str]] = []
    find_among = duties_store.find_among

    def counted(tx: Transaction, ids: list[str], query: Document) -> Awaitable[list[Duty]]:
        read_again.append(ids)
        return find_among(tx, ids, query)

    monkeypatch.setattr(duties_store, "find_among", counted)
    for number in range(1, 7):
        await household(notify, f"h-{number}", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))

    await asyncio.gather(*(close_windows(notify, local(2026, 12, 1, 10)) for _ in range(2)))

    missed = notify.db[DUTIES].find({"rule_id": "monthly_visit"}, {"status": 1, "version": 1})
    assert [(d["status"], d["version"]) async for d in missed] == [("missed", 2)] * 6
    events = notify.db["outbox"].find({"topic": "notify.duty.v1"}, {"key": 1, "payload": 1})
    announced = Counter([e["key"] async for e in events if b"duty.missed" in e["payload"]])
    assert len(announced) == 6 and set(announced.values()) == {1}
    assert read_again  # a batch met duties the other scan had changed, and was read again


async def test_releasing_a_reminder_writes_nothing_on_its_duty(notify) -> None:
    for number in (1, 2):
        await household(notify, f"h-{number}", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))

    assert await release_due_reminders(notify, local(2026, 11, 1, 10)) == 4
    assert await release_due_reminders(notify, local(2026, 11, 20, 10)) == 2  # the 20th's, visits only

    versions = {d["rule_id"]: d["version"] async for d in notify.db[DUTIES].find({}, {"rule_id": 1, "version": 1})}
    # The visits were made before their reminders; the quarter's duties, made after their first
    # (1 October), caught up by themselves once, which is written.
    assert versions == {"monthly_visit": 1, "quarterly_lecture": 2, "quarterly_study": 2}


async def test_a_duty_written_just_before_its_reminder_catches_up_by_itself(notify) -> None:
    # The 09:00 scan went by before the duties a generation at 08:55 wrote were to be seen.
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
    assert await release_due_reminders(notify, local(2026, 11, 1, 9)) == 0
    await generate_duties(notify, local(2026, 11, 1, 8, 55))

    assert await release_due_reminders(notify, local(2026, 11, 1, 9, 1)) == 3

    visits = [m["occurrence"] async for m in notify.db[MESSAGES].find({"rule_id": "monthly_visit"})]
    assert visits == ["2026-11-01T09:00"]
    assert await release_due_reminders(notify, local(2026, 11, 1, 9, 2)) == 0
    # Registered at 08:55 on the 20th: the reminder of the 20th catches up, that of the 1st is past.
    await household(notify, "h-2", "dep-a", at=local(2026, 11, 20, 8, 55))
    await generate_duties(notify, local(2026, 11, 20, 8, 55))
    assert await release_due_reminders(notify, local(2026, 11, 20, 8, 58)) == 0
    assert await release_due_reminders(notify, local(2026, 11, 20, 9, 0)) == 2  # h-1 by the range, h-2 caught up
    late = [m["occurrence"] async for m in notify.db[MESSAGES].find({"subject_id": "h-2"})]
    assert late == ["2026-11-20T09:00"]


async def test_a_reminder_due_in_quiet_hours_waits_for_their_end(notify) -> None:
    # Registered late in the evening of the 5th: the reminder of the 1st is due, but not at night.
    await household(notify, "h-1", "dep-a", at=local(2026, 11, 5, 22))
    await generate_duties(notify, local(2026, 11, 5, 22))
    produced = await scan_at(notify, every(timedelta(minutes=30), local(2026, 11, 5, 22), local(2026, 11, 6, 9)))
    visits = [(at.astimezone(CHINA), m) for at, m in produced if m["rule_id"] == "monthly_visit"]
    assert [(at.day, at.hour, at.minute, m["occurrence"]) for at, m in visits] == [(6, 8, 0, "2026-11-01T09:00")]
    assert await release_due_reminders(notify, local(2026, 11, 6, 10)) == 0


async def test_a_visit_logged_before_generation_leaves_the_duty_fulfilled(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
    visit = {
        "visit_id": "v-9",
        "station_id": "st-1",
        "kind": "household_visit",
        "visited_on": "2026-11-01",
        "deputy_ids": ["dep-a"],
        "household_ids": ["h-1"],
        "person_ids": [],
        "opinions": [],
    }
    event = envelope("visit.logged", visit, at=local(2026, 11, 1, 0, 2))
    await apply(notify, event)
    await apply(notify, event)  # redelivered: the inbox drops it
    await generate_duties(notify, local(2026, 11, 1, 0, 5))
    duty = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert duty is not None and duty["status"] == "fulfilled" and duty["fulfilled_by"] == "visit:v-9"
    produced = await scan_at(notify, [local(2026, 11, 1, 9)])
    assert [m["rule_id"] for _, m in produced] == ["quarterly_lecture", "quarterly_study"]
    fulfilled = await notify.db["outbox"].count_documents({"key": "monthly_visit|2026-11|h-1"})
    assert fulfilled == 2  # duty.created and duty.fulfilled, once each


async def test_a_household_event_older_than_the_assignment_it_crossed_does_not_undo_it(notify) -> None:
    """household.changed and assignment.changed travel on different topics: either may come first."""
    moved = {"household_id": "h-1", "station_id": "st-1", "previous_deputy_id": None, "deputy_id": "dep-b"}
    await apply(notify, envelope("assignment.changed", moved | {"reason": "assignment"}, at=local(2026, 11, 2, 10)))
    await household(notify, "h-1", None, at=local(2026, 11, 2, 9), cared=True)  # written before, arriving after
    stored = await notify.db["households"].find_one({"_id": "h-1"})
    assert stored is not None and (stored["deputy_id"], stored["hardship"]) == ("dep-b", True)
    await household(notify, "h-1", "dep-c", at=local(2026, 11, 3, 9))  # a later change does apply
    await generate_duties(notify, local(2026, 11, 3, 10))
    duty = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert duty is not None and duty["recipient_id"] == "deputy:dep-c"


async def test_a_station_whose_stored_rules_fail_generation_stops_no_other_station(notify, caplog) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
    await household(notify, "h-2", "dep-b", at=local(2026, 10, 20), station_id="st-2")
    # st-2's changes as an older version might have kept them: JSON text, not a document.
    broken = {"owner": "station:st-2", "rule_id": "monthly_visit", "version": 1}
    text = json.dumps({"quiet_hours": {"start": "22:00", "end": "07:00"}})
    await notify.db[RULE_OVERRIDES].insert_one({"_id": "station:st-2:monthly_visit", **broken, "changes": text})

    with caplog.at_level(logging.ERROR, logger=scans.__name__):
        assert await generate_duties(notify, local(2026, 11, 3)) == 3  # st-1's visit, lecture and study

    assert await notify.db[DUTIES].count_documents({"station_id": "st-2"}) == 0
    assert [r.fields["station"] for r in caplog.records] == ["st-2"]
    await notify.db[RULE_OVERRIDES].update_one({"_id": "station:st-2:monthly_visit"}, {"$set": {"changes": {}}})
    assert await generate_duties(notify, local(2026, 11, 3, 1)) == 3, "the next run generates st-2's"


async def test_a_visit_dated_outside_the_lunar_calendar_is_applied_with_no_festival_to_match(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20), cared=True)  # owes festival visits too
    await visit_logged(notify, "v-old", "h-1", "1899-12-20", at=local(2026, 11, 2))  # an event from before 2000

    duties = await notify.db[DUTIES].find({"subject_id": "h-1"}).to_list()
    assert [(d["_id"], d["status"]) for d in duties] == [("monthly_visit|1899-12|h-1", "fulfilled")]
