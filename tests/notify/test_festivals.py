"""Festival dates from the lunar calendar (春节, 中秋, 重阳) and the visits they call for."""

from datetime import date

import pytest
from liaison_notify.domain.periods import festival_day, festival_window
from liaison_notify.domain.rules import DEFAULT_RULES, Festival


@pytest.mark.parametrize(
    ("festival", "year", "expected"),
    [
        (Festival.SPRING, 2025, date(2025, 1, 29)),
        (Festival.SPRING, 2026, date(2026, 2, 17)),
        (Festival.SPRING, 2027, date(2027, 2, 6)),
        (Festival.MID_AUTUMN, 2025, date(2025, 10, 6)),
        (Festival.MID_AUTUMN, 2026, date(2026, 9, 25)),
        (Festival.MID_AUTUMN, 2027, date(2027, 9, 15)),
        (Festival.DOUBLE_NINTH, 2025, date(2025, 10, 29)),
        (Festival.DOUBLE_NINTH, 2026, date(2026, 10, 18)),
        (Festival.DOUBLE_NINTH, 2027, date(2027, 10, 8)),
    ],
)
def test_festival_dates_come_from_the_lunar_calendar(festival: Festival, year: int, expected: date) -> None:
    assert festival_day(festival, year) == expected


def test_a_festival_window_opens_a_week_before_and_closes_three_days_after() -> None:
    window = festival_window(DEFAULT_RULES["festival_double_ninth"], 2026)
    assert window.period_id == "2026-double_ninth"
    assert (window.first_day, window.last_day) == (date(2026, 10, 11), date(2026, 10, 21))
