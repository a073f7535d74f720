"""督办: how urgent a running deadline is, as a colour (green, yellow, red) from the time left.

Time left is counted in Chinese working days from today (Asia/Shanghai) to the due date, like
the deadline itself. The defaults follow how supervision works in practice:

- red when the deadline has passed or at most 3 working days are left: a department needs a few
  working days to draft, approve and send a reply, so from then on only a supervisor's call
  (督办) can still make the date, and the case is listed for one;
- yellow when at most 20% of the time allowed (assignment to due date) is left: about two and a
  half weeks of a three-month case, the last fifth, when the station reminds the department;
- green otherwise.

Both thresholds are settings (``CASES_SUPERVISION_RED_WORKING_DAYS``,
``CASES_SUPERVISION_YELLOW_SHARE``). A co-handling department (协办) is watched the same way
against its own sub-deadline until it has given its opinion. Only a running case (assigned or in
progress) is supervised: before assignment there is no deadline, after the reply none runs.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from liaison_cases.domain.cases import Case
from liaison_cases.domain.lifecycle import RUNNING
from liaison_cases.domain.working_days import WorkingCalendar


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class SupervisionPolicy:
    red_working_days: int = 3
    yellow_share: float = 0.2


@dataclass(frozen=True)
class Supervisor:
    """The colour rules as seen on one day with one calendar."""

    today: date
    calendar: WorkingCalendar
    policy: SupervisionPolicy = SupervisionPolicy()

    def watch(self, start: date, due: date) -> dict[str, Any]:
        """One deadline: working days left (negative once overdue), overdue, colour."""
        left = self.calendar.working_days_between(self.today, due)
        allowed = max(self.calendar.working_days_between(start, due), 1)
        if left <= self.policy.red_working_days:
            colour = Colour.RED
        elif left <= self.policy.yellow_share * allowed:
            colour = Colour.YELLOW
        else:
            colour = Colour.GREEN
        return {"due": due.isoformat(), "working_days_left": left, "overdue": due < self.today, "colour": colour}

    def of(self, case: Case) -> dict[str, Any] | None:
        """The case's supervision, or None when no deadline runs; co-handlers that still owe an
        opinion are watched against their sub-deadlines."""
        if case.state not in RUNNING or case.due is None or case.assigned_on is None:
            return None
        co_handlers = [
            {"department_id": co.department_id, **self.watch(case.assigned_on, co.due)}
            for co in case.co_handlers
            if co.opinion is None
        ]
        return {**self.watch(case.assigned_on, case.due), "co_handlers": co_handlers}
