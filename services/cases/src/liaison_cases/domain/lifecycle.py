"""The lifecycle of a case (代表建议办理): which action is allowed in which state, by which role.

collected → submitted → assigned → in_progress → replied → rated → closed, with the side roads
the practice needs: a department hands a misrouted case back (退办) and the station re-routes
it; 不满意 reopens the case for 重新办理; a duplicate is merged into another case (并案). The
table below is the whole rule: anything not in it is refused with the reason.
"""

from dataclasses import dataclass
from enum import StrEnum

from liaison_infra.auth import Role


class State(StrEnum):
    COLLECTED = "collected"  # 收集
    SUBMITTED = "submitted"  # 提交
    ASSIGNED = "assigned"  # 交办
    HANDED_BACK = "handed_back"  # 退办, waiting for the station to re-route
    IN_PROGRESS = "in_progress"  # 办理中
    REPLIED = "replied"  # 答复
    RATED = "rated"  # 满意度 recorded
    CLOSED = "closed"  # 办结
    MERGED = "merged"  # 并案 into another case


class Action(StrEnum):
    SUBMIT = "submit"
    ASSIGN = "assign"
    HAND_BACK = "hand_back"
    START = "start"
    REPLY = "reply"
    RATE = "rate"  # 不满意 sends the case back to in_progress (重新办理)
    CLOSE = "close"
    FOLLOW_UP = "follow_up"  # the later reply of a B-coded case, once actually solved
    EXTEND = "extend"
    MERGE = "merge"
    CO_OPINION = "co_opinion"  # a co-handling department (协办) gives the lead its opinion
    COMMENT = "comment"


STATION = (Role.STATION_STAFF,)
SUPERVISION = (Role.STATION_STAFF, Role.DISTRICT_SUPERVISOR)
DEPARTMENT = (Role.DEPARTMENT_HANDLER,)


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    target: State | None  # None: the state does not change
    roles: tuple[Role, ...]


OPEN_STATES = frozenset(set(State) - {State.CLOSED, State.MERGED})
RUNNING = frozenset({State.ASSIGNED, State.IN_PROGRESS})  # a deadline runs: supervised, may be overdue

RULES: dict[Action, Rule] = {
    Action.SUBMIT: Rule(frozenset({State.COLLECTED}), State.SUBMITTED, (Role.STATION_STAFF, Role.DEPUTY)),
    Action.ASSIGN: Rule(frozenset({State.SUBMITTED, State.HANDED_BACK}), State.ASSIGNED, SUPERVISION),
    Action.HAND_BACK: Rule(frozenset({State.ASSIGNED}), State.HANDED_BACK, DEPARTMENT),
    Action.START: Rule(frozenset({State.ASSIGNED}), State.IN_PROGRESS, DEPARTMENT),
    Action.REPLY: Rule(frozenset({State.IN_PROGRESS}), State.REPLIED, DEPARTMENT),
    Action.RATE: Rule(frozenset({State.REPLIED}), State.RATED, STATION),
    Action.CLOSE: Rule(frozenset({State.RATED}), State.CLOSED, STATION),
    Action.FOLLOW_UP: Rule(frozenset({State.REPLIED, State.RATED, State.CLOSED}), None, DEPARTMENT),
    Action.EXTEND: Rule(RUNNING, None, (Role.DISTRICT_SUPERVISOR,)),
    Action.MERGE: Rule(
        frozenset({State.COLLECTED, State.SUBMITTED, State.ASSIGNED, State.HANDED_BACK, State.IN_PROGRESS}),
        State.MERGED,
        STATION,
    ),
    Action.CO_OPINION: Rule(RUNNING, None, DEPARTMENT),
    Action.COMMENT: Rule(OPEN_STATES, None, (*SUPERVISION, Role.DEPUTY, Role.DEPARTMENT_HANDLER)),
}


def refusal(action: Action, state: State, roles: frozenset[Role]) -> str | None:
    """Why ``action`` may not happen now, or None when the table allows it."""
    rule = RULES[action]
    if state not in rule.sources:
        return f"a case that is {state.value} cannot {action.value}"
    if Role.ADMIN not in roles and not roles.intersection(rule.roles):
        return f"only {', '.join(sorted(role.value for role in rule.roles))} may {action.value} a case"
    return None
