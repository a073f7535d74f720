"""Events the notify service publishes about deliveries (topic ``notify.reminder.v1``, keyed by
message id): a message reached its recipient on a channel, or a channel gave up on it."""

from typing import ClassVar, Self

from liaison_infra.envelope import Event

REMINDER_TOPIC = "notify.reminder.v1"


class ReminderEvent(Event):
    topic: ClassVar[str] = REMINDER_TOPIC
    message_id: str
    rule_id: str
    subject_id: str
    occurrence: str
    recipient_id: str
    template: str
    duty_id: str | None
    channel: str
    attempt: int

    @classmethod
    def example_fields(cls) -> dict[str, object]:
        return {
            "message_id": "monthly_visit|h-0012|2026-11-20T09:00|deputy:dep-li",
            "rule_id": "monthly_visit",
            "subject_id": "h-0012",
            "occurrence": "2026-11-20T09:00",
            "recipient_id": "deputy:dep-li",
            "template": "visit_reminder",
            "duty_id": "monthly_visit|h-0012|2026-11",
            "channel": "sms",
            "attempt": 1,
        }


class ReminderSent(ReminderEvent):
    event_type = "reminder.sent"

    @classmethod
    def examples(cls) -> list[Self]:
        return [cls.model_validate(cls.example_fields())]


class ReminderFailed(ReminderEvent):
    """A channel gave up after its attempts (``answer`` is the provider's last); ``fallback`` is
    the channel tried next, or "unknown" outcomes, whose send may have happened, go to the inbox."""

    event_type = "reminder.failed"
    outcome: str  # "failed": the provider refused every attempt; "unknown": a send never settled
    answer: str
    fallback: str

    @classmethod
    def examples(cls) -> list[Self]:
        return [
            cls.model_validate(
                {**cls.example_fields(), "outcome": "failed", "answer": "HTTP 503 from gateway", "fallback": "email"}
            ),
            cls.model_validate(
                {**cls.example_fields(), "outcome": "unknown", "answer": "lease expired", "fallback": "inbox"}
            ),
        ]


PUBLISHED = (ReminderSent, ReminderFailed)
