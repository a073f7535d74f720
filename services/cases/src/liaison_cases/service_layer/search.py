"""Finding cases: by station, state, category, kind, department, originator, deputy, household,
words of the title, deadline and supervision colour, within the caller's scope, sorted and in
cursor pages.

Every query sent to the store is one ``facets`` equality plus a range of the sort key, which the
indexes on ``(facets, sort key)`` serve exactly (see adapters/case_keys.py). The facet is the
most selective one given (an originator, household or deputy, else the station or district
asked for), else each of the caller's scopes, merged; the other filters are checked on the
candidates as they stream in sorted order. The station's server reads every candidate of a
query before it sorts, so the sort key is read in windows, nearest first (the last month, the
last year, the rest; running deadlines before the others), and a page stops at the first
window that fills it.
"""

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import Literal

from liaison_infra.auth import Principal, Role
from liaison_infra.domain_errors import InvalidInput
from liaison_infra.mongo import Document

from liaison_cases.adapters.case_keys import NO_DUE, keyed, scope_keys
from liaison_cases.adapters.cursors import decode_cursor, encode_cursor, merged
from liaison_cases.adapters.store import CASES, to_case
from liaison_cases.domain.cases import Case, Category, Kind
from liaison_cases.domain.lifecycle import State
from liaison_cases.domain.supervision import Colour, Supervisor
from liaison_cases.service_layer.context import Cases

SORTS = {"opened": ("opened_key", -1), "due": ("due_key", 1)}  # newest first; nearest deadline first
SUMMARY = {"timeline": 0}
RECENT_DAYS = (31, 366)  # the windows of the newest-first order


@dataclass(frozen=True)
class CaseQuery:
    station_id: str | None = None
    district_id: str | None = None
    state: State | None = None
    category: Category | None = None
    kind: Kind | None = None
    department_id: str | None = None  # lead or co-handling
    person_id: str | None = None  # an originator
    deputy_id: str | None = None
    household_id: str | None = None
    text: str | None = None  # words that must all be in the title
    colour: Colour | None = None
    overdue: bool | None = None
    due_from: date | None = None
    due_to: date | None = None
    sort: Literal["opened", "due"] = "opened"
    cursor: str | None = None
    limit: int = 50

    def selective(self) -> list[str]:
        """Facets that narrow the cases to a few: any of them may drive the query."""
        return [
            *keyed("person", [self.person_id]),
            *keyed("household", [self.household_id]),
            *keyed("deputy", [self.deputy_id]),
            *keyed("station", [self.station_id]),
            *keyed("district", [self.district_id]),
        ]

    def broad(self) -> list[str]:
        """Facets shared by many cases everywhere: they drive only when nothing else does."""
        return [
            *keyed("department", [self.department_id]),
            *keyed("state", [self.state.value if self.state else None]),
            *keyed("category", [self.category.value if self.category else None]),
            *keyed("kind", [self.kind.value if self.kind else None]),
        ]

    def words(self) -> list[str]:
        words = (self.text or "").lower().split()
        if self.text is not None and not words:
            raise InvalidInput("empty_query", "the search text has no words", field="q")
        return words


def visible_keys(principal: Principal) -> list[str] | None:
    """The scopes whose cases the caller sees (None: all). A department handler sees the cases
    their department handles, as lead or co-handler; everyone else their stations' and districts'."""
    if principal.is_admin:
        return None
    if principal.roles == {Role.DEPARTMENT_HANDLER}:
        return keyed("department", [principal.department or "-"])
    return [*keyed("station", sorted(principal.stations)), *keyed("district", sorted(principal.districts))]


def can_see(principal: Principal, case: Case) -> bool:
    keys = visible_keys(principal)
    return keys is None or not set(keys).isdisjoint(scope_keys(case))


def summary(case: Case, supervisor: Supervisor) -> Document:
    """A case as lists show it: everything but the timeline, with its supervision colour."""
    return {**case.model_dump(mode="json", exclude={"timeline"}), "supervision": supervisor.of(case)}


async def search_cases(cases: Cases, principal: Principal, query: CaseQuery) -> Document:
    wanted, words = [*query.selective(), *query.broad()], query.words()
    scope = visible_keys(principal)
    if scope == []:  # a token with no station, district or department sees nothing
        return {"items": [], "next_cursor": None}
    drivers: list[str | None] = [*(query.selective()[:1] or scope or query.broad()[:1])] or [None]
    field, direction = SORTS[query.sort]
    supervisor = await cases.supervisor()

    def matches(document: Document) -> Case | None:
        found = set(document.get("facets", []))
        if not found.issuperset(wanted) or (scope is not None and found.isdisjoint(scope)):
            return None
        case = to_case(document)
        title = case.title.lower()
        if not all(word in title for word in words) or not _deadline_matches(case, query, supervisor):
            return None
        return case

    async def candidates() -> AsyncGenerator[Document]:
        after = decode_cursor(query.cursor) if query.cursor else None
        for window in windows(query.sort, supervisor.today, after):
            streams = [
                cases.db[CASES].find({**keyed_on(driver), **range_on(field, window)}, SUMMARY).sort(field, direction)
                for driver in drivers
            ]
            async with aclosing(merged(streams, field, direction)) as documents:
                async for document in documents:
                    yield document

    async with aclosing(candidates()) as documents:
        page = await _first(documents, matches, query.limit + 1)
    items = page[: query.limit]
    next_cursor = encode_cursor(items[-1][0][field]) if len(page) > query.limit else None
    return {"items": [summary(case, supervisor) for _, case in items], "next_cursor": next_cursor}


def keyed_on(driver: str | None) -> Document:
    return {} if driver is None else {"facets": driver}


def windows(sort: str, today: date, after: str | None) -> list[Document]:
    """The ranges of the sort key to read one after the other, in the sort's order, past the
    cursor ``after``. Bounds are day prefixes ("2026-11-26" sorts before "2026-11-26T09:…|c-…")."""
    if sort == "opened":  # newest first: the last month, the last year, the rest
        edges = [None, *((today - timedelta(days=days)).isoformat() for days in RECENT_DAYS), None]
        return [
            _bounds({"$gte": low, "$lt": _before(high, after)})
            for high, low in pairwise(edges)
            if after is None or low is None or after > low
        ]
    return [
        _bounds({**_from(low, after), "$lt": high})
        for low, high in ((None, NO_DUE), (NO_DUE, None))  # running deadlines first, then the rest
        if after is None or high is None or after < high
    ]


def _from(low: str | None, after: str | None) -> dict[str, str | None]:
    """Strictly past the cursor when it lies in the span, else from the span's start."""
    return {"$gt": after} if after is not None and (low is None or after >= low) else {"$gte": low}


def _before(high: str | None, after: str | None) -> str | None:
    """Below both the span's end and the cursor."""
    return after if high is None else high if after is None else min(high, after)


def _bounds(ops: dict[str, str | None]) -> Document:
    return {op: value for op, value in ops.items() if value is not None}


def range_on(field: str, bounds: Document) -> Document:
    return {field: bounds} if bounds else {}


def _deadline_matches(case: Case, query: CaseQuery, supervisor: Supervisor) -> bool:
    if query.due_from is not None and (case.due is None or case.due < query.due_from):
        return False
    if query.due_to is not None and (case.due is None or case.due > query.due_to):
        return False
    if query.colour is None and query.overdue is None:
        return True
    watched = supervisor.of(case)
    if watched is None:
        return False
    return (query.colour is None or watched["colour"] == query.colour) and (
        query.overdue is None or watched["overdue"] == query.overdue
    )


async def _first(
    documents: AsyncIterator[Document], keep: Callable[[Document], Case | None], n: int
) -> list[tuple[Document, Case]]:
    found: list[tuple[Document, Case]] = []
    async for document in documents:
        case = keep(document)
        if case is not None:
            found.append((document, case))
            if len(found) == n:
                break
    return found
