"""Overdue lists (督办): per station, district or department, the running deadlines already past,
oldest first, co-handlers' sub-deadlines included for a department.

Each is one range scan of the ``watch`` index ("<scope>:<id>|<due>|<case>" entries, see
adapters/case_keys.py): everything from the scope's first entry (or the cursor) up to today.
"""

from enum import StrEnum

from liaison_infra.auth import Principal
from liaison_infra.mongo import Document

from liaison_cases.adapters.case_keys import keyed
from liaison_cases.adapters.cursors import decode_cursor, encode_cursor
from liaison_cases.adapters.store import CASES, to_case
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.search import SUMMARY, can_see, summary


class Scope(StrEnum):
    STATIONS = "stations"
    DISTRICTS = "districts"
    DEPARTMENTS = "departments"


async def overdue(
    cases: Cases, principal: Principal, scope: Scope, scope_id: str, *, cursor: str | None, limit: int
) -> Document:
    """The overdue deadlines of one scope that the caller may see; a case whose lead and a
    co-handler are both late for the same department's list appears once per deadline."""
    prefix = keyed(scope.value.removesuffix("s"), [scope_id])[0] + "|"
    supervisor = await cases.supervisor()
    lower, upper = decode_cursor(cursor, prefix) if cursor else prefix, f"{prefix}{supervisor.today.isoformat()}"
    found = []
    async for document in cases.db[CASES].find({"watch": {"$gt": lower, "$lt": upper}}, SUMMARY):
        case = to_case(document)
        if can_see(principal, case):
            found += [(entry, case) for entry in document["watch"] if lower < entry < upper]
    found.sort(key=lambda item: item[0])
    items = found[:limit]
    return {
        "items": [
            {**summary(case, supervisor), "overdue": _deadline(entry, case.lead_department_id, scope)}
            for entry, case in items
        ],
        "next_cursor": encode_cursor(items[-1][0]) if len(found) > limit else None,
    }


def _deadline(entry: str, lead_department_id: str | None, scope: Scope) -> Document:
    key, due, _ = entry.rsplit("|", 2)  # from the right: an id stored before ids were checked may hold a '|'
    department = key.split(":", 1)[1] if scope is Scope.DEPARTMENTS else lead_department_id
    return {"due": due, "department_id": department, "co_handler": department != lead_department_id}
