"""The records service's own reading of case events: which case, how it stands, who raised it."""

from pydantic import BaseModel

CASE_TOPIC = "cases.case.v1"
CASE_EVENT_TYPES = (
    "case.opened",
    "case.assigned",
    "case.handed_back",
    "case.status_changed",
    "case.replied",
    "case.rated",
    "case.reopened",
    "case.closed",
    "case.merged",
    "case.deadline_changed",
)


class CaseRead(BaseModel):
    case_id: str
    state: str
    title: str
    originators: list[str]
