"""A message: one thing to tell one recipient, the unit the delivery pipeline works on.

Duties (reminders, escalations) and digests produce messages; delivery claims each message once
per channel under the idempotency key (rule, subject, occurrence, channel), so producing the same
message twice, or a Celery task running twice, never sends twice.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from liaison_notify.domain.rules import QuietHours


@dataclass(frozen=True)
class Message:
    rule_id: str
    subject_id: str  # what the message is about: a duty's subject, a station for a digest
    occurrence: str  # which firing: "2026-11-20T09:00", "escalation:station", "digest:2026-W48"
    recipient_id: str  # "deputy:<id>", "station_head:<station_id>" or "district:<district_id>"
    template: str  # a template name, e.g. "visit_reminder"
    variables: Mapping[str, str]
    station_id: str
    district_id: str | None
    # A reminder of a duty is dropped, not sent, once that duty is no longer open.
    duty_id: str | None = None
    tags: tuple[str, ...] = field(default=())
    # Its rule's: a message due then (a backlog, a retry, the next channel) waits for their end.
    quiet_hours: QuietHours = field(default_factory=QuietHours)

    @property
    def key(self) -> str:
        """The idempotency key without the channel; a delivery adds the channel to it."""
        return f"{self.rule_id}|{self.subject_id}|{self.occurrence}|{self.recipient_id}"
