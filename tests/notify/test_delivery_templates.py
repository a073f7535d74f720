"""Every message the duties and the digest produce renders in Chinese with nothing missing, and a
missing variable is refused rather than sent with a hole in it."""

from datetime import UTC, datetime

import pytest
from liaison_infra.domain_errors import InvalidInput
from liaison_notify.domain.digest import StationWeek, digest_message, reported_week
from liaison_notify.domain.duties import Duty, Escalation
from liaison_notify.domain.duty_messages import escalation_message, reminder_message
from liaison_notify.domain.rules import DEFAULT_RULES, Rule
from liaison_notify.domain.schedule import Reminder
from liaison_notify.domain.templates import ESCALATION_VARIABLES, REMINDER_VARIABLES, TEMPLATES, render

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def duty_of(rule_id: str) -> Duty:
    return Duty(
        id=f"{rule_id}|h-0012|2026-11",
        rule_id=rule_id,
        kind="kind",
        period_id="2026-11",
        subject_id="h-0012",
        station_id="st-1",
        district_id="d-1",
        deputy_id="dep-li",
        window_start=datetime(2026, 10, 31, 16, tzinfo=UTC),
        window_end=datetime(2026, 11, 30, 16, tzinfo=UTC),
        reminders=(),
        catch_up_at=None,
    )


@pytest.mark.parametrize("rule", DEFAULT_RULES.values(), ids=list(DEFAULT_RULES))
def test_every_default_rule_renders_its_reminder_and_its_escalation(rule: Rule) -> None:
    duty = duty_of(rule.id)
    reminder = reminder_message(duty, rule, Reminder(at=NOW, occurrence="2026-11-20T09:00"))
    escalation = escalation_message(duty, rule, Escalation(to="station", due=NOW, recipient_id="station_head:st-1"))
    for message in (reminder, escalation):
        title, body = render(message.template, message.variables)
        assert title and "{" not in body and rule.title in body
    # What a rule's templates may ask for is what these messages carry.
    assert frozenset(reminder.variables) == REMINDER_VARIABLES
    assert frozenset(escalation.variables) == ESCALATION_VARIABLES


def test_the_weekly_digest_renders_its_figures() -> None:
    figures = StationWeek("st-1", "胜利社区联络站", "d-1", visits_done=12, visits_missed=3, duties_due=5)
    message = digest_message(reported_week(NOW), figures)
    title, body = render(message.template, message.variables)
    assert title == "胜利社区联络站2026-W46工作小结"
    assert "已走访12户，逾期未走访3户" in body


def test_a_missing_variable_or_an_unknown_template_is_refused() -> None:
    with pytest.raises(InvalidInput) as missing:
        render("visit_reminder", {"title": "每月一走访", "period": "2026-11"})
    assert missing.value.code == "missing_variables" and "last_day" in missing.value.message
    with pytest.raises(InvalidInput) as unknown:
        render("birthday_wishes", {})
    assert unknown.value.code == "unknown_template"
    assert "no_channel_alert" in TEMPLATES
