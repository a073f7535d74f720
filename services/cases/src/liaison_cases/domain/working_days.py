"""Chinese working-day arithmetic for case deadlines (交办, 退办 within 7 working days, 答复 time limits).

The calendar is data, not code. Each year's schedule of statutory holidays and 调休 make-up days is
announced by the State Council (国务院办公厅) late in the previous year, so a case opened today may run
into a year nobody knows yet. `chinese-calendar` is the default source for announced years; an
administrator loads the official schedule of a newer year from the notice. For a year with no schedule
we count weekends only and mark the deadline provisional, so the UI can say so and the deadline is
recomputed (`changed_deadlines`) once the schedule is loaded.

No I/O here: loading schedules, storing deadlines and recording the change belong to the service layer.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from types import MappingProxyType
from typing import TypeAlias, TypeVar

import chinese_calendar

_ONE_DAY = timedelta(days=1)
K = TypeVar("K")


def _is_weekend(d: date) -> bool:
    return d.weekday() >= 5


def _parse_day(value: str | date, what: str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"{what}: {value!r} is a date and time; give a calendar date (YYYY-MM-DD)")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"{what}: {value!r} is not a date in YYYY-MM-DD form") from exc


@dataclass(frozen=True)
class YearSchedule:
    """One year's official holiday schedule, stored as the exceptions to "Monday–Friday work".

    `holidays` are weekdays off; weekend days inside a holiday block are accepted and dropped, because
    both the notices ("1月28日至2月4日放假调休，共8天") and chinese-calendar list whole blocks and such
    days are off anyway; asking the admin to strip them would only invite typos. `workdays` are the
    Saturdays/Sundays worked in exchange (调休上班); a weekday there is rejected as a likely typo.

    Dates belong to `year` or to the December before it: the notice for a year may arrange the New
    Year block that starts in late December (the 2019 notice: 2018-12-29 worked, 2018-12-31 off).
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str

    def __post_init__(self) -> None:
        for d in sorted(self.holidays | self.workdays):
            if not self.covers(d):
                raise ValueError(f"{d} is not in {self.year} (nor in December {self.year - 1})")
        if both := self.holidays & self.workdays:
            raise ValueError(f"{min(both)} is listed both as a holiday and as a make-up workday")
        for d in sorted(self.workdays):
            if not _is_weekend(d):
                raise ValueError(f"make-up workday {d} is a {d:%A}; only a Saturday or Sunday can be one")
        if not self.source.strip():
            raise ValueError("source must say where the schedule comes from")
        object.__setattr__(self, "holidays", frozenset(d for d in self.holidays if not _is_weekend(d)))
        object.__setattr__(self, "workdays", frozenset(self.workdays))

    def covers(self, d: date) -> bool:
        return d.year == self.year or (d.year == self.year - 1 and d.month == 12)

    @classmethod
    def from_lists(
        cls, year: int, holidays: Iterable[str | date], workdays: Iterable[str | date], source: str
    ) -> YearSchedule:
        """Build from what an admin uploads (JSON lists of "YYYY-MM-DD"); errors name the bad date."""
        return cls(
            year=year,
            holidays=frozenset(_parse_day(v, "holidays") for v in holidays),
            workdays=frozenset(_parse_day(v, "workdays") for v in workdays),
            source=source,
        )


def schedule_from_library(year: int) -> YearSchedule | None:
    """The schedule chinese-calendar knows for `year`, or None for a year it has no data for.

    The library raises NotImplementedError for dates outside the years it ships (2004 up to the last
    announced year), which is the robust test: it is the library's own notion of "known".
    """
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
        chinese_calendar.is_workday(date(year, 12, 31))
    except NotImplementedError:
        return None
    return YearSchedule(
        year=year,
        holidays=frozenset(d for d in chinese_calendar.holidays if d.year == year),
        workdays=frozenset(d for d in chinese_calendar.workdays if d.year == year),
        source=f"chinese-calendar {chinese_calendar.__version__}",
    )


@cache
def _library_schedules() -> Mapping[int, YearSchedule]:
    """Every year chinese-calendar knows (built once: the library's data is fixed for a process)."""
    years = sorted({d.year for d in chinese_calendar.holidays})
    return MappingProxyType({y: s for y in years if (s := schedule_from_library(y)) is not None})


@dataclass(frozen=True)
class Deadline:
    """A due date; `unknown_years` are the years without a schedule whose days decided it (weekends only
    were assumed there), so the date may move once those schedules are loaded."""

    due: date
    unknown_years: tuple[int, ...] = ()

    @property
    def provisional(self) -> bool:
        return bool(self.unknown_years)


@dataclass(frozen=True)
class WorkingDays:
    """Within n working days, counted from the day after the start."""

    n: int


@dataclass(frozen=True)
class Months:
    """Within n calendar months, moved to the next working day if it ends on a day off."""

    n: int


Rule: TypeAlias = WorkingDays | Months


class WorkingCalendar:
    """Working days from a mapping year → schedule; immutable, so an old and a new calendar can be
    compared when an admin loads a schedule."""

    def __init__(self, schedules: Mapping[int, YearSchedule] | None = None) -> None:
        schedules = schedules or {}
        for year, schedule in schedules.items():
            if schedule.year != year:
                raise ValueError(f"schedule for {schedule.year} filed under {year}")
        self._schedules = MappingProxyType(dict(sorted(schedules.items())))
        self._days: dict[date, bool] = {}
        # Ascending years: a notice's December days of the previous year override that year's schedule.
        for schedule in self._schedules.values():
            self._days.update(dict.fromkeys(schedule.holidays, False))
            self._days.update(dict.fromkeys(schedule.workdays, True))

    @staticmethod
    def with_library(official: Mapping[int, YearSchedule] | None = None) -> WorkingCalendar:
        """chinese-calendar's years, overridden year by year by the `official` schedules admins loaded.

        Transitions ask for one all the time, so a calendar is built once per set of official
        schedules and shared (it is immutable); loading a schedule makes a new set, so a new one."""
        return _calendar_with(frozenset((official or {}).items()))

    def with_schedule(self, schedule: YearSchedule) -> WorkingCalendar:
        """A new calendar where `schedule` replaces whatever this one had for its year."""
        return WorkingCalendar({**self._schedules, schedule.year: schedule})

    @property
    def schedules(self) -> Mapping[int, YearSchedule]:
        return self._schedules

    def is_working_day(self, d: date) -> bool:
        return self._days.get(d, not _is_weekend(d))

    def _unknown(self, d: date, unknown: set[int]) -> None:
        if d.year not in self._schedules:
            unknown.add(d.year)

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The n-th working day after `start`: `start` itself never counts, whether or not it is a working
        day ("within N working days of assignment"); n == 0 gives `start`."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        day, counted, unknown = start, 0, set[int]()
        while counted < n:
            day += _ONE_DAY
            self._unknown(day, unknown)
            counted += self.is_working_day(day)
        return Deadline(day, tuple(sorted(unknown)))

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: after `a`, up to and including `b`; 0 when a == b, and the negated count
        of (b, a] when b is before a, so `working_days_between(today, due)` is the time left and goes
        negative once overdue. Inverse of add_working_days for a working-day `b`."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    def add_months(self, start: date, months: int) -> Deadline:
        """Same day `months` calendar months later, clamped to the month's end (Jan 31 + 1 → Feb 28/29);
        if that is a day off, the next working day (a time limit ending on a holiday ends after it).
        Only that day and the days skipped decide the date, so only their years make it provisional."""
        if months < 0:
            raise ValueError(f"months must be >= 0, got {months}")
        index = start.month - 1 + months
        year, month = start.year + index // 12, index % 12 + 1
        day = date(year, month, min(start.day, monthrange(year, month)[1]))
        unknown = set[int]()
        self._unknown(day, unknown)
        while not self.is_working_day(day):
            day += _ONE_DAY
            self._unknown(day, unknown)
        return Deadline(day, tuple(sorted(unknown)))

    def deadline(self, start: date, rule: Rule) -> Deadline:
        if isinstance(rule, WorkingDays):
            return self.add_working_days(start, rule.n)
        return self.add_months(start, rule.n)


@lru_cache(maxsize=4)
def _calendar_with(official: frozenset[tuple[int, YearSchedule]]) -> WorkingCalendar:
    return WorkingCalendar({**_library_schedules(), **dict(official)})


def changed_deadlines(
    items: Iterable[tuple[K, date, Rule]], old: WorkingCalendar, new: WorkingCalendar
) -> list[tuple[K, Deadline, Deadline]]:
    """(key, before, after) for each deadline that a calendar change moves or makes final.

    A deadline that keeps its date but stops being provisional is included: the stored flag must change.
    """
    changes = []
    for key, start, rule in items:
        before, after = old.deadline(start, rule), new.deadline(start, rule)
        if before != after:
            changes.append((key, before, after))
    return changes
