"""When a duty's reminders fire: the rule's offsets laid on its window, moved out of quiet hours.

Each reminder is named by its local time ("2026-11-20T09:00"); that name is the occurrence in
the message's idempotency key, so computing the schedule again, on any clock, names it the same.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
from liaison_infra.clock import CHINA

from liaison_notify.domain.periods import Window
from liaison_notify.domain.rules import QuietHours, ReminderOffset, Rule

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Reminder:
    at: datetime  # UTC
    occurrence: str  # local time, minute precision


def is_working_day(day: date) -> bool:
    """Chinese working days (holidays and 调休 make-up days); weekdays for years not yet announced."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def working_days_before(day: date, count: int) -> date:
    while count > 0:
        day -= ONE_DAY
        count -= is_working_day(day)
    return day


def reminder_day(offset: ReminderOffset, window: Window) -> date:
    if offset.anchor == "start":
        return window.first_day + offset.days * ONE_DAY
    if offset.working_days:
        return working_days_before(window.last_day, offset.days)
    return window.last_day - offset.days * ONE_DAY


def outside_quiet_hours(moment: datetime, quiet: QuietHours) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in: moved, never dropped."""
    if not quiet.contains(moment.time()):
        return moment
    end = moment.replace(hour=quiet.end.hour, minute=quiet.end.minute)
    return end if end > moment else end + ONE_DAY


def quiet_hours_end(moment: datetime, quiet: QuietHours) -> datetime:
    """``outside_quiet_hours`` for a moment in UTC, judged in Asia/Shanghai time."""
    return outside_quiet_hours(moment.astimezone(CHINA), quiet).astimezone(UTC)


def schedule(rule: Rule, window: Window) -> list[Reminder]:
    """The rule's reminders inside the window, in time order, each once."""
    found: dict[str, Reminder] = {}
    for offset in rule.reminders:
        day = reminder_day(offset, window)
        if not window.contains_day(day):
            continue
        local = outside_quiet_hours(datetime.combine(day, offset.at, CHINA), rule.quiet_hours)
        occurrence = f"{local:%Y-%m-%dT%H:%M}"
        found[occurrence] = Reminder(local.astimezone(UTC), occurrence)
    return sorted(found.values(), key=lambda reminder: reminder.at)
