"""并案: a duplicate case is merged into a surviving case that answers for both.

The merged case itself changes through ``handle`` (action ``merge``); ``absorb`` is the other
half, on the surviving case: it takes over every originator, deputy and erased-person count of
the merged case, so its reply reaches everyone who raised the matter, and it records the merge
on its own timeline. A survivor answers at most ``MAX_ORIGINATORS`` people (every event carries
them) and names at most ``MAX_DEPUTIES`` deputies: a merge beyond is refused, both cases unchanged.
"""

from datetime import datetime

from liaison_infra.domain_errors import Conflict

from liaison_cases.domain.cases import Actor, Case, Step, with_step
from liaison_cases.domain.limits import MAX_DEPUTIES, MAX_ORIGINATORS


def absorb(survivor: Case, merged: Case, actor: Actor, at: datetime) -> Case:
    originators = list(dict.fromkeys([*survivor.originators, *merged.originators]))
    deputy_ids = list(dict.fromkeys([*survivor.deputy_ids, *merged.deputy_ids]))
    if len(originators) > MAX_ORIGINATORS or len(deputy_ids) > MAX_DEPUTIES:
        raise Conflict(
            "merge_too_large",
            f"a case answers at most {MAX_ORIGINATORS} originators and names at most {MAX_DEPUTIES} deputies",
            field="into_case_id",
        )
    step = Step(
        at=at,
        by=actor.subject,
        action="absorb",
        from_state=survivor.state,
        to_state=survivor.state,
        data={"case_id": merged.id},
    )
    return survivor.model_copy(
        update={
            "originators": originators,
            "deputy_ids": deputy_ids,
            "erased_originators": survivor.erased_originators + merged.erased_originators,
            "merged_from": [*survivor.merged_from, merged.id],
            "timeline": with_step(survivor, step),
        }
    )
