"""Periods, windows and reminder schedules: pure domain, Asia/Shanghai local time."""

from datetime import UTC, date, datetime, time

import pytest
from liaison_infra.clock import CHINA
from liaison_notify.domain.periods import case_window, month_window, quarter_window, windows_under_way
from liaison_notify.domain.rules import DEFAULT_RULES, QuietHours, ReminderOffset
from liaison_notify.domain.schedule import is_working_day, outside_quiet_hours, schedule, working_days_before


def test_a_month_window_runs_from_local_midnight_to_local_midnight_in_utc() -> None:
    window = month_window(date(2026, 11, 17))
    assert window.period_id == "2026-11"
    assert window.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert window.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert month_window(date(2028, 2, 3)).last_day == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("day", "period", "first", "last"),
    [
        (date(2026, 1, 1), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 11, 30), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 6, 30), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
    ],
)
def test_quarters(day: date, period: str, first: date, last: date) -> None:
    window = quarter_window(day)
    assert (window.period_id, window.first_day, window.last_day) == (period, first, last)


def test_the_monthly_schedule_is_the_first_the_twentieth_and_the_last_day_at_nine_local() -> None:
    reminders = schedule(DEFAULT_RULES["monthly_visit"], month_window(date(2026, 11, 1)))
    assert [r.occurrence for r in reminders] == ["2026-11-01T09:00", "2026-11-20T09:00", "2026-11-30T09:00"]
    assert reminders[0].at == datetime(2026, 11, 1, 1, tzinfo=UTC)


def test_a_reminder_in_quiet_hours_moves_to_their_end_and_is_never_dropped() -> None:
    rule = DEFAULT_RULES["monthly_visit"].model_copy(
        update={"reminders": (ReminderOffset(anchor="start", days=0, at=time(22, 30)),)}
    )
    (reminder,) = schedule(rule, month_window(date(2026, 11, 1)))
    assert reminder.occurrence == "2026-11-02T08:00"
    early = datetime(2026, 11, 5, 6, 15, tzinfo=CHINA)
    assert outside_quiet_hours(early, QuietHours()) == datetime(2026, 11, 5, 8, 0, tzinfo=CHINA)
    daytime = QuietHours(start=time(12), end=time(14))
    assert outside_quiet_hours(datetime(2026, 11, 5, 12, 30, tzinfo=CHINA), daytime).hour == 14


def test_a_last_day_reminder_that_quiet_hours_would_push_out_of_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match="quiet hours"):
        DEFAULT_RULES["monthly_visit"].model_validate(
            {**DEFAULT_RULES["monthly_visit"].model_dump(), "reminders": [{"anchor": "end", "days": 0, "at": "22:00"}]}
        )


def test_case_deadline_reminders_count_chinese_working_days_including_make_up_days() -> None:
    # 2026-10-01..07 is the National Day holiday; Saturday 2026-10-10 is a 调休 working day.
    assert is_working_day(date(2026, 10, 10)) and not is_working_day(date(2026, 10, 7))
    assert working_days_before(date(2026, 10, 12), 3) == date(2026, 10, 8)
    window = case_window(date(2026, 9, 20), date(2026, 10, 12))
    occurrences = [r.occurrence for r in schedule(DEFAULT_RULES["case_deadline"], window)]
    assert occurrences == ["2026-10-08T09:00", "2026-10-12T09:00"]


def test_festival_windows_are_under_way_only_around_the_festival() -> None:
    rule = DEFAULT_RULES["festival_mid_autumn"]
    assert [w.period_id for w in windows_under_way(rule, date(2026, 9, 20))] == ["2026-mid_autumn"]
    assert windows_under_way(rule, date(2026, 8, 1)) == []
    spring = DEFAULT_RULES["festival_spring"]
    (window,) = windows_under_way(spring, date(2027, 2, 1))
    assert (window.first_day, window.last_day) == (date(2027, 1, 30), date(2027, 2, 9))


def test_a_day_outside_the_lunar_calendar_is_in_no_festival_window() -> None:
    spring = DEFAULT_RULES["festival_spring"]
    assert windows_under_way(spring, date(1899, 12, 31)) == []
    assert windows_under_way(spring, date(2099, 12, 31)) == []  # 2100's 春节 is past lunardate's table
    assert [w.period_id for w in windows_under_way(spring, date(1900, 1, 31))] == ["1900-spring"]
