"""The keys a stored case is found by, derived from the case on every write.

The station's server uses a compound index only when it covers every field of a filter, and
none for a top-level ``$or``/``$and``; a case search has a dozen optional filters. So every
fact a search filters on, and every scope a caller may hold, is one string in a multikey array
``facets`` ("station:st-1", "state:assigned", "person:p-7", …): any query is then one equality
on ``facets`` plus a range on one sort key, which two indexes serve exactly, and the other facets
of the query are checked on the candidates. Facets are few per case (about ten): every one is an
entry in both indexes, and index entries are what a write costs on the station's server (40
facets made a transition three times slower), which is why words of the title are not facets.

Sort keys end with the case id, so they are unique and a cursor is one value. ``watch`` holds
one entry per running deadline, "<scope>:<id>|<due>|<case>", for the lead (by station, district
and department) and for each co-handler that still owes its opinion, so an overdue list is one
range scan.
"""

from collections.abc import Iterable
from datetime import UTC

from liaison_infra.mongo import Document

from liaison_cases.domain.cases import Case
from liaison_cases.domain.lifecycle import RUNNING

NO_DUE = "9999-12-31"  # cases without a running deadline sort after every real date


def keyed(kind: str, values: Iterable[str | None]) -> list[str]:
    return [f"{kind}:{value}" for value in values if value]


def department_ids(case: Case) -> list[str]:
    return [d for d in [case.lead_department_id, *(co.department_id for co in case.co_handlers)] if d]


def scope_keys(case: Case) -> list[str]:
    """Who may see the case: its station, its district, the departments handling it."""
    return [
        *keyed("station", [case.station_id]),
        *keyed("district", [case.district_id]),
        *keyed("department", department_ids(case)),
    ]


def facets(case: Case) -> list[str]:
    return list(
        dict.fromkeys(
            [
                *scope_keys(case),
                *keyed("state", [case.state.value]),
                *keyed("category", [case.category.value]),
                *keyed("kind", [case.kind.value]),
                *keyed("person", case.originators),
                *keyed("deputy", case.deputy_ids),
                *keyed("household", [case.household_id]),
            ]
        )
    )


def watch_entries(case: Case) -> list[str]:
    if case.state not in RUNNING or case.due is None:
        return []
    lead = [*keyed("station", [case.station_id]), *keyed("district", [case.district_id])]
    lead += keyed("department", [case.lead_department_id])
    owed = [(f"department:{co.department_id}", co.due) for co in case.co_handlers if co.opinion is None]
    return [f"{key}|{due.isoformat()}|{case.id}" for key, due in [*((key, case.due) for key in lead), *owed]]


def search_keys(case: Case) -> Document:
    """The derived fields stored with the case (never read back into the case)."""
    # Milliseconds: what the store keeps of a time, so the key is the same before and after a read.
    opened = case.timeline[0].at.astimezone(UTC).isoformat(timespec="milliseconds") if case.timeline else ""
    due = case.due.isoformat() if case.due and case.state in RUNNING else NO_DUE
    return {
        "facets": facets(case),
        "opened_key": f"{opened}|{case.id}",
        "due_key": f"{due}|{case.id}",
        "watch": watch_entries(case),
    }
