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
from liaison_cases.domain.cases import Case, Category, Step
from liaison_cases.domain.departments import Department
from liaison_cases.domain.working_days import Months, YearSchedule, changed_deadlines
from liaison_cases.service_layer.context import Cases

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
    """Store a year's official schedule and recompute every open deadline it moves."""
    _admin_only(principal, "load the official holiday schedule")
    try:
        schedule = YearSchedule.from_lists(year, holidays, workdays, source)
    except ValueError as exc:
        raise InvalidInput("invalid_schedule", str(exc), field="holidays") from exc
    before = await cases.calendar()
    after = before.with_schedule(schedule)
    open_cases = [to_case(d) async for d in cases.db[CASES].find({"state": {"$in": ["assigned", "in_progress"]}})]
    items = [(case.id, case.assigned_on, Months(case.handling_months)) for case in open_cases if case.assigned_on]
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
            deadline = moved.get(case.id)
            if deadline is None:
                continue
            step = Step(
                at=now,
                by=principal.subject,
                action="recompute_deadline",
                from_state=case.state,
                to_state=case.state,
                comment=f"deadline recomputed with the official {year} schedule",
                data={"before": _iso(case.due), "after": deadline.due.isoformat()},
            )
            changed: Case = case.model_copy(
                update={
                    "due": deadline.due,
                    "due_provisional": deadline.provisional,
                    "timeline": [*case.timeline, step],
                }
            )
            await tx.replace(CASES, to_document(changed), expected_version=case.version)
            for event in announcements(changed):
                tx.publish(event, subject=case.id, station_id=case.station_id, district_id=case.district_id)

    await cases.runtime.transaction(write)
    return {"year": year, "source": source, "deadlines_changed": len(moved)}


def _iso(day: date | None) -> Any:
    return day.isoformat() if day else None
