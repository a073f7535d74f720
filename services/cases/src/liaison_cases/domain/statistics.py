"""Which counters a case moves: the whole definition of the statistics, with no I/O.

A case counts in two cells of its station (and district): the month it was collected in
(Asia/Shanghai) and that year, so that a year's figures read one cell per station, not twelve.
Figures for a period describe the cases collected in it, as they stand now; a bulletin freezes
them. Each case adds ``counters(case)`` to each of its cells, under three sections:
``all``, ``category.<category>`` and ``department.<lead department>``. A change of a case moves
its cells by ``counters(after) - counters(before)``, so the read model is always the sum of
``counters`` over the stored cases, which is exactly what a recount computes.

Figures: collected (every case, merged ones included), resolved (answered: replied, rated or
closed), in progress (not answered yet), merged, overdue (a running deadline already past),
on-time rate (answered cases answered by their deadline), satisfaction rate (满意 or 基本满意
among the rated), average days per stage (finished stays in each state, reopenings included).

Overdue depends on the clock, not on a change: an open case counts its deadline in an
``open_due.<date>`` histogram, and a query counts the deadlines already past (``figures``).
Counters are integers (stage times in whole seconds), so adding and retracting is exact.
"""

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from liaison_infra.domain_errors import InvalidInput

from liaison_cases.domain.cases import Case, Satisfaction
from liaison_cases.domain.lifecycle import RUNNING, State

CHINA = ZoneInfo("Asia/Shanghai")
ANSWERED = frozenset({State.REPLIED, State.RATED, State.CLOSED})  # 办结: the department has answered
SATISFIED = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED})
UNASSIGNED = "unassigned"
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Cell:
    """Where a case counts: never changes over the case's life."""

    station_id: str
    district_id: str | None
    period: str  # YYYY-MM or YYYY of collection, Asia/Shanghai

    @property
    def id(self) -> str:
        return f"{self.station_id}|{self.district_id or ''}|{self.period}"


def china_day(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def cells_of(case: Case) -> tuple[Cell, Cell]:
    """The month and the year cell of a case."""
    month = china_day(case.timeline[0].at).strftime("%Y-%m")
    return Cell(case.station_id, case.district_id, month), Cell(case.station_id, case.district_id, month[:4])


def _seconds(at: datetime) -> int:
    # Whole seconds: the stored timeline keeps milliseconds, the case in memory microseconds.
    return int(at.timestamp())


def _case_counters(case: Case) -> Counter[str]:
    found: Counter[str] = Counter(collected=1)
    if case.state is State.MERGED:
        found["merged"] += 1
    elif case.state in ANSWERED:
        found["resolved"] += 1
    else:
        found["in_progress"] += 1
    if case.state in RUNNING and case.due is not None:
        found[f"open_due.{case.due.isoformat()}"] += 1
    if case.state in ANSWERED and case.reply is not None and case.due is not None:
        found["answered_with_due"] += 1
        found["on_time"] += china_day(case.reply.at) <= case.due
    if case.satisfaction is not None:
        found["rated"] += 1
        found["satisfied"] += case.satisfaction in SATISFIED
    state, entered = case.timeline[0].to_state, _seconds(case.timeline[0].at)
    for step in case.timeline[1:]:
        if step.to_state != state:  # a finished stay in `state`
            found[f"stage_seconds.{state.value}"] += _seconds(step.at) - entered
            found[f"stage_stays.{state.value}"] += 1
            state, entered = step.to_state, _seconds(step.at)
    return found


def counters(case: Case) -> Counter[str]:
    """What the case adds to its cell, as MongoDB paths → amounts."""
    own = _case_counters(case)
    department = case.lead_department_id or UNASSIGNED  # a directory slug: safe as a field name
    sections = ("all", f"category.{case.category.value}", f"department.{department}")
    return Counter({f"{section}.{name}": amount for section in sections for name, amount in own.items() if amount})


def change(before: Case | None, after: Case) -> dict[str, int]:
    """How a change of a case moves its cell (only the counters that move)."""
    moved = Counter(counters(after))
    moved.subtract(counters(before) if before is not None else Counter())
    return {path: amount for path, amount in moved.items() if amount}


def tally(cells: dict[Cell, Counter[str]], case: Case) -> None:
    """Add a case to cells being recounted from scratch (see ``nest`` for their stored form)."""
    counted = counters(case)
    for cell in cells_of(case):
        cells.setdefault(cell, Counter()).update(counted)


def nest(flat: Mapping[str, int]) -> dict[str, Any]:
    """Dotted paths → nested dicts, as MongoDB stores the $inc paths."""
    tree: dict[str, Any] = {}
    for path, amount in flat.items():
        *parents, leaf = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = amount
    return tree


def add_into(total: dict[str, Any], section: Mapping[str, Any]) -> None:
    """Add one stored section (counters and the open_due/stage histograms) into ``total``."""
    for name, value in section.items():
        if isinstance(value, Mapping):
            add_into(total.setdefault(name, {}), value)
        else:
            total[name] = total.get(name, 0) + value


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(section: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The reported figures of a summed section; overdue counts the deadlines before ``today``."""
    stays, seconds = section.get("stage_stays", {}), section.get("stage_seconds", {})
    return {
        "collected": section.get("collected", 0),
        "resolved": section.get("resolved", 0),
        "in_progress": section.get("in_progress", 0),
        "merged": section.get("merged", 0),
        "overdue": sum(n for due, n in section.get("open_due", {}).items() if date.fromisoformat(due) < today),
        "on_time_rate": _rate(section.get("on_time", 0), section.get("answered_with_due", 0)),
        "satisfaction_rate": _rate(section.get("satisfied", 0), section.get("rated", 0)),
        "average_days": {
            state: round(seconds.get(state, 0) / n / SECONDS_PER_DAY, 2) for state, n in sorted(stays.items()) if n
        },
    }


@dataclass(frozen=True)
class Period:
    """A month (2026-03), quarter (2026-Q1) or year (2026), as the range of months it covers."""

    label: str
    first_month: str
    last_month: str

    def cells(self, *, by_month: bool) -> tuple[str, str]:
        """The first and last cell period to read: a year's own cell, unless rows are by month."""
        if by_month or len(self.label) != 4:
            return self.first_month, self.last_month
        return self.label, self.label

    @classmethod
    def parse(cls, text: str) -> "Period":
        match = re.fullmatch(r"(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?", text)
        if match is None:
            raise InvalidInput(
                "invalid_period", "period must be a month (2026-03), quarter (2026-Q1) or year (2026)", field="period"
            )
        year, month, quarter = match.groups()
        if month:
            return cls(text, f"{year}-{month}", f"{year}-{month}")
        first, last = (3 * int(quarter) - 2, 3 * int(quarter)) if quarter else (1, 12)
        return cls(text, f"{year}-{first:02d}", f"{year}-{last:02d}")
