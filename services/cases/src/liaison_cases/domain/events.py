"""Events the cases service publishes (topic ``cases.case.v1``, keyed by case id).

Every event carries the case's station, state and originators, so that records can show in a
person's file which cases they raised and how those stand, and notify can follow deadlines. A
merge (并案) announces both cases: the merged one (``merged_into``) and the surviving one, whose
originators now include the merged case's, so every originator's file links to the case that
will be answered.
"""

from datetime import date
from typing import ClassVar, Self

from liaison_infra.envelope import Event
from pydantic import Field

CASE_TOPIC = "cases.case.v1"


class CaseEvent(Event):
    topic: ClassVar[str] = CASE_TOPIC
    case_id: str
    station_id: str
    state: str
    title: str
    originators: list[str]
    lead_department_id: str | None
    due: date | None
    due_provisional: bool
    merged_into: str | None = None  # 并案: the surviving case that answers this one's originators
    merged_from: list[str] = Field(default_factory=list)  # the cases merged into this one, whose originators it answers

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls(
                case_id="c-v-0001-1",
                station_id="st-shengli",
                state="assigned",
                title="楼道灯坏了",
                originators=["p-7f3a"],
                lead_department_id="dept-roads",
                due=date(2027, 2, 26),
                due_provisional=True,
                merged_from=["c-v-0002-1"],
            )
        ]


class CaseOpened(CaseEvent):
    event_type = "case.opened"


class CaseAssigned(CaseEvent):
    event_type = "case.assigned"


class CaseHandedBack(CaseEvent):
    event_type = "case.handed_back"


class CaseStatusChanged(CaseEvent):
    event_type = "case.status_changed"


class CaseReplied(CaseEvent):
    event_type = "case.replied"


class CaseRated(CaseEvent):
    event_type = "case.rated"


class CaseReopened(CaseEvent):
    event_type = "case.reopened"


class CaseClosed(CaseEvent):
    event_type = "case.closed"


class CaseMerged(CaseEvent):
    event_type = "case.merged"


class CaseDeadlineChanged(CaseEvent):
    event_type = "case.deadline_changed"


PUBLISHED = (
    CaseOpened,
    CaseAssigned,
    CaseHandedBack,
    CaseStatusChanged,
    CaseReplied,
    CaseRated,
    CaseReopened,
    CaseClosed,
    CaseMerged,
    CaseDeadlineChanged,
)


# What each step announces; a comment announces nothing.
ANNOUNCED: dict[str, tuple[type[CaseEvent], ...]] = {
    "collect": (CaseOpened,),
    "submit": (CaseStatusChanged,),
    "assign": (CaseAssigned,),
    "hand_back": (CaseHandedBack,),
    "start": (CaseStatusChanged,),
    "reply": (CaseReplied,),
    "follow_up": (CaseReplied,),
    "rate": (CaseRated,),
    "close": (CaseClosed,),
    "extend": (CaseDeadlineChanged,),
    "recompute_deadline": (CaseDeadlineChanged,),
    "merge": (CaseMerged,),
    "absorb": (CaseMerged,),  # the surviving case of a merge: its originators grew
    "co_opinion": (),
    "comment": (),
}
