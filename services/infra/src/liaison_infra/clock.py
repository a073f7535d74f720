"""Time as every service reads it: instants in UTC, days as they are in China (Asia/Shanghai,
DESIGN.md), where the stations work: a date a user gives, and the day a rule compares it with
("not in the future", a deadline's first day, a month's visits), are days there, not in UTC."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(UTC)


def china_day(at: datetime | None = None) -> date:
    """The day it is in China at ``at`` (now, if not given)."""
    return (at or utc_now()).astimezone(CHINA).date()
