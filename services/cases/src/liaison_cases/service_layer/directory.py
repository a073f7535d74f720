"""The department directory, the case categories and the official working-day schedules.

Only administrators change the directory and the calendar; loading a year's official schedule
recomputes the deadlines it changes, and each change is recorded on the case's timeline.
"""

from datetime import date
from typing import Any

from liaison_infra.auth import Principal
from liaison_infra.domain_errors import Forbidden, InvalidInput
from liaison_infra.mongo import Document, Transaction

from liaison_cases.adapters.store import CALENDAR_YEARS, CASES, DEPARTMENTS, to_case, to_document
from liaison_cases.domain.announcements import announcements
from liaison_cases.domain.cases import CO_HANDLER_MONTHS, Case, Category, CoHandler, Step
from liaison_cases.domain.departments import Department
from liaison_cases.domain.working_days import Deadline, Months, YearSchedule, changed_deadlines
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.statistics import count_change

CATEGORY_NAMES = {
    Category.ROADS: "道路与基础设施",
    Category.EDUCATION: "教育",
    Category.HEALTH: "医疗卫生",
    Category.PENSIONS: "养老与社会保障",
    Category.HOUSING: "住房",
    Category.LEGAL_AID: "法律援助",
    Category.OVERSEAS_CHINESE: "侨务",
    Category.DISPUTES: "矛盾纠纷",
    Category.OTHER: "其他",
}


def _admin_only(principal: Principal, action: str) -> None:
    if not principal.is_admin:
        raise Forbidden("forbidden", f"only administrators may {action}")


def categories() -> list[dict[str, str]]:
    return [{"id": category.value, "name": name} for category, name in CATEGORY_NAMES.items()]


async def save_department(cases: Cases, principal: Principal, department: Department) -> Document:
    _admin_only(principal, "change the department directory")
    document = {"_id": department.id, **department.model_dump(exclude={"id"})}
    await cases.db[DEPARTMENTS].replace_one({"_id": department.id}, document, upsert=True)
    return department.model_dump()


async def list_departments(cases: Cases) -> list[Document]:
    return [{"id": d.pop("_id"), **d} async for d in cases.db[DEPARTMENTS].find({}).sort("_id", 1)]


async def load_schedule(
    cases: Cases, principal: Principal, year: int, holidays: list[str], workdays: list[str], source: str
) -> Document:
    """Store a year's official schedule and recompute every open deadline it moves, co-handlers'
    sub-deadlines included."""
    _admin_only(principal, "load the official holiday schedule")
    try:
        schedule = YearSchedule.from_lists(year, holidays, workdays, source)
    except ValueError as exc:
        raise InvalidInput("invalid_schedule", str(exc), field="holidays") from exc
    before = await cases.calendar()
    after = before.with_schedule(schedule)
    open_cases = [to_case(d) async for d in cases.db[CASES].find({"state": {"$in": ["assigned", "in_progress"]}})]
    items = [item for case in open_cases for item in _deadlines(case)]
    moved = {key: new for key, _, new in changed_deadlines(items, before, after)}
    now = cases.clock()

    async def write(tx: Transaction) -> None:
        await tx.db[CALENDAR_YEARS].replace_one(
            {"_id": year},
            {
                "_id": year,
                "year": year,
                "holidays": sorted(d.isoformat() for d in schedule.holidays),
                "workdays": sorted(d.isoformat() for d in schedule.workdays),
                "source": source,
                "loaded_by": principal.subject,
                "loaded_at": now,
            },
            upsert=True,
            session=tx.session,
        )
        for case in open_cases:
            lead = moved.get((case.id, None))
            co_handlers = [_moved(co, moved.get((case.id, co.department_id))) for co in case.co_handlers]
            if lead is None and co_handlers == case.co_handlers:
                continue
            due, provisional = (lead.due, lead.provisional) if lead else (case.due, case.due_provisional)
            step = Step(
                at=now,
                by=principal.subject,
                action="recompute_deadline",
                from_state=case.state,
                to_state=case.state,
                comment=f"deadline recomputed with the official {year} schedule",
                data={
                    "before": _iso(case.due),
                    "after": _iso(due),
                    "co_handlers": {co.department_id: co.due.isoformat() for co in co_handlers},
                },
            )
            changed: Case = case.model_copy(
                update={
                    "due": due,
                    "due_provisional": provisional,
                    "co_handlers": co_handlers,
                    # Kept past MAX_STEPS too: an official schedule must move the deadline, and
                    # only an administrator loading one adds such a step.
                    "timeline": [*case.timeline, step],
                }
            )
            await tx.replace(CASES, to_document(changed), expected_version=case.version)
            await count_change(tx, case, changed)
            for event in announcements(changed):
                tx.publish(event, subject=case.id, station_id=case.station_id, district_id=case.district_id)

    await cases.runtime.transaction(write)
    await cases.calendar()  # read again: this process shows the new schedule's colours at once
    return {"year": year, "source": source, "deadlines_changed": len(moved)}


def _deadlines(case: Case) -> list[tuple[tuple[str, str | None], date, Months]]:
    """A running case's deadlines: (case, None) for the lead's, (case, department) for each co-handler's."""
    if case.assigned_on is None:
        return []
    co = [((case.id, c.department_id), case.assigned_on, Months(CO_HANDLER_MONTHS)) for c in case.co_handlers]
    return [((case.id, None), case.assigned_on, Months(case.handling_months)), *co]


def _moved(co: CoHandler, deadline: Deadline | None) -> CoHandler:
    if deadline is None:
        return co
    return co.model_copy(update={"due": deadline.due, "due_provisional": deadline.provisional})


def _iso(day: date | None) -> Any:
    return day.isoformat() if day else None
