"""Which working calendar a transition uses when the schedules are loaded by another process: a
deadline is decided with the schedules as stored now; colours may use a calendar read a moment ago."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from liaison_cases.adapters.store import ensure_indexes
from liaison_cases.domain.cases import DEFAULT_MONTHS, Category, Kind
from liaison_cases.domain.departments import Department
from liaison_cases.domain.lifecycle import Action
from liaison_cases.domain.working_days import WorkingCalendar, YearSchedule
from liaison_cases.service_layer import cases as handlers
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.directory import load_schedule, save_department
from liaison_infra.auth import Principal, Role
from liaison_infra.runtime import Runtime
from liaison_infra.service import installed_services

from tests.apps import service_settings

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday in China
ADMIN = Principal("admin", frozenset({Role.ADMIN}), frozenset(), frozenset())
STAFF = Principal("staff", frozenset({Role.STATION_STAFF}), frozenset({"st-1"}), frozenset())
HANDLER = Principal("h", frozenset({Role.DEPARTMENT_HANDLER}), frozenset(), frozenset(), "dept-roads")


@pytest.fixture
async def two_processes(endpoints, keys, unique) -> AsyncIterator[tuple[Cases, Cases]]:
    """Two API processes on one database, each with its own kept calendar."""
    settings = service_settings("cases", endpoints, keys, mongodb_database=f"cases_{unique}")
    runtimes = [Runtime(settings, installed_services()["cases"].spec) for _ in range(2)]
    await ensure_indexes(runtimes[0].db)
    first, second = (Cases(runtime, clock=lambda: NOW) for runtime in runtimes)
    await save_department(first, ADMIN, Department(id="dept-roads", name="区住建局"))
    yield first, second
    for runtime in runtimes:
        await runtime.close()


async def opened(cases: Cases, case_id: str) -> None:
    await handlers.open_case(
        cases,
        STAFF,
        station_id="st-1",
        district_id="d-1",
        kind=Kind.REQUEST,
        category=Category.ROADS,
        title="路灯",
        content="路灯坏了",
        originators=[],
        case_id=case_id,
    )
    await handlers.act(cases, STAFF, case_id, Action.SUBMIT, {}, expected_version=1)


async def test_a_deadline_uses_a_schedule_another_process_just_loaded(two_processes) -> None:
    first, second = two_processes
    for case_id in ("c-1", "c-2"):
        await opened(second, case_id)
    assign = {"lead_department_id": "dept-roads"}
    before = await handlers.act(second, STAFF, "c-1", Action.ASSIGN, assign, expected_version=2)
    await handlers.act(second, HANDLER, "c-1", Action.START, {}, expected_version=3)  # shown with the kept calendar
    # The first process loads the schedule of the due day's year, with that day a holiday.
    due, year = before["due"], int(before["due"][:4])
    schedule = YearSchedule.from_lists(year, [due], [], "test fixture, not an official notice")
    loaded = await load_schedule(first, ADMIN, year, [due], [], schedule.source)
    assert loaded["deadlines_changed"] == 1
    expected = WorkingCalendar.with_library({year: schedule}).add_months(NOW.date(), DEFAULT_MONTHS)
    assert expected.due.isoformat() > due and not expected.provisional

    after = await handlers.act(second, STAFF, "c-2", Action.ASSIGN, assign, expected_version=2)
    assert (after["due"], after["due_provisional"]) == (expected.due.isoformat(), False)
