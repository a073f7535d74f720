"""Events the notify service publishes about duties (topic ``notify.duty.v1``, keyed by duty id)."""

from datetime import datetime
from typing import ClassVar, Self

from liaison_infra.envelope import Event

from liaison_notify.domain.duties import Duty

DUTY_TOPIC = "notify.duty.v1"


class DutyEvent(Event):
    topic: ClassVar[str] = DUTY_TOPIC
    duty_id: str
    rule_id: str
    period_id: str
    subject_id: str
    station_id: str
    deputy_id: str | None
    window_start: datetime
    window_end: datetime

    @classmethod
    def example_fields(cls) -> dict[str, object]:
        return {
            "duty_id": "monthly_visit|2026-11|h-0012",
            "rule_id": "monthly_visit",
            "period_id": "2026-11",
            "subject_id": "h-0012",
            "station_id": "st-shengli",
            "deputy_id": "dep-li",
            "window_start": datetime.fromisoformat("2026-10-31T16:00:00+00:00"),
            "window_end": datetime.fromisoformat("2026-11-30T16:00:00+00:00"),
        }


class DutyCreated(DutyEvent):
    event_type = "duty.created"

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls.model_validate(cls.example_fields())]


class DutyFulfilled(DutyEvent):
    """Done in its window; ``late`` when a missed duty was done after its window closed."""

    event_type = "duty.fulfilled"
    fulfilled_by: str
    late: bool

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls.model_validate({**cls.example_fields(), "fulfilled_by": "visit:v-0001", "late": False})]


class DutyMissed(DutyEvent):
    """The window closed with the duty open; ``escalate_to`` is the ladder, empty when nobody can be told."""

    event_type = "duty.missed"
    escalate_to: list[str]

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls.model_validate(
                {**cls.example_fields(), "escalate_to": ["station_head:st-shengli", "district:d-yufeng"]}
            )
        ]


PUBLISHED = (DutyCreated, DutyFulfilled, DutyMissed)


def about(duty: Duty) -> dict[str, object]:
    """The fields every duty event carries, taken from the duty."""
    return {
        "duty_id": duty.id,
        "rule_id": duty.rule_id,
        "period_id": duty.period_id,
        "subject_id": duty.subject_id,
        "station_id": duty.station_id,
        "deputy_id": duty.deputy_id,
        "window_start": duty.window_start,
        "window_end": duty.window_end,
    }
