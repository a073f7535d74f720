"""A whole quarter of station duties, case deadlines, and misses that nobody can be told of."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from liaison_infra.clock import CHINA
from liaison_notify.adapters.duties_store import DUTIES
from liaison_notify.adapters.rules_store import RULE_OVERRIDES
from liaison_notify.service_layer.context import Notify
from liaison_notify.service_layer.scans import close_windows, generate_duties

from tests.notify.duty_support import apply, envelope, every, household, local, own_notify, scan_at


@pytest.fixture
async def notify(endpoints, keys, unique) -> AsyncIterator[Notify]:
    async with own_notify(endpoints, keys, unique) as notify:
        yield notify


def daily(start, end, *hours: int):
    """Scan moments: each day from ``start`` at each of ``hours`` (local)."""
    return sorted(moment + timedelta(hours=hour) for moment in every(timedelta(days=1), start, end) for hour in hours)


async def test_a_whole_quarter_a_lecture_stops_its_reminders_and_a_missing_study_escalates(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 12, 20))
    await generate_duties(notify, local(2027, 1, 1))
    lecture = {
        "activity_id": "a-1",
        "station_id": "st-1",
        "kind": "lecture",
        "held_on": "2027-02-10",
        "title": "侨法宣讲",
        "deputy_ids": ["dep-a"],
        "attendees": 40,
        "opinions": [],
    }
    produced = await scan_at(notify, daily(local(2027, 1, 1), local(2027, 2, 10), 9, 23))
    await apply(notify, envelope("activity.held", lecture, at=local(2027, 2, 10, 16)))
    produced += await scan_at(notify, daily(local(2027, 2, 11), local(2027, 4, 5), 9, 23))

    station = [(at.astimezone(CHINA), m) for at, m in produced if m["rule_id"].startswith("quarterly")]
    assert sorted((m["rule_id"], m["recipient_id"], m["occurrence"]) for _, m in station) == [
        ("quarterly_lecture", "station_head:st-1", "2027-01-01T09:00"),
        ("quarterly_study", "district:d-1", "2027-Q1:escalation:district"),
        ("quarterly_study", "station_head:st-1", "2027-01-01T09:00"),
        ("quarterly_study", "station_head:st-1", "2027-03-02T09:00"),
        ("quarterly_study", "station_head:st-1", "2027-03-25T09:00"),
        ("quarterly_study", "station_head:st-1", "2027-Q1:escalation:station_head"),
    ]
    assert all(at.hour == 9 for at, _ in station)  # the 23:00 scans released nothing
    escalated_on = sorted(at.day for at, m in station if "escalation" in m["tags"])
    assert escalated_on == [1, 4]  # station head on April 1st, the district three days later
    duties = {d["rule_id"]: d async for d in notify.db[DUTIES].find({"subject_id": "st-1"})}
    assert duties["quarterly_lecture"]["status"] == "fulfilled"
    assert duties["quarterly_lecture"]["fulfilled_by"] == "activity:a-1"
    assert duties["quarterly_study"]["status"] == "missed"
    assert b'"type":"duty.missed"' in await _payloads(notify, "quarterly_study|2027-Q1|st-1")


async def _payloads(notify: Notify, key: str) -> bytes:
    return b"".join([doc["payload"] async for doc in notify.db["outbox"].find({"key": key}).sort("order", 1)])


def case(case_id: str, state: str, due: str | None) -> dict[str, object]:
    return {
        "case_id": case_id,
        "station_id": "st-1",
        "state": state,
        "title": "楼道灯坏了",
        "originators": ["p-1"],
        "lead_department_id": "dept-roads",
        "due": due,
        "due_provisional": False,
    }


async def test_case_deadlines_remind_in_working_days_move_with_the_deadline_and_end_with_the_reply(notify) -> None:
    await apply(notify, envelope("case.assigned", case("c-1", "assigned", "2026-10-12"), at=local(2026, 9, 20, 10)))
    await apply(notify, envelope("case.assigned", case("c-2", "assigned", "2026-10-12"), at=local(2026, 9, 20, 10)))
    produced = await scan_at(notify, daily(local(2026, 9, 20), local(2026, 10, 8), 9))
    extended = case("c-1", "in_progress", "2026-10-23")
    await apply(notify, envelope("case.deadline_changed", extended, at=local(2026, 10, 9, 11)))
    produced += await scan_at(notify, daily(local(2026, 10, 9), local(2026, 10, 20), 9))
    await apply(notify, envelope("case.replied", case("c-1", "replied", "2026-10-23"), at=local(2026, 10, 21, 15)))
    produced += await scan_at(notify, daily(local(2026, 10, 21), local(2026, 10, 30), 9))

    sent = sorted((m["subject_id"], m["template"], m["occurrence"]) for _, m in produced)
    assert sent == [
        # Three working days before 10-12, counting the 调休 Saturday 10-10: Thursday 10-08.
        ("c-1", "case_deadline_reminder", "2026-10-08T09:00"),
        # Moved to 10-23: three working days before is 10-20; the reply of 10-21 ends it.
        ("c-1", "case_deadline_reminder", "2026-10-20T09:00"),
        ("c-2", "case_deadline_reminder", "2026-10-08T09:00"),
        ("c-2", "case_deadline_reminder", "2026-10-12T09:00"),
        ("c-2", "case_overdue", "deadline:escalation:district"),
        ("c-2", "case_overdue", "deadline:escalation:station_head"),
    ]
    statuses = {d["subject_id"]: d["status"] async for d in notify.db[DUTIES].find({"kind": "case_deadline"})}
    assert statuses == {"c-1": "fulfilled", "c-2": "missed"}
    await apply(notify, envelope("case.closed", case("c-2", "closed", "2026-10-12"), at=local(2026, 11, 2, 10)))
    late = await notify.db[DUTIES].find_one({"subject_id": "c-2"})
    assert late is not None and late["status"] == "missed" and late["resolved_at"] is not None


async def test_a_case_merged_into_another_is_reminded_no_more_and_the_survivor_still_is(notify) -> None:
    for case_id in ("c-3", "c-4"):
        assigned = case(case_id, "assigned", "2026-10-12")
        await apply(notify, envelope("case.assigned", assigned, at=local(2026, 9, 20, 10)))
    merged = {**case("c-3", "merged", "2026-10-12"), "merged_into": "c-4"}
    surviving = {**case("c-4", "assigned", "2026-10-12"), "merged_from": ["c-3"]}  # a merge announces both
    for data in (merged, surviving):
        await apply(notify, envelope("case.merged", data, at=local(2026, 9, 25, 10)))
    produced = await scan_at(notify, daily(local(2026, 9, 20), local(2026, 10, 20), 9))
    assert [m for _, m in produced if m["subject_id"] == "c-3"] == []
    assert [m["template"] for _, m in produced if m["subject_id"] == "c-4"][-1] == "case_overdue"
    statuses = {d["subject_id"]: d["status"] async for d in notify.db[DUTIES].find({"kind": "case_deadline"})}
    assert statuses == {"c-3": "fulfilled", "c-4": "missed"}


async def test_a_miss_nobody_can_be_told_of_is_still_recorded_for_all_to_see(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))  # district d-1
    await apply(
        notify,
        envelope(
            "household.changed",
            {
                "household_id": "h-9",
                "station_id": "st-9",
                "head_person_id": None,
                "members": [],
                "deputy_id": None,
                "hardship": False,
                "elderly": False,
            },
            at=local(2026, 10, 20),
            district_id=None,
        ),
    )
    await notify.db[RULE_OVERRIDES].insert_one(
        {
            "_id": "station:st-1:monthly_visit",
            "owner": "station:st-1",
            "rule_id": "monthly_visit",
            "changes": {"escalation": []},
            "version": 1,
        }
    )
    await generate_duties(notify, local(2026, 11, 1))
    await close_windows(notify, local(2026, 12, 10))
    no_ladder = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert no_ladder is not None and no_ladder["status"] == "missed"
    assert [(e["to"], e["recipient_id"]) for e in no_ladder["escalations"]] == [("nobody", None)]
    assert "no escalation step" in no_ladder["escalations"][0]["note"]
    no_district = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-9"})
    assert no_district is not None and no_district["recipient_id"] == "station_head:st-9"  # nobody assigned
    assert [(e["to"], e["recipient_id"]) for e in no_district["escalations"]] == [
        ("station_head", "station_head:st-9"),
        ("district", None),
    ]
    assert b'"escalate_to":[]' in await _payloads(notify, "monthly_visit|2026-11|h-1")
    escalations = await notify.db["messages"].find({"tags": "escalation"}).to_list()
    assert [m["recipient_id"] for m in escalations] == ["station_head:st-9"]
    # The district step went nowhere: the station head is told so; the rule with no ladder says nothing.
    alerts = await notify.db["messages"].find({"tags": "alert"}).to_list()
    assert [(m["recipient_id"], m["subject_id"], m["template"]) for m in alerts] == [
        ("station_head:st-9", "h-9", "escalation_unroutable")
    ]
    assert "district is not known" in alerts[0]["variables"]["note"]


async def test_a_rule_switched_off_mid_month_reminds_and_escalates_no_more(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 20))
    await generate_duties(notify, local(2026, 11, 1))
    before = await scan_at(notify, daily(local(2026, 11, 1), local(2026, 11, 10), 9))
    assert [m["occurrence"] for _, m in before if m["rule_id"] == "monthly_visit"] == ["2026-11-01T09:00"]
    switched_off = {"owner": "station:st-1", "rule_id": "monthly_visit", "changes": {"enabled": False}, "version": 1}
    await notify.db[RULE_OVERRIDES].insert_one({"_id": "station:st-1:monthly_visit", **switched_off})

    after = await scan_at(notify, daily(local(2026, 11, 11), local(2026, 12, 10), 9))

    assert [m for _, m in after if m["rule_id"] == "monthly_visit"] == [], "no reminder, no escalation"
    duty = await notify.db[DUTIES].find_one({"_id": "monthly_visit|2026-11|h-1"})
    assert duty is not None and duty["status"] == "missed"  # recorded, for the figures


async def test_a_case_reopened_after_its_reply_is_watched_again_and_overdue_past_its_deadline(notify) -> None:
    await apply(notify, envelope("case.assigned", case("c-5", "assigned", "2026-10-12"), at=local(2026, 9, 20, 10)))
    produced = await scan_at(notify, daily(local(2026, 9, 20), local(2026, 10, 8), 9))
    await apply(notify, envelope("case.replied", case("c-5", "replied", "2026-10-12"), at=local(2026, 10, 9, 15)))
    produced += await scan_at(notify, daily(local(2026, 10, 9), local(2026, 10, 13), 9))
    assert [m["template"] for _, m in produced if m["subject_id"] == "c-5"] == ["case_deadline_reminder"]  # 10-08

    reopened = case("c-5", "in_progress", "2026-10-12")  # rated 不满意 on 10-14: handled again, deadline passed
    await apply(notify, envelope("case.reopened", reopened, at=local(2026, 10, 14, 10)))
    produced = await scan_at(notify, daily(local(2026, 10, 14), local(2026, 10, 20), 9))

    assert sorted(m["occurrence"] for _, m in produced if m["template"] == "case_overdue") == [
        "deadline:escalation:district",
        "deadline:escalation:station_head",
    ]
    duty = await notify.db[DUTIES].find_one({"subject_id": "c-5"})
    assert duty is not None and duty["status"] == "missed" and duty["fulfilled_by"] is None


async def test_a_festival_visit_owed_is_fulfilled_though_the_households_hardship_was_cleared(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 1), cared=True)
    await generate_duties(notify, local(2026, 10, 15))  # 重阳 (10-18) is under way: a festival visit is owed
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 16), cared=False)  # no longer a hardship one
    visit = {
        "visit_id": "v-9",
        "station_id": "st-1",
        "kind": "condolence",
        "visited_on": "2026-10-17",
        "deputy_ids": ["dep-a"],
        "household_ids": ["h-1"],
        "person_ids": [],
        "opinions": [],
    }
    await apply(notify, envelope("visit.logged", visit, at=local(2026, 10, 17, 18)))

    festival = await notify.db[DUTIES].find_one({"rule_id": "festival_double_ninth", "subject_id": "h-1"})
    assert festival is not None and (festival["status"], festival["fulfilled_by"]) == ("fulfilled", "visit:v-9")


async def test_a_routine_visit_in_a_festival_window_is_the_months_visit_not_the_festivals(notify) -> None:
    await household(notify, "h-1", "dep-a", at=local(2026, 10, 1), cared=True)
    await generate_duties(notify, local(2026, 10, 15))  # the month's visit and 重阳's (10-11 to 10-21)
    visit = {
        "visit_id": "v-1",
        "station_id": "st-1",
        "kind": "household_visit",
        "visited_on": "2026-10-16",
        "deputy_ids": ["dep-a"],
        "household_ids": ["h-1"],
        "person_ids": [],
        "opinions": [],
    }
    await apply(notify, envelope("visit.logged", visit, at=local(2026, 10, 16, 18)))

    async def status(rule_id: str) -> tuple[str, str | None]:
        duty = await notify.db[DUTIES].find_one({"rule_id": rule_id, "subject_id": "h-1"})
        assert duty is not None
        return duty["status"], duty["fulfilled_by"]

    assert await status("monthly_visit") == ("fulfilled", "visit:v-1")
    assert await status("festival_double_ninth") == ("open", None), "a festival visit is a condolence visit"
    condolence = {**visit, "visit_id": "v-2", "kind": "condolence", "visited_on": "2026-10-18"}
    await apply(notify, envelope("visit.logged", condolence, at=local(2026, 10, 18, 18)))
    assert await status("festival_double_ninth") == ("fulfilled", "visit:v-2")
    assert await status("monthly_visit") == ("fulfilled", "visit:v-1")
