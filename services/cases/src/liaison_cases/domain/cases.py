"""A case: one opinion, suggestion or request, from collection to an answer its originators
accept. ``handle`` is the only way a case changes: it checks the lifecycle table, the
department and deadline rules, and appends the step to the timeline."""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from liaison_infra.auth import Role
from liaison_infra.clock import china_day
from liaison_infra.domain_errors import Conflict, Forbidden, InvalidInput
from pydantic import BaseModel, ConfigDict, Field

from liaison_cases.domain.action_body import read_choice, read_id, read_ids, read_optional_text, read_text
from liaison_cases.domain.lifecycle import RULES, Action, State, refusal
from liaison_cases.domain.limits import (
    FINISHING_STEPS,
    MAX_CO_HANDLERS,
    MAX_COMMENTS,
    MAX_STEPS,
    NOTE_LENGTH,
    TEXT_LENGTH,
)
from liaison_cases.domain.working_days import Deadline, WorkingCalendar

HAND_BACK_WORKING_DAYS = 7  # 退办 is allowed within 7 working days of assignment
DEFAULT_MONTHS = 3  # the usual handling period; extensions (e.g. to 6) need a supervisor
CO_HANDLER_MONTHS = 1  # co-handlers (协办) send their opinion to the lead within a month


class Kind(StrEnum):
    OPINION = "opinion"  # 意见
    SUGGESTION = "suggestion"  # 建议
    REQUEST = "request"  # 诉求


class Category(StrEnum):
    ROADS = "roads_and_infrastructure"
    EDUCATION = "education"
    HEALTH = "health"
    PENSIONS = "pensions_and_social_security"
    HOUSING = "housing"
    LEGAL_AID = "legal_aid"
    OVERSEAS_CHINESE = "overseas_chinese_affairs"
    DISPUTES = "disputes"
    OTHER = "other"


class ResultCode(StrEnum):
    A = "A"  # solved
    B = "B"  # being solved
    C = "C"  # to be solved as conditions allow
    D = "D"  # explained, not possible


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class Actor(BaseModel):
    """Who acts: their id, roles and, for a department handler, their department."""

    subject: str
    roles: frozenset[Role]
    department_id: str | None = None


class CoHandler(BaseModel):
    department_id: str
    due: date
    due_provisional: bool
    opinion: str | None = None
    opinion_at: datetime | None = None


class Reply(BaseModel):
    result: ResultCode
    text: str
    department_id: str
    at: datetime


class Step(BaseModel):
    """One line of the timeline: who did what, when, with what comment."""

    at: datetime
    by: str
    action: str
    from_state: State | None
    to_state: State
    comment: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Case(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    id: str
    station_id: str
    district_id: str | None
    kind: Kind
    category: Category = Category.OTHER
    title: str
    content: str
    origin: dict[str, str | None] = Field(default_factory=dict)
    originators: list[str] = Field(default_factory=list)
    erased_originators: int = 0  # people erased from the case (PIPL); they still count
    household_id: str | None = None
    deputy_ids: list[str] = Field(default_factory=list)
    state: State = State.COLLECTED
    lead_department_id: str | None = None
    co_handlers: list[CoHandler] = Field(default_factory=list)
    assigned_on: date | None = None
    due: date | None = None
    due_provisional: bool = False
    handling_months: int = DEFAULT_MONTHS
    reply: Reply | None = None
    follow_ups: list[Reply] = Field(default_factory=list)
    satisfaction: Satisfaction | None = None
    reopened: int = 0
    merged_into: str | None = None
    merged_from: list[str] = Field(default_factory=list)
    timeline: list[Step] = Field(default_factory=list)
    version: int = 0


def collected(case: Case, actor: Actor, at: datetime) -> Case:
    """A new case with the first line of its timeline."""
    step = Step(at=at, by=actor.subject, action="collect", from_state=None, to_state=State.COLLECTED)
    return case.model_copy(update={"state": State.COLLECTED, "timeline": [step]})


def handle(
    case: Case, action: Action, actor: Actor, payload: dict[str, Any], *, now: datetime, calendar: WorkingCalendar
) -> Case:
    """``case`` after ``action``; refuses an illegal step with the reason (409 or 403)."""
    reason = refusal(action, case.state, actor.roles)
    if reason is not None:
        raise (Conflict if case.state not in RULES[action].sources else Forbidden)("illegal_transition", reason)
    comment = read_optional_text(payload, "comment", NOTE_LENGTH)
    update = _ACTIONS[action](case, actor, payload, now, calendar)
    target = RULES[action].target or case.state
    target = update.pop("state", target)
    step = Step(
        at=now,
        by=actor.subject,
        action=action.value,
        from_state=case.state,
        to_state=target,
        comment=comment,
        data=update.pop("step_data", {}),
    )
    return case.model_copy(update={**update, "state": target, "timeline": with_step(case, step)})


# What brings a case to its end, and an extension that gives it the time (months only grow, so a
# case takes few): the last ``FINISHING_STEPS`` of a timeline are kept for them.
FINISHING = frozenset({Action.START, Action.REPLY, Action.RATE, Action.CLOSE, Action.MERGE, Action.EXTEND})


def with_step(case: Case, step: Step) -> list[Step]:
    """The timeline with ``step`` added; refused once full, so that no case outgrows its document,
    and refused earlier to anything but what brings the case to its end (``FINISHING``)."""
    room = MAX_STEPS if step.action in FINISHING else MAX_STEPS - FINISHING_STEPS
    if len(case.timeline) >= room:
        raise Conflict("timeline_full", f"a case keeps at most {MAX_STEPS} steps; open a new case to go on")
    return [*case.timeline, step]


def _lead_only(case: Case, actor: Actor) -> None:
    if Role.ADMIN not in actor.roles and actor.department_id != case.lead_department_id:
        raise Forbidden("not_lead_department", "only the lead department (主办) may do this")


def _deadline_update(deadline: Deadline) -> dict[str, Any]:
    return {"due": deadline.due, "due_provisional": deadline.provisional}


def _submit(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    return {}


def _assign(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    lead = read_id(payload, "lead_department_id")
    co_ids = read_ids(payload, "co_department_ids", MAX_CO_HANDLERS)
    if lead in co_ids:
        raise InvalidInput("lead_is_co_handler", "the lead department cannot also co-handle", field="co_department_ids")
    today = china_day(now)
    co_deadline = cal.add_months(today, CO_HANDLER_MONTHS)
    co_handlers = [
        CoHandler(department_id=d, due=co_deadline.due, due_provisional=co_deadline.provisional) for d in co_ids
    ]
    return {
        "lead_department_id": lead,
        "co_handlers": co_handlers,
        "assigned_on": today,
        "handling_months": DEFAULT_MONTHS,
        **_deadline_update(cal.add_months(today, DEFAULT_MONTHS)),
        "step_data": {"lead_department_id": lead, "co_department_ids": co_ids},
    }


def _hand_back(
    case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar
) -> dict[str, Any]:
    _lead_only(case, actor)
    reason = read_text(payload, "reason", NOTE_LENGTH)
    assert case.assigned_on is not None
    if cal.working_days_between(case.assigned_on, china_day(now)) > HAND_BACK_WORKING_DAYS:
        raise Conflict("hand_back_too_late", f"a case can be handed back within {HAND_BACK_WORKING_DAYS} working days")
    return {
        "lead_department_id": None,
        "co_handlers": [],
        "due": None,
        "due_provisional": False,
        "step_data": {"department_id": case.lead_department_id, "reason": reason},
    }


def _start(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    _lead_only(case, actor)
    return {}


def _reply(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    _lead_only(case, actor)
    result = read_choice(payload, "result", ResultCode)
    reply = Reply(
        result=result,
        text=read_text(payload, "text", TEXT_LENGTH),
        department_id=case.lead_department_id or "",
        at=now,
    )
    return {"reply": reply, "satisfaction": None, "step_data": {"result": result.value}}


def _rate(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    satisfaction = read_choice(payload, "satisfaction", Satisfaction)
    if satisfaction is Satisfaction.DISSATISFIED:  # 不满意: handled again (重新办理)
        return {
            "satisfaction": satisfaction,
            "state": State.IN_PROGRESS,
            "reopened": case.reopened + 1,
            "step_data": {"satisfaction": satisfaction.value, "reopened": True},
        }
    return {"satisfaction": satisfaction, "step_data": {"satisfaction": satisfaction.value}}


def _close(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    return {}


def _follow_up(
    case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar
) -> dict[str, Any]:
    _lead_only(case, actor)
    if case.reply is None or case.reply.result is not ResultCode.B:
        raise Conflict("no_follow_up", "only a case replied as B (being solved) gets a follow-up reply")
    reply = Reply(
        result=read_choice(payload, "result", ResultCode),
        text=read_text(payload, "text", TEXT_LENGTH),
        department_id=case.lead_department_id or "",
        at=now,
    )
    return {"follow_ups": [*case.follow_ups, reply], "step_data": {"result": reply.result.value}}


def _extend(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    months = payload.get("months")
    if not isinstance(months, int) or not case.handling_months < months <= 12:
        raise InvalidInput(
            "invalid_extension", f"months must be more than {case.handling_months} and at most 12", field="months"
        )
    reason = read_text(payload, "reason", NOTE_LENGTH)
    assert case.assigned_on is not None
    return {
        "handling_months": months,
        **_deadline_update(cal.add_months(case.assigned_on, months)),
        "step_data": {"months": months, "reason": reason, "approver": actor.subject},
    }


def _merge(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    target = read_id(payload, "into_case_id")
    if target == case.id:
        raise InvalidInput("same_case", "a case cannot be merged into itself", field="into_case_id")
    return {"merged_into": target, "step_data": {"into_case_id": target}}


def _co_opinion(
    case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar
) -> dict[str, Any]:
    opinion = read_text(payload, "opinion", TEXT_LENGTH)
    mine = next((co for co in case.co_handlers if co.department_id == actor.department_id), None)
    if mine is None:
        raise Forbidden("not_co_handler", "only a co-handling department (协办) of the case may give its opinion")
    if mine.opinion is not None:
        raise Conflict("opinion_given", "this department has already given its opinion")
    given = mine.model_copy(update={"opinion": opinion, "opinion_at": now})
    co_handlers = [given if co is mine else co for co in case.co_handlers]
    return {"co_handlers": co_handlers, "step_data": {"department_id": mine.department_id}}


def _comment(case: Case, actor: Actor, payload: dict[str, Any], now: datetime, cal: WorkingCalendar) -> dict[str, Any]:
    read_text(payload, "comment", NOTE_LENGTH)
    if sum(step.action == Action.COMMENT for step in case.timeline) >= MAX_COMMENTS:
        raise Conflict("too_many_comments", f"a case keeps at most {MAX_COMMENTS} comments")
    return {}


_ACTIONS = {
    Action.SUBMIT: _submit,
    Action.ASSIGN: _assign,
    Action.HAND_BACK: _hand_back,
    Action.START: _start,
    Action.REPLY: _reply,
    Action.RATE: _rate,
    Action.CLOSE: _close,
    Action.FOLLOW_UP: _follow_up,
    Action.EXTEND: _extend,
    Action.MERGE: _merge,
    Action.CO_OPINION: _co_opinion,
    Action.COMMENT: _comment,
}
