"""The weekly digest to a station head: what the week just ended brought, as one message.

Sent on Monday for the ISO week before; its occurrence names that week ("digest:2026-W48"),
so producing it again, or on a second beat, stores nothing new.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from liaison_infra.clock import china_day

from liaison_notify.domain.messages import Message
from liaison_notify.domain.periods import local_midnight

RULE_ID = "weekly_digest"
TEMPLATE = "weekly_digest"
VISIT_KINDS = ("monthly_visit", "festival_visit")


@dataclass(frozen=True)
class Week:
    label: str  # ISO week, "2026-W48"
    start: datetime  # Monday 00:00 Asia/Shanghai, in UTC
    end: datetime  # the following Monday 00:00

    @property
    def next_end(self) -> datetime:
        """The end of the week the digest is read in: what falls due before then is "due"."""
        return self.end + timedelta(days=7)


def reported_week(now: datetime) -> Week:
    """The ISO week before the one ``now`` falls in (local time)."""
    today = china_day(now)
    monday = today - timedelta(days=today.weekday() + 7)
    year, number, _ = monday.isocalendar()
    return Week(f"{year}-W{number:02d}", local_midnight(monday), local_midnight(monday + timedelta(days=7)))


@dataclass(frozen=True)
class StationWeek:
    station_id: str
    station_name: str
    district_id: str | None
    visits_done: int = 0
    visits_missed: int = 0
    duties_due: int = 0  # open duties whose window ends in the week the digest is read in
    cases_overdue: int = 0  # case deadlines passed and not answered, as of sending


def digest_message(week: Week, figures: StationWeek) -> Message:
    return Message(
        rule_id=RULE_ID,
        subject_id=figures.station_id,
        occurrence=f"digest:{week.label}",
        recipient_id=f"station_head:{figures.station_id}",
        template=TEMPLATE,
        variables={
            "station_name": figures.station_name,
            "week": week.label,
            "visits_done": str(figures.visits_done),
            "visits_missed": str(figures.visits_missed),
            "duties_due": str(figures.duties_due),
            "cases_overdue": str(figures.cases_overdue),
        },
        station_id=figures.station_id,
        district_id=figures.district_id,
        tags=("digest",),
    )
