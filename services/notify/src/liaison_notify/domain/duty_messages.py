"""The messages a duty produces: its reminders and the escalations of its miss.

Occurrences name the firing, never the moment of the scan: a reminder by its scheduled local time,
an escalation by the period and the ladder step, so producing either again is a no-op.
"""

from dataclasses import replace
from datetime import timedelta

from liaison_infra.clock import china_day

from liaison_notify.domain.duties import NOBODY, Duty, Escalation
from liaison_notify.domain.messages import Message
from liaison_notify.domain.rules import Rule
from liaison_notify.domain.schedule import Reminder


def variables(duty: Duty, rule: Rule) -> dict[str, str]:
    """What a template may say: the duty's title, subject, period and last day (local)."""
    last_day = china_day(duty.window_end) - timedelta(days=1)
    return {
        "title": rule.title,
        "subject_id": duty.subject_id,
        "period": duty.period_id,
        "last_day": last_day.isoformat(),
        "deputy_id": duty.deputy_id or "",
    }


def reminder_message(duty: Duty, rule: Rule, reminder: Reminder) -> Message:
    return Message(
        rule_id=duty.rule_id,
        subject_id=duty.subject_id,
        occurrence=reminder.occurrence,
        recipient_id=duty.recipient_id,
        template=rule.reminder_template,
        variables=variables(duty, rule),
        station_id=duty.station_id,
        district_id=duty.district_id,
        duty_id=duty.id,
        tags=("reminder",),
        quiet_hours=rule.quiet_hours,
    )


def readdressed(message: Message, duty: Duty) -> Message:
    """A reminder not yet sent, now for the deputy ``duty`` moved to."""
    variables = {**message.variables, "deputy_id": duty.deputy_id or ""}
    return replace(message, recipient_id=duty.recipient_id, variables=variables)


def unroutable_messages(duty: Duty, rule: Rule) -> list[Message]:
    """A missed duty's steps nobody could be told of (say, its station's district is not known),
    told to the station head at the miss: an escalation never goes nowhere unseen. A rule with
    no ladder at all escalates to nobody by choice, and says nothing."""
    return [
        Message(
            rule_id=duty.rule_id,
            subject_id=duty.subject_id,
            occurrence=f"{duty.period_id}:escalation:{step.to}:unroutable",
            recipient_id=f"station_head:{duty.station_id}",
            template="escalation_unroutable",
            variables={**variables(duty, rule), "escalated_to": step.to, "note": step.note or ""},
            station_id=duty.station_id,
            district_id=duty.district_id,
            tags=("alert",),
            quiet_hours=rule.quiet_hours,
        )
        for step in duty.escalations
        if step.recipient_id is None and step.to != NOBODY
    ]


def escalation_message(duty: Duty, rule: Rule, escalation: Escalation) -> Message:
    """Told of a miss; not tied to the duty's being open, since a missed duty is not."""
    assert escalation.recipient_id is not None
    return Message(
        rule_id=duty.rule_id,
        subject_id=duty.subject_id,
        occurrence=f"{duty.period_id}:escalation:{escalation.to}",
        recipient_id=escalation.recipient_id,
        template=rule.escalation_template,
        variables={**variables(duty, rule), "escalated_to": escalation.to},
        station_id=duty.station_id,
        district_id=duty.district_id,
        tags=("escalation",),
        quiet_hours=rule.quiet_hours,
    )
