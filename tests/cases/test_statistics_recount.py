"""The statistics read model equals a recount from the raw cases, after many random case histories
driven through the real service layer (transitions, merges, reopenings, extensions, hand-backs,
opinions from a visit, an official schedule moving deadlines), for every dimension and period; by
city through the hierarchy records announces, over two cities."""

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from liaison_cases.adapters.records_events import OpinionRead, VisitRead
from liaison_cases.adapters.statistics_store import STATISTICS, UNPACKED_STATISTICS, unpacked
from liaison_cases.adapters.store import CASES
from liaison_cases.domain.cases import Category, Kind
from liaison_cases.domain.departments import Department
from liaison_cases.domain.lifecycle import RULES, Action, State
from liaison_cases.domain.statistics import Period
from liaison_cases.service_layer import cases as handlers
from liaison_cases.service_layer.context import Cases
from liaison_cases.service_layer.directory import load_schedule, save_department
from liaison_cases.service_layer.opinions import on_visit_logged
from liaison_cases.service_layer.statistics import (
    Dimension,
    StatisticsQuery,
    rebuild,
    recount,
    statistics,
    upgrade_read_model,
)
from liaison_infra.auth import Principal, Role
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import DomainError
from liaison_infra.envelope import Envelope

from tests.cases.org_events import place
from tests.cases.runtimes import cases_service

STATIONS = {"st-a": "d-1", "st-b": "d-1", "st-c": "d-2"}
CITIES = {"d-1": "c-1", "d-2": "c-2"}
DEPARTMENTS = ("dept-roads", "dept-civil", "dept-health")
ADMIN = Principal("admin", frozenset({Role.ADMIN}), frozenset(), frozenset())
STAFF = Principal("staff", frozenset({Role.STATION_STAFF}), frozenset(STATIONS), frozenset())
SUPERVISOR = Principal("sup", frozenset({Role.DISTRICT_SUPERVISOR}), frozenset(), frozenset({"d-1", "d-2"}))
ANSWERED = {"replied", "rated", "closed"}
NAIVE = ("collected", "resolved", "in_progress", "merged", "overdue")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 11, 20, 1, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def service(endpoints, keys, unique) -> AsyncIterator[Cases]:
    async with cases_service(endpoints, keys, unique, clock=Clock()) as cases:
        for department in DEPARTMENTS:
            await save_department(cases, ADMIN, Department(id=department, name=department))
        yield cases


def handler(department: str | None) -> Principal:
    return Principal(f"h-{department}", frozenset({Role.DEPARTMENT_HANDLER}), frozenset(), frozenset(), department)


def payload_for(action: Action, case: dict[str, Any], rng: random.Random, others: list[str]) -> dict[str, Any]:
    if action is Action.ASSIGN:
        return {"lead_department_id": rng.choice(DEPARTMENTS)}
    if action in (Action.REPLY, Action.FOLLOW_UP):
        return {"result": rng.choice("ABBCD"), "text": "答复"}
    if action is Action.RATE:
        return {"satisfaction": rng.choice(["satisfied", "basically_satisfied", "dissatisfied"])}
    if action is Action.EXTEND:
        return {"months": case["handling_months"] + rng.randint(1, 3), "reason": "需要协调"}
    if action is Action.MERGE:
        return {"into_case_id": rng.choice(others)}
    return {"reason": "不属于本单位", "comment": "已联系"}


def actor_for(action: Action, case: dict[str, Any]) -> Principal:
    roles = RULES[action].roles
    if Role.DEPARTMENT_HANDLER in roles:
        return handler(case["lead_department_id"])
    return STAFF if Role.STATION_STAFF in roles else SUPERVISOR


async def drive(cases: Cases, rng: random.Random, steps: int, prefix: str = "c") -> None:
    ids: list[str] = []
    for n in range(steps):
        cases.clock.now += timedelta(hours=rng.randint(1, 60))  # type: ignore[attr-defined]
        if not ids or rng.random() < 0.1:
            station = rng.choice(sorted(STATIONS))
            category = rng.choice(list(Category))
            opened = await handlers.open_case(
                cases,
                STAFF,
                station_id=station,
                district_id=STATIONS[station],
                kind=Kind.REQUEST,
                category=category,
                title="t",
                content="c",
                originators=[],
                case_id=f"{prefix}-{n}",
            )
            ids.append(opened["id"])
            continue
        case = await cases.db[CASES].find_one({"_id": rng.choice(ids)})
        assert case is not None
        allowed = [a for a in Action if State(case["state"]) in RULES[a].sources]
        if not allowed:
            continue
        action = rng.choices(allowed, [1 if a in (Action.MERGE, Action.COMMENT) else 8 for a in allowed])[0]
        payload = payload_for(action, case, rng, [i for i in ids if i != case["_id"]] or ["x"])
        with suppress(DomainError):  # refused (a hand-back too late, a merge target closed): nothing changes
            await handlers.act(
                cases, actor_for(action, case), case["_id"], action, payload, expected_version=case["version"]
            )


VISIT = VisitRead(
    visit_id="v-1",
    station_id="st-a",
    deputy_ids=["dep-1"],
    opinions=[OpinionRead(opinion_id="v-1-1", kind="opinion", text="路灯", person_id=None, household_id=None)],
)


def visit_envelope(at: datetime) -> Envelope:
    return Envelope(
        source="records",
        type="visit.logged",
        subject="v-1",
        time=at,
        dataschema="visit.logged/1",
        station_id="st-a",
        district_id="d-1",
        correlationid="corr-1",
        data=VISIT.model_dump(),
    )


def naive(
    documents: list[dict[str, Any]], dimension: Dimension, period: Period, today: date
) -> dict[Any, Counter[str]]:
    """Counted straight from the raw case documents, without the read model's code."""
    counted: dict[Any, Counter[str]] = {}
    for case in documents:
        month = china_day(datetime.fromisoformat(case["timeline"][0]["at"])).strftime("%Y-%m")
        if not period.first_month <= month <= period.last_month:
            continue
        key = {
            Dimension.STATION: case["station_id"],
            Dimension.DISTRICT: case["district_id"],
            Dimension.CITY: CITIES[STATIONS[case["station_id"]]],
            Dimension.MONTH: month,
            Dimension.CATEGORY: case["category"],
            Dimension.DEPARTMENT: case["lead_department_id"] or "unassigned",
        }[dimension]
        row = counted.setdefault(key, Counter())
        row["collected"] += 1
        state = case["state"]
        row["resolved" if state in ANSWERED else "merged" if state == "merged" else "in_progress"] += 1
        overdue = state in ("assigned", "in_progress") and date.fromisoformat(case["due"]) < today
        row["overdue"] += overdue
    return counted


async def test_the_read_model_equals_a_recount_after_random_histories(service: Cases) -> None:
    rng = random.Random(20261126)
    await drive(service, rng, 260)
    await service.runtime.transaction(lambda tx: on_visit_logged(VISIT, visit_envelope(service.clock()), tx))
    # An official schedule moves an open deadline, and with it the overdue counts.
    open_due = await service.db[CASES].find_one({"state": "in_progress", "due_provisional": True})
    assert open_due is not None
    due = date.fromisoformat(open_due["due"])
    assert (await load_schedule(service, ADMIN, due.year, [due.isoformat()], [], "test"))["deadlines_changed"] >= 1
    documents = await service.db[CASES].find({}).to_list()
    assert {d["state"] for d in documents} >= {"closed", "in_progress", "merged", "replied"}
    cells = {d["_id"]: d async for d in service.db[STATISTICS].find({})}
    expected = await recount(service)
    assert {cell.id for cell in expected} == set(cells)
    for cell, sections in expected.items():
        stored = cells[cell.id]
        assert (stored["station_id"], stored["district_id"], stored["period"]) == astuple(cell)
        # Exactly: counters retracted to zero are dropped, as a recount never has them.
        assert unpacked(stored) == sections, cell

    for unit, parent in (*STATIONS.items(), *CITIES.items()):
        await place(service, unit, parent)
    today, overdue_seen = china_day(service.clock()), 0
    for period in map(Period.parse, ("2025", "2026", "2026-Q3", "2025-12", "2026-10")):
        for dimension in Dimension:
            report = await statistics(service, ADMIN, StatisticsQuery(dimension, period), min_cell=5)
            shown = {row["key"]: Counter({k: row[k] for k in NAIVE if row[k]}) for row in report["rows"]}
            assert shown == naive(documents, dimension, period, today), (dimension, period)
            assert report["total"]["collected"] == sum(row["collected"] for row in report["rows"])
            overdue_seen += report["total"]["overdue"]
    assert overdue_seen > 0

    before = {d["_id"]: unpacked(d) async for d in service.db[STATISTICS].find({})}
    assert await rebuild(service, ADMIN) == {"cells": len(before), "settled": True}
    assert {d["_id"]: unpacked(d) async for d in service.db[STATISTICS].find({})} == before

    # A station upgraded from the unpacked cells gets the packed ones at start-up, from a recount.
    await service.db[STATISTICS].delete_many({})
    await service.db[UNPACKED_STATISTICS].insert_one({"_id": "st-a|2025", "all": {"collected": 1}})
    await upgrade_read_model(service)
    assert {d["_id"]: unpacked(d) async for d in service.db[STATISTICS].find({})} == before
    assert UNPACKED_STATISTICS not in await service.db.list_collection_names()
    await upgrade_read_model(service)  # once upgraded, a start leaves the cells alone
    assert await service.db[STATISTICS].count_documents({}) == len(before)


async def test_a_rebuild_while_cases_change_ends_equal_to_a_recount(service: Cases) -> None:
    rng = random.Random(20261127)
    await drive(service, rng, 120)
    # Cases opened and moved while the rebuild recounts and writes: some commit after the recount
    # read their station, some between the recount and the write over their cell.
    rebuilt, _ = await asyncio.gather(rebuild(service, ADMIN), drive(service, rng, 80, prefix="during"))
    assert rebuilt["settled"]
    expected = {cell.id: sections for cell, sections in (await recount(service)).items()}
    assert {d["_id"]: unpacked(d) async for d in service.db[STATISTICS].find({})} == expected
