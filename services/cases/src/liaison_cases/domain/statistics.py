"""Which counters a case moves: the whole definition of the statistics, with no I/O.

A case counts in two cells of its station (and district): the month it was collected in
(Asia/Shanghai) and that year, so that a year's figures read one cell per station, not twelve.
Figures for a period describe the cases collected in it, as they stand now; a bulletin freezes
them. Each case adds ``counters(case)`` to each of its cells, under three sections:
``all``, ``category.<category>`` and ``department.<lead department>``. A change of a case moves
its cells by ``counters(after) - counters(before)`` (``move`` drops what reaches zero), so the
read model is always the sum of ``counters`` over the stored cases, exactly what a recount makes.

Figures: collected (every case, merged ones included), resolved (answered: replied, rated or
closed), in progress (not answered yet), merged, overdue (a running deadline already past),
on-time rate (answered cases answered by their deadline), satisfaction rate (满意 or 基本满意
among the rated), average days per stage (finished stays in each state, reopenings included).

Overdue depends on the clock, not on a change: an open case counts its deadline in an
``open_due.<date>`` histogram, and a query counts the deadlines already past (``figures``), read
as ``OpenDeadlines``.
Counters are integers (stage times in whole seconds), so adding and retracting is exact.
"""

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from liaison_infra.clock import china_day
from liaison_infra.domain_errors import InvalidInput

from liaison_cases.domain.cases import Case, Satisfaction
from liaison_cases.domain.lifecycle import RUNNING, State

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


def cells_of(case: Case) -> tuple[Cell, Cell]:
    """The month and the year cell of a case."""
    month = china_day(case.timeline[0].at).strftime("%Y-%m")
    return Cell(case.station_id, case.district_id, month), Cell(case.station_id, case.district_id, month[:4])


def cell_periods(first: str, last: str) -> list[str]:
    """The periods from ``first`` to ``last``, both years ("2026") or both months ("2026-01")."""
    if len(first) == 4:
        return [str(year) for year in range(int(first), int(last) + 1)]
    start, end = (int(month[:4]) * 12 + int(month[5:]) - 1 for month in (first, last))
    return [f"{index // 12}-{index % 12 + 1:02d}" for index in range(start, end + 1)]


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


def move(tree: dict[str, Any], moved: Mapping[str, int]) -> None:
    """Apply a change (paths → amounts) to counters nested as ``nest`` makes them; counters that
    reach zero and the branches they empty are dropped, so the tree stays what a recount makes."""
    for path, amount in moved.items():
        *parents, leaf = path.split(".")
        nodes = [tree]
        for part in parents:
            nodes.append(nodes[-1].setdefault(part, {}))
        total = nodes[-1].get(leaf, 0) + amount
        if total:
            nodes[-1][leaf] = total
            continue
        nodes[-1].pop(leaf, None)
        for depth in reversed(range(len(parents))):
            if nodes[depth + 1]:
                break
            del nodes[depth][parents[depth]]


def add_into(total: dict[str, Any], section: Mapping[str, Any]) -> None:
    """Add one section as read (counters, stage histograms, ``OpenDeadlines``) into ``total``.

    A query adds thousands of counters: ``type(...) is dict`` rather than a ``Mapping`` check,
    which took longer than the addition itself."""
    get = total.get
    for name, value in section.items():
        if type(value) is dict:
            add_into(total.setdefault(name, {}), value)
        else:
            total[name] = get(name, 0) + value


class OpenDeadlines:
    """An ``open_due`` histogram as a query reads it: per row, the days (ordinals, ascending) and
    the running count of deadlines up to each. A query sums hundreds of rows of a hundred days or
    so; added day by day they took most of its time, so ``+`` keeps the rows and ``before``
    bisects each."""

    __slots__ = ("_rows",)

    def __init__(self, *rows: tuple[Sequence[int], Sequence[int]]) -> None:
        self._rows = rows

    def __add__(self, other: "OpenDeadlines") -> "OpenDeadlines":
        return OpenDeadlines(*self._rows, *other._rows)

    def __radd__(self, other: int) -> "OpenDeadlines":
        """``0 + deadlines``: how ``add_into`` starts a sum."""
        return self

    def before(self, day: date) -> int:
        """How many deadlines fall before ``day``."""
        point = day.toordinal()
        return sum(running[found - 1] for days, running in self._rows if (found := bisect_left(days, point)))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(section: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The reported figures of a summed section (as read: see ``OpenDeadlines``); overdue counts
    the deadlines before ``today``."""
    stays, seconds = section.get("stage_stays", {}), section.get("stage_seconds", {})
    open_due: OpenDeadlines | None = section.get("open_due")
    return {
        "collected": section.get("collected", 0),
        "resolved": section.get("resolved", 0),
        "in_progress": section.get("in_progress", 0),
        "merged": section.get("merged", 0),
        "overdue": open_due.before(today) if open_due is not None else 0,
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
        # [0-9], not \d: \d also takes other scripts' digits ('٢٠٢٦'), which no cell is keyed by.
        match = re.fullmatch(r"([0-9]{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?", text)
        if match is None:
            raise InvalidInput(
                "invalid_period", "period must be a month (2026-03), quarter (2026-Q1) or year (2026)", field="period"
            )
        year, month, quarter = match.groups()
        if month:
            return cls(text, f"{year}-{month}", f"{year}-{month}")
        first, last = (3 * int(quarter) - 2, 3 * int(quarter)) if quarter else (1, 12)
        return cls(text, f"{year}-{first:02d}", f"{year}-{last:02d}")
