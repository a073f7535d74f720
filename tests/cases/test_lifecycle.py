"""The case lifecycle under random sequences of actions by random roles (hypothesis stateful):
no invalid state, no unauthorised transition, a complete timeline, and the working calendar
consulted only by the actions the service reads it afresh for."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from liaison_cases.domain.cases import Actor, Case, Kind, Satisfaction, collected, handle
from liaison_cases.domain.lifecycle import RULES, Action, State
from liaison_cases.domain.working_days import WorkingCalendar
from liaison_cases.service_layer.cases import DECIDED_BY_CALENDAR
from liaison_infra.auth import Role
from liaison_infra.domain_errors import Conflict, DomainError, Forbidden

CALENDAR = WorkingCalendar.with_library()
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEPARTMENTS = ("dept-roads", "dept-civil", "dept-health")
ACTORS = [
    Actor(subject="staff", roles=frozenset({Role.STATION_STAFF})),
    Actor(subject="deputy", roles=frozenset({Role.DEPUTY})),
    Actor(subject="supervisor", roles=frozenset({Role.DISTRICT_SUPERVISOR})),
    Actor(subject="auditor", roles=frozenset({Role.AUDITOR})),
    *(Actor(subject=f"handler-{d}", roles=frozenset({Role.DEPARTMENT_HANDLER}), department_id=d) for d in DEPARTMENTS),
]
PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "lead_department_id": st.sampled_from(DEPARTMENTS),
        "co_department_ids": st.lists(st.sampled_from(DEPARTMENTS), max_size=2),
        "reason": st.sampled_from(["不属于本单位职责", "", "延期：需要协调资金"]),
        "result": st.sampled_from(["A", "B", "C", "D", "Z"]),
        "text": st.sampled_from(["已修复路灯", ""]),
        "satisfaction": st.sampled_from([s.value for s in Satisfaction] + ["meh"]),
        "months": st.integers(min_value=1, max_value=14),
        "into_case_id": st.sampled_from(["c-other", "c-1"]),
        "comment": st.sampled_from(["已电话联系", None]),
        "opinion": st.sampled_from(["同意主办单位方案", ""]),
    },
)
LEAD_ONLY = (Action.HAND_BACK, Action.START, Action.REPLY, Action.FOLLOW_UP)
NEEDS_REPLY = {State.REPLIED, State.RATED, State.CLOSED}
NEEDS_LEAD = {State.ASSIGNED, State.IN_PROGRESS, State.REPLIED, State.RATED, State.CLOSED}


class WatchedCalendar(WorkingCalendar):
    """The library's calendar, noting whether any working day was asked about."""

    consulted = False

    def is_working_day(self, d: date) -> bool:
        self.consulted = True
        return super().is_working_day(d)


def new_case() -> Case:
    case = Case(id="c-1", station_id="st-1", district_id="d-1", kind=Kind.REQUEST, title="路灯", content="楼道灯坏了")
    return collected(case, ACTORS[0], START)


class CaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.case = new_case()
        self.now = START
        self.calendar = WatchedCalendar(CALENDAR.schedules)

    @rule(
        action=st.sampled_from(list(Action)),
        actor=st.sampled_from(ACTORS),
        payload=PAYLOADS,
        days=st.integers(min_value=0, max_value=20),
    )
    def act(self, action: Action, actor: Actor, payload: dict[str, Any], days: int) -> None:
        self.now += timedelta(days=days)
        before = self.case
        allowed_state = before.state in RULES[action].sources
        allowed_role = bool(actor.roles & set(RULES[action].roles))
        self.calendar.consulted = False
        try:
            self.case = handle(before, action, actor, payload, now=self.now, calendar=self.calendar)
        except Forbidden:
            assert not allowed_role or action in (*LEAD_ONLY, Action.CO_OPINION)
            return
        except Conflict:
            if not allowed_state:
                return
            assert action in (Action.HAND_BACK, Action.FOLLOW_UP, Action.CO_OPINION), action
            return
        except DomainError:
            return
        assert allowed_state and allowed_role, (action, before.state, actor.roles)
        assert action in DECIDED_BY_CALENDAR or not self.calendar.consulted, action
        assert len(self.case.timeline) == len(before.timeline) + 1
        step = self.case.timeline[-1]
        assert (step.action, step.by, step.from_state) == (action.value, actor.subject, before.state)
        if action in LEAD_ONLY:
            assert actor.department_id == before.lead_department_id
        if action is Action.CO_OPINION:
            assert actor.department_id in {co.department_id for co in before.co_handlers if co.opinion is None}

    @invariant()
    def timeline_is_complete_and_chained(self) -> None:
        steps = self.case.timeline
        assert steps[0].action == "collect" and steps[0].from_state is None
        for earlier, later in pairwise(steps):
            assert later.from_state == earlier.to_state and later.at >= earlier.at
        assert steps[-1].to_state == self.case.state

    @invariant()
    def state_carries_what_it_needs(self) -> None:
        case = self.case
        if case.state in NEEDS_LEAD:
            assert case.lead_department_id is not None and case.due is not None
        if case.state in NEEDS_REPLY:
            assert case.reply is not None
        if case.state is State.CLOSED:
            assert case.satisfaction in (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)
        if case.state is State.MERGED:
            assert case.merged_into == "c-other"
        if case.state is State.HANDED_BACK:
            assert case.lead_department_id is None


TestCaseLifecycle = CaseMachine.TestCase
TestCaseLifecycle.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


def run(case: Case, *steps: tuple[Action, Actor, dict[str, Any]], at: datetime = START) -> Case:
    for action, actor, payload in steps:
        case = handle(case, action, actor, payload, now=at, calendar=CALENDAR)
    return case


STAFF, SUPERVISOR, ROADS, CIVIL = ACTORS[0], ACTORS[2], ACTORS[4], ACTORS[5]
ASSIGN = (Action.ASSIGN, STAFF, {"lead_department_id": "dept-roads", "co_department_ids": ["dept-civil"]})


def test_the_happy_path_to_a_closed_case() -> None:
    case = run(
        new_case(),
        (Action.SUBMIT, STAFF, {}),
        ASSIGN,
        (Action.START, ROADS, {}),
        (Action.REPLY, ROADS, {"result": "A", "text": "已修复"}),
        (Action.RATE, STAFF, {"satisfaction": "satisfied"}),
        (Action.CLOSE, STAFF, {}),
    )
    assert case.state is State.CLOSED
    assert [s.action for s in case.timeline] == ["collect", "submit", "assign", "start", "reply", "rate", "close"]
    assert case.due == date(2026, 6, 2) and not case.due_provisional  # 3 months after 2026-03-02
    assert case.co_handlers[0].department_id == "dept-civil" and case.co_handlers[0].due == date(2026, 4, 2)


def test_dissatisfaction_reopens_the_case_for_handling_again() -> None:
    case = run(
        new_case(),
        (Action.SUBMIT, STAFF, {}),
        ASSIGN,
        (Action.START, ROADS, {}),
        (Action.REPLY, ROADS, {"result": "C", "text": "条件具备时解决"}),
        (Action.RATE, STAFF, {"satisfaction": "dissatisfied"}),
    )
    assert case.state is State.IN_PROGRESS and case.reopened == 1


def test_hand_back_only_by_the_lead_and_within_seven_working_days() -> None:
    assigned = run(new_case(), (Action.SUBMIT, STAFF, {}), ASSIGN)
    with pytest.raises(Forbidden):
        run(assigned, (Action.HAND_BACK, CIVIL, {"reason": "不归我们管"}))
    late = START + timedelta(days=12)  # 2026-03-14: 9 working days after 03-02
    with pytest.raises(Conflict) as refused:
        run(assigned, (Action.HAND_BACK, ROADS, {"reason": "不属于本单位职责"}), at=late)
    assert refused.value.code == "hand_back_too_late"
    back = run(assigned, (Action.HAND_BACK, ROADS, {"reason": "不属于本单位职责"}), at=START + timedelta(days=9))
    assert back.state is State.HANDED_BACK and back.timeline[-1].data["reason"] == "不属于本单位职责"
    rerouted = run(back, (Action.ASSIGN, STAFF, {"lead_department_id": "dept-civil"}))
    assert rerouted.state is State.ASSIGNED and rerouted.lead_department_id == "dept-civil"


def test_an_illegal_transition_is_refused_with_a_reason() -> None:
    with pytest.raises(Conflict) as refused:
        run(new_case(), (Action.REPLY, ROADS, {"result": "A", "text": "x"}))
    assert refused.value.code == "illegal_transition" and "collected" in refused.value.message


def test_extension_needs_a_supervisor_a_reason_and_a_longer_period() -> None:
    assigned = run(new_case(), (Action.SUBMIT, STAFF, {}), ASSIGN)
    with pytest.raises(Forbidden):
        run(assigned, (Action.EXTEND, STAFF, {"months": 6, "reason": "需要协调"}))
    extended = run(assigned, (Action.EXTEND, SUPERVISOR, {"months": 6, "reason": "需要协调资金"}))
    assert extended.due == date(2026, 9, 2) and extended.timeline[-1].data["approver"] == "supervisor"
    with pytest.raises(DomainError):
        run(extended, (Action.EXTEND, SUPERVISOR, {"months": 5, "reason": "x"}))


def test_a_b_coded_reply_gets_its_follow_up() -> None:
    replied = run(
        new_case(),
        (Action.SUBMIT, STAFF, {}),
        ASSIGN,
        (Action.START, ROADS, {}),
        (Action.REPLY, ROADS, {"result": "B", "text": "正在办理"}),
    )
    followed = run(replied, (Action.FOLLOW_UP, ROADS, {"result": "A", "text": "已全部解决"}))
    assert [r.result for r in followed.follow_ups] == ["A"] and followed.state is State.REPLIED
    a_coded = run(
        new_case(),
        (Action.SUBMIT, STAFF, {}),
        ASSIGN,
        (Action.START, ROADS, {}),
        (Action.REPLY, ROADS, {"result": "A", "text": "已解决"}),
    )
    with pytest.raises(Conflict):
        run(a_coded, (Action.FOLLOW_UP, ROADS, {"result": "A", "text": "again"}))


def test_each_co_handler_gives_its_opinion_once() -> None:
    assigned = run(new_case(), (Action.SUBMIT, STAFF, {}), ASSIGN)
    with pytest.raises(Forbidden) as refused:
        run(assigned, (Action.CO_OPINION, ROADS, {"opinion": "lead cannot"}))
    assert refused.value.code == "not_co_handler"
    given = run(assigned, (Action.CO_OPINION, CIVIL, {"opinion": "同意方案"}), at=START + timedelta(days=3))
    assert given.co_handlers[0].opinion == "同意方案" and given.state is State.ASSIGNED
    assert given.timeline[-1].data == {"department_id": "dept-civil"}
    with pytest.raises(Conflict) as again:
        run(given, (Action.CO_OPINION, CIVIL, {"opinion": "again"}))
    assert again.value.code == "opinion_given"


def test_deadlines_count_from_the_day_in_china() -> None:
    early_morning_in_china = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 2026-03-02 01:30 in Shanghai
    case = run(new_case(), (Action.SUBMIT, STAFF, {}), ASSIGN, at=early_morning_in_china)
    assert case.assigned_on == date(2026, 3, 2) and case.due == date(2026, 6, 2)
