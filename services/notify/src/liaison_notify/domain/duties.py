"""The duty aggregate: one obligation with a window (deputy D visits household H in 2026-11).

open → fulfilled (an event proves it done) | missed (its window closed first). An open duty may
move to another deputy or another window; a missed one climbs its escalation ladder until an
event resolves it late. Every transition returns a new duty; nothing here does I/O.

Reminders are released by time range: each scan sends, for every open duty, the latest reminder
timed since the scan before, so releasing writes no duty. A duty written too close to (or after)
one of its reminder times for the scans to be sure to see it in time catches up by itself
(``catch_up_at``): made late in its window, moved to a new window, or due in quiet hours.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from liaison_infra.clock import china_day

from liaison_notify.domain.periods import Window
from liaison_notify.domain.rules import EscalationStep, QuietHours, Rule
from liaison_notify.domain.schedule import Reminder, quiet_hours_end, schedule

# How long a duty's write may take to be seen by the scans, at most: a reminder timed sooner than
# this after the write is left to the duty's own catch-up, not to the scans' time ranges.
CATCH_UP_MARGIN = timedelta(minutes=10)


class DutyStatus(StrEnum):
    OPEN = "open"
    FULFILLED = "fulfilled"
    MISSED = "missed"


NOBODY = "nobody"  # the step recorded when a rule has no escalation ladder


@dataclass(frozen=True)
class Escalation:
    """A step of the ladder, planned at ``due``; ``recipient_id`` None means nobody could be told."""

    to: str
    due: datetime
    recipient_id: str | None
    note: str | None = None


@dataclass(frozen=True)
class Duty:
    id: str
    rule_id: str
    kind: str
    period_id: str
    subject_id: str  # a household, a station or a case
    station_id: str
    district_id: str | None
    deputy_id: str | None
    window_start: datetime
    window_end: datetime
    reminders: tuple[Reminder, ...]
    catch_up_at: datetime | None  # when the duty looks for a due reminder by itself (see above)
    status: DutyStatus = DutyStatus.OPEN
    fulfilled_by: str | None = None
    closed_at: datetime | None = None
    resolved_at: datetime | None = None  # a missed duty done late
    escalations: tuple[Escalation, ...] = ()  # planned and taken steps of a missed duty
    escalated: tuple[str, ...] = ()  # the ``to`` of each step already taken
    next_escalation_at: datetime | None = None
    version: int = 0  # the stored version this duty was read at; 0 before it is stored

    @property
    def recipient_id(self) -> str:
        """The deputy responsible, or the station head for station duties and unassigned households."""
        return f"deputy:{self.deputy_id}" if self.deputy_id else f"station_head:{self.station_id}"

    def release(self, after: datetime | None, now: datetime, quiet: QuietHours) -> tuple["Duty", Reminder | None]:
        """The reminder to send at ``now`` and the duty as it stands then: the latest of its
        reminders timed in the scan's range (``after``, ``now``], or up to ``now`` once its
        catch-up is due (several missed reminders are not all sent). An open duty only. In quiet
        hours nothing is sent: the duty catches up when they end."""
        if self.status != DutyStatus.OPEN:
            return self, None
        catching_up = self.catch_up_at is not None and self.catch_up_at <= now
        due = [r for r in self.reminders if r.at <= now and (catching_up or after is None or r.at > after)]
        if due and (quiet_end := quiet_hours_end(now, quiet)) > now:
            return replace(self, catch_up_at=quiet_end), None
        return (replace(self, catch_up_at=None) if catching_up else self), (due[-1] if due else None)

    def done_by(self, day: date) -> bool:
        """Whether something done on local ``day`` fulfils this duty: inside its window while it is
        open, any day from the window's start once it is missed (late, but it stops escalation)."""
        first, after_last = china_day(self.window_start), china_day(self.window_end)
        if self.status == DutyStatus.OPEN:
            return first <= day < after_last
        return self.status == DutyStatus.MISSED and first <= day

    def fulfil(self, by: str, at: datetime) -> "Duty | None":
        """Done: an open duty is fulfilled, a missed one resolved late; None when nothing changes."""
        if self.status == DutyStatus.OPEN:
            return replace(self, status=DutyStatus.FULFILLED, fulfilled_by=by, closed_at=at, catch_up_at=None)
        if self.status == DutyStatus.MISSED and self.resolved_at is None:
            return replace(self, fulfilled_by=by, resolved_at=at, next_escalation_at=None)
        return None

    def miss(self, rule: Rule) -> "Duty":
        """The window closed with the duty open: plan every step of the rule's ladder, each due
        ``after_days`` after the window's end and outside quiet hours.

        With no step at all the miss is still recorded, as an escalation to nobody, so it shows.
        """
        planned = tuple(self._plan(step, rule.quiet_hours) for step in rule.escalation) or (
            Escalation(NOBODY, self.window_end, None, "no escalation step is configured for this rule"),
        )
        routable = [e.due for e in planned if e.recipient_id is not None]
        return replace(
            self,
            status=DutyStatus.MISSED,
            closed_at=self.window_end,
            catch_up_at=None,
            escalations=planned,
            next_escalation_at=min(routable, default=None),
        )

    def _plan(self, step: EscalationStep, quiet: QuietHours) -> Escalation:
        due = quiet_hours_end(self.window_end + timedelta(days=step.after_days), quiet)
        if step.to == "station_head":
            return Escalation(step.to, due, f"station_head:{self.station_id}")
        if self.district_id is None:
            return Escalation(step.to, due, None, "the station's district is not known")
        return Escalation(step.to, due, f"district:{self.district_id}")

    def escalate_due(self, now: datetime) -> tuple["Duty", list[Escalation]]:
        """The planned steps due at ``now`` not taken yet, and the duty with them marked taken."""
        if self.status != DutyStatus.MISSED or self.resolved_at is not None:
            return self, []
        due = [e for e in self.escalations if e.recipient_id and e.due <= now and e.to not in self.escalated]
        later = [e.due for e in self.escalations if e.recipient_id and e.due > now and e.to not in self.escalated]
        taken = replace(
            self, escalated=self.escalated + tuple(e.to for e in due), next_escalation_at=min(later, default=None)
        )
        return taken, due

    def reassign(self, deputy_id: str | None) -> "Duty | None":
        """An open duty follows its household to the new deputy, future reminders included."""
        if self.status != DutyStatus.OPEN or deputy_id == self.deputy_id:
            return None
        return replace(self, deputy_id=deputy_id)

    def reschedule(self, rule: Rule, window: Window, at: datetime) -> "Duty | None":
        """An open duty moves to a new window at ``at`` (a case's deadline changed); reminders
        follow it, one already due going out at once."""
        if self.status != DutyStatus.OPEN:
            return None
        reminders = tuple(schedule(rule, window))
        return replace(
            self,
            period_id=window.period_id,
            window_start=window.start,
            window_end=window.end,
            reminders=reminders,
            catch_up_at=catch_up(reminders, at),
        )

    def reopen(self, rule: Rule, window: Window, at: datetime) -> "Duty | None":
        """A case answered, then handed back to be handled again (不满意): its duty watches the
        deadline again, missed at the next scan when that has passed. A duty missed and resolved
        late is unresolved again (its escalations were taken); an open one stays as it is."""
        if self.status == DutyStatus.FULFILLED:
            opened = replace(self, status=DutyStatus.OPEN, fulfilled_by=None, closed_at=None)
            return opened.reschedule(rule, window, at)
        if self.status == DutyStatus.MISSED and self.resolved_at is not None:
            return replace(self, fulfilled_by=None, resolved_at=None)
        return None


def duty_id(rule_id: str, subject_id: str, period_id: str) -> str:
    """Deterministic, so generating a period twice finds the duty already there; ordered so that
    one rule's duties of one period form a range of ids, which a scan checks with one query."""
    return f"{rule_id}|{period_id}|{subject_id}"


def catch_up(reminders: tuple[Reminder, ...], written_at: datetime) -> datetime | None:
    """When a duty written at ``written_at`` must look for a due reminder by itself: at the latest
    of its reminders the scans' time ranges might miss (see ``CATCH_UP_MARGIN``), if any; the
    reminders after it are theirs."""
    missable = [reminder.at for reminder in reminders if reminder.at <= written_at + CATCH_UP_MARGIN]
    return max(missable, default=None)


def new_duty(
    rule: Rule,
    window: Window,
    *,
    subject_id: str,
    station_id: str,
    district_id: str | None,
    deputy_id: str | None,
    made_at: datetime,
) -> Duty:
    reminders = tuple(schedule(rule, window))
    return Duty(
        id=duty_id(rule.id, subject_id, window.period_id),
        rule_id=rule.id,
        kind=rule.kind.value,
        period_id=window.period_id,
        subject_id=subject_id,
        station_id=station_id,
        district_id=district_id,
        deputy_id=deputy_id,
        window_start=window.start,
        window_end=window.end,
        reminders=reminders,
        catch_up_at=catch_up(reminders, made_at),
    )
