"""Periods a duty belongs to (a month, a quarter, a festival, a case's time limit) and their windows.

A window runs from local midnight of its first day to local midnight after its last day, in
Asia/Shanghai; it is stored in UTC. Festival dates come from the lunar calendar.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from liaison_infra.clock import CHINA
from lunardate import LunarDate

from liaison_notify.domain.rules import Festival, Rule

LUNAR_DAY = {Festival.SPRING: (1, 1), Festival.MID_AUTUMN: (8, 15), Festival.DOUBLE_NINTH: (9, 9)}
# The lunar years ``lunardate``'s table covers: a day outside them (an old visit's, say) is in no
# festival's window, rather than failing the event or the scan that asks.
LUNAR_YEARS = range(1900, 2100)


@dataclass(frozen=True)
class Window:
    period_id: str  # "2026-11", "2026-Q4", "2026-spring", "deadline"
    first_day: date  # local
    last_day: date  # local, inclusive

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last_day + timedelta(days=1))

    def contains_day(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA).astimezone(UTC)


def month_window(day: date) -> Window:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Window(f"{first:%Y-%m}", first, following - timedelta(days=1))


def quarter_window(day: date) -> Window:
    quarter = (day.month - 1) // 3
    first = date(day.year, quarter * 3 + 1, 1)
    following = date(day.year + 1, 1, 1) if quarter == 3 else date(day.year, quarter * 3 + 4, 1)
    return Window(f"{day.year}-Q{quarter + 1}", first, following - timedelta(days=1))


def festival_day(festival: Festival, year: int) -> date:
    """The Gregorian date of ``festival`` in the lunar year that begins in ``year``."""
    month, day = LUNAR_DAY[festival]
    solar: date = LunarDate(year, month, day).to_solar_date()
    return solar


def festival_window(rule: Rule, year: int) -> Window:
    assert rule.festival is not None
    day = festival_day(rule.festival, year)
    return Window(
        f"{year}-{rule.festival.value}", day - timedelta(days=rule.days_before), day + timedelta(days=rule.days_after)
    )


def case_window(assigned_on: date, due: date) -> Window:
    """From the day the case was assigned to its deadline, inclusive."""
    return Window("deadline", min(assigned_on, due), due)


def windows_under_way(rule: Rule, today: date) -> list[Window]:
    """The rule's windows that contain ``today`` (case deadlines have none of their own)."""
    if rule.kind == "monthly_visit":
        return [month_window(today)]
    if rule.kind == "quarterly_activity":
        return [quarter_window(today)]
    if rule.kind == "festival_visit":
        years = [year for year in (today.year - 1, today.year, today.year + 1) if year in LUNAR_YEARS]
        candidates = (festival_window(rule, year) for year in years)
        return [window for window in candidates if window.contains_day(today)]
    return []
