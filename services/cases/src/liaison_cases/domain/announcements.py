"""The events a case's latest step announces."""

from liaison_cases.domain.cases import Case
from liaison_cases.domain.events import ANNOUNCED, CaseEvent, CaseReopened
from liaison_cases.domain.lifecycle import State


def announcements(case: Case) -> list[CaseEvent]:
    step = case.timeline[-1]
    kinds = list(ANNOUNCED[step.action])
    if step.action == "rate" and case.state is State.IN_PROGRESS:
        kinds.append(CaseReopened)
    return [
        kind(
            case_id=case.id,
            station_id=case.station_id,
            state=case.state.value,
            title=case.title,
            originators=case.originators,
            lead_department_id=case.lead_department_id,
            due=case.due,
            due_provisional=case.due_provisional,
            merged_into=case.merged_into,
            merged_from=case.merged_from,
        )
        for kind in kinds
    ]
