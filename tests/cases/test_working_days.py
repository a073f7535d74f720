"""Working-day deadlines against the published 2025 and 2026 schedules (国办发明电〔2024〕12号 and
〔2025〕7号, as shipped by chinese-calendar) and an unknown 2027 that an admin loads later."""

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st
from liaison_cases.domain.working_days import (
    Deadline,
    Months,
    Rule,
    WorkingCalendar,
    WorkingDays,
    YearSchedule,
    changed_deadlines,
    schedule_from_library,
)

CAL = WorkingCalendar.with_library()

# TEST FIXTURE, NOT OFFICIAL: a made-up 2027 schedule (Spring Festival 2027 is on Sat Feb 6). It only has
# to move some deadlines; the real one comes from the State Council notice, expected late in 2026.
FIXTURE_2027 = YearSchedule.from_lists(
    2027,
    holidays=["2027-01-01", *(f"2027-02-{d:02d}" for d in range(6, 15))],  # Feb 6–14, weekends included
    workdays=["2027-02-20"],
    source="hypothetical test fixture",
)


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- the library's years -------------------------------------------------------------------------


def test_library_schedules_are_the_published_ones() -> None:
    s2025 = schedule_from_library(2025)
    assert s2025 is not None and s2025.source == f"chinese-calendar {chinese_calendar.__version__}"
    assert s2025.workdays == {d("2025-01-26"), d("2025-02-08"), d("2025-04-27"), d("2025-09-28"), d("2025-10-11")}
    assert {d("2025-01-28"), d("2025-02-04"), d("2025-05-05"), d("2025-10-08")} <= s2025.holidays
    assert d("2025-02-01") not in s2025.holidays  # a Saturday inside 春节: off anyway, dropped
    s2026 = schedule_from_library(2026)
    assert s2026 is not None
    assert s2026.workdays == {
        d("2026-01-04"),
        d("2026-02-14"),
        d("2026-02-28"),
        d("2026-05-09"),
        d("2026-09-20"),
        d("2026-10-10"),
    }
    assert {d("2026-02-16"), d("2026-02-23"), d("2026-10-07")} <= s2026.holidays


def test_unknown_years_have_no_library_schedule() -> None:
    assert schedule_from_library(2027) is None
    assert schedule_from_library(2003) is None
    assert 2027 not in CAL.schedules


def test_calendar_agrees_with_the_library_on_every_day_it_knows() -> None:
    day = date(2004, 1, 1)
    while day.year <= 2026:
        assert CAL.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


# --- concrete deadlines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Sat 9-27 off, Sun 9-28 worked (1), 9-29, 9-30, 国庆 10-1..8 off, 10-9, 10-10, Sat 10-11 worked (6), 10-13
        ("2025-09-26", 7, "2025-10-13"),
        # 15 across 国庆 2025: 10-9, 10-10, Sat 10-11, then 12 weekdays → Tue 10-28 (weekends only would say 10-21)
        ("2025-09-30", 15, "2025-10-28"),
        # 退办 within 7 working days, assigned just before 春节 2025: Sun 1-26 and Sat 2-8 are worked
        ("2025-01-24", 7, "2025-02-10"),
        # Sat 2-14 worked (1), 春节 2-15..23 off, 2-24, 2-25
        ("2026-02-13", 3, "2026-02-25"),
        ("2025-02-07", 1, "2025-02-08"),  # a make-up Saturday counts
        ("2026-02-27", 1, "2026-02-28"),
        ("2025-10-01", 1, "2025-10-09"),  # starting on a holiday: the count starts the day after anyway
        ("2025-10-09", 0, "2025-10-09"),
    ],
)
def test_add_working_days(start: str, n: int, due: str) -> None:
    assert CAL.add_working_days(d(start), n) == Deadline(d(due))
    assert not CAL.add_working_days(d(start), n).provisional


def test_working_days_between() -> None:
    assert CAL.working_days_between(d("2025-09-30"), d("2025-10-09")) == 1
    assert CAL.working_days_between(d("2025-10-09"), d("2025-09-30")) == -1
    assert CAL.working_days_between(d("2025-10-09"), d("2025-10-09")) == 0
    assert CAL.working_days_between(d("2025-10-03"), d("2025-10-05")) == 0
    assert CAL.working_days_between(d("2025-09-26"), d("2025-10-13")) == 7


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        CAL.add_working_days(d("2025-01-01"), -1)
    with pytest.raises(ValueError, match="months must be >= 0"):
        CAL.add_months(d("2025-01-01"), -1)


# --- years nobody knows yet ------------------------------------------------------------------------


def test_unknown_year_counts_weekends_only_until_loaded() -> None:
    before = CAL.add_working_days(d("2027-02-01"), 10)
    assert before == Deadline(d("2027-02-15"), (2027,))
    assert before.provisional and before.unknown_years == (2027,)

    loaded = CAL.with_schedule(FIXTURE_2027)
    after = loaded.add_working_days(d("2027-02-01"), 10)
    # 2-2..2-5 (4), Feb 6–14 off, 2-15..2-19 (9), Sat 2-20 worked (10)
    assert after == Deadline(d("2027-02-20"))
    assert not after.provisional
    assert CAL.schedules.keys() == loaded.schedules.keys() - {2027}  # the old calendar is unchanged


def test_deadline_spanning_into_an_unknown_year_is_provisional() -> None:
    assert CAL.add_working_days(d("2026-12-25"), 10) == Deadline(d("2027-01-08"), (2027,))
    assert CAL.add_working_days(d("2026-12-24"), 5) == Deadline(d("2026-12-31"))  # never looked at 2027
    assert CAL.with_schedule(FIXTURE_2027).add_working_days(d("2026-12-25"), 10) == Deadline(d("2027-01-11"))


def test_changed_deadlines_after_loading_a_schedule() -> None:
    items: list[tuple[str, date, Rule]] = [
        ("moves", d("2027-02-01"), WorkingDays(10)),
        ("becomes-final", d("2027-03-01"), WorkingDays(5)),
        ("unaffected", d("2026-03-02"), WorkingDays(5)),
        ("months", d("2026-08-06"), Months(6)),  # 2027-02-06: a Saturday either way, then Mon 2-8 vs 2-15
    ]
    changes = changed_deadlines(items, CAL, CAL.with_schedule(FIXTURE_2027))
    assert changes == [
        ("moves", Deadline(d("2027-02-15"), (2027,)), Deadline(d("2027-02-20"))),
        ("becomes-final", Deadline(d("2027-03-08"), (2027,)), Deadline(d("2027-03-08"))),
        ("months", Deadline(d("2027-02-08"), (2027,)), Deadline(d("2027-02-15"))),
    ]


def test_official_schedule_overrides_the_library_for_its_year() -> None:
    official = YearSchedule.from_lists(2026, holidays=["2026-03-02"], workdays=[], source="test override")
    cal = WorkingCalendar.with_library({2026: official})
    assert not cal.is_working_day(d("2026-03-02"))
    assert cal.is_working_day(d("2026-02-16"))  # the library's 2026 is replaced, not merged
    assert not cal.is_working_day(d("2025-10-01"))


def test_one_calendar_serves_each_set_of_official_schedules() -> None:
    def loaded(*holidays: str) -> WorkingCalendar:  # as read from the store on every transition
        return WorkingCalendar.with_library({2031: YearSchedule.from_lists(2031, holidays, [], "notice")})

    first = loaded("2031-01-15")
    assert loaded("2031-01-15") is first and WorkingCalendar.with_library() is WorkingCalendar.with_library()
    moved = loaded("2031-01-20")  # the administrator corrects the schedule: a calendar of its own
    assert moved is not first
    assert first.is_working_day(date(2031, 1, 20)) and not moved.is_working_day(date(2031, 1, 20))
    assert not first.is_working_day(date(2031, 1, 15)) and moved.is_working_day(date(2031, 1, 15))


def test_a_notice_can_arrange_the_previous_december() -> None:
    # Like the 2019 notice (2018-12-29 worked, 2018-12-31 off); here with made-up 2027 data.
    s = YearSchedule.from_lists(2027, holidays=["2026-12-31"], workdays=["2026-12-26"], source="test fixture")
    cal = CAL.with_schedule(s)
    assert not cal.is_working_day(d("2026-12-31"))
    assert cal.is_working_day(d("2026-12-26"))
    assert CAL.is_working_day(d("2026-12-31"))
    assert chinese_calendar.is_workday(d("2018-12-29")) and CAL.is_working_day(d("2018-12-29"))


# --- months ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        ("2025-07-01", 3, "2025-10-09"),  # 2025-10-01 is 国庆: next working day
        ("2025-11-01", 6, "2026-05-06"),  # 劳动节 2026 is May 1–5
        ("2024-01-31", 1, "2024-02-29"),  # clamped, leap year
        ("2025-01-31", 1, "2025-02-28"),
        ("2025-03-31", 6, "2025-09-30"),
        ("2026-01-31", 1, "2026-02-28"),  # clamped onto a make-up Saturday: a working day, stays
        ("2025-02-14", 12, "2026-02-14"),  # make-up Saturday again
        ("2025-08-30", 0, "2025-09-01"),  # Saturday: moves to Monday
        ("2025-12-20", 2, "2026-02-24"),  # 2-20 falls in 春节: Tue 2-24
    ],
)
def test_add_months(start: str, months: int, due: str) -> None:
    assert CAL.add_months(d(start), months) == Deadline(d(due))


def test_add_months_into_an_unknown_year() -> None:
    assert CAL.add_months(d("2026-07-03"), 6) == Deadline(d("2027-01-04"), (2027,))  # Sun 2027-01-03 → Mon
    assert CAL.add_months(d("2026-06-30"), 6) == Deadline(d("2026-12-30"))
    assert CAL.deadline(d("2025-07-01"), Months(3)) == CAL.add_months(d("2025-07-01"), 3)


# --- properties ------------------------------------------------------------------------------------

starts = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
counts = st.integers(min_value=1, max_value=300)
calendars = st.sampled_from([CAL, CAL.with_schedule(FIXTURE_2027)])


@given(calendars, starts, counts)
def test_deadline_lands_on_a_working_day(cal: WorkingCalendar, start: date, n: int) -> None:
    due = cal.add_working_days(start, n).due
    assert due > start and cal.is_working_day(due)


@given(calendars, starts, st.integers(min_value=0, max_value=300))
def test_working_days_between_inverts_add_working_days(cal: WorkingCalendar, start: date, n: int) -> None:
    due = cal.add_working_days(start, n).due
    assert cal.working_days_between(start, due) == n
    assert cal.working_days_between(due, start) == -n


@given(calendars, starts, counts)
def test_monotonic_in_n(cal: WorkingCalendar, start: date, n: int) -> None:
    assert cal.add_working_days(start, n - 1).due < cal.add_working_days(start, n).due


@given(starts, counts)
def test_provisional_exactly_when_an_unknown_year_is_reached(start: date, n: int) -> None:
    deadline = CAL.add_working_days(start, n)
    assert deadline.provisional == (deadline.due.year >= 2027)


@given(calendars, starts, st.integers(min_value=0, max_value=30))
def test_add_months_lands_on_a_working_day(cal: WorkingCalendar, start: date, months: int) -> None:
    due = cal.add_months(start, months).due
    assert cal.is_working_day(due) and due >= start


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holidays", "workdays", "message"),
    [
        (["2027-02-30"], [], r"holidays: '2027-02-30' is not a date"),
        ([], ["soon"], r"workdays: 'soon' is not a date"),
        ([20270101], [], r"holidays: 20270101 is not a date"),
        ([datetime(2027, 1, 1, 8, 0)], [], r"is a date and time"),
        (["2028-01-03"], [], r"2028-01-03 is not in 2027"),
        (["2026-11-30"], [], r"2026-11-30 is not in 2027"),
        ([], ["2027-02-17"], r"make-up workday 2027-02-17 is a Wednesday"),
        (["2027-02-20"], ["2027-02-20"], r"2027-02-20 is listed both"),
    ],
)
def test_from_lists_rejects_bad_dates(holidays: list[str | date], workdays: list[str | date], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        YearSchedule.from_lists(2027, holidays, workdays, source="test")


def test_from_lists_accepts_dates_and_drops_weekend_holidays() -> None:
    s = YearSchedule.from_lists(2027, [date(2027, 1, 1), " 2027-01-02 "], [], source="test")
    assert s.holidays == {date(2027, 1, 1)}  # Sat 2027-01-02 is off anyway
    with pytest.raises(ValueError, match="source"):
        YearSchedule.from_lists(2027, [], [], source=" ")


def test_calendar_rejects_a_schedule_filed_under_the_wrong_year() -> None:
    with pytest.raises(ValueError, match="schedule for 2027 filed under 2026"):
        WorkingCalendar({2026: FIXTURE_2027})
