"""The Chinese texts of every message, by template name, with their variables.

Producers name a template and give its variables; ``render`` refuses a message whose variables
are missing rather than send a reminder with a hole in it.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter

from liaison_infra.domain_errors import InvalidInput


@dataclass(frozen=True)
class Template:
    title: str
    body: str

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(name for text in (self.title, self.body) for _, name, _, _ in Formatter().parse(text) if name)


# Duty messages carry these (domain/duty_messages.py); escalations add escalated_to; the digest its
# figures (domain/digest.py). Rule templates are named in domain/rules.py, and a rule may name only
# a template its messages can fill; tests/notify/test_delivery_templates.py renders every one.
REMINDER_VARIABLES = frozenset({"title", "subject_id", "period", "last_day", "deputy_id"})
ESCALATION_VARIABLES = REMINDER_VARIABLES | {"escalated_to"}
TEMPLATES: Mapping[str, Template] = {
    "visit_reminder": Template("走访提醒", "{title}：请在{last_day}前走访住户{subject_id}（{period}）。"),
    "lecture_reminder": Template("宣讲提醒", "{title}：本站{period}的宣讲活动尚未开展，请在{last_day}前组织。"),
    "study_reminder": Template("学习提醒", "{title}：本站{period}的学习活动尚未开展，请在{last_day}前组织。"),
    "festival_visit_reminder": Template("节日慰问提醒", "{title}：请在{last_day}前走访慰问住户{subject_id}。"),
    "case_deadline_reminder": Template(
        "意见建议办理期限提醒", "{title}：意见建议{subject_id}的办理期限是{last_day}（{period}），请抓紧办理答复。"
    ),
    "duty_missed": Template(
        "未完成事项督促",
        "{title}（{period}，{subject_id}）到{last_day}仍未完成，已上报（{escalated_to}），请督促落实。",
    ),
    "case_overdue": Template(
        "意见建议逾期督办",
        "{title}：意见建议{subject_id}已超过办理期限{last_day}仍未答复，已上报（{escalated_to}），请督办。",
    ),
    "weekly_digest": Template(
        "{station_name}{week}工作小结",
        "已走访{visits_done}户，逾期未走访{visits_missed}户；本周到期事项{duties_due}项；逾期未答复意见建议{cases_overdue}件。",
    ),
    "escalation_unroutable": Template(
        "升级无人接收告警",
        "{title}（{period}）逾期未办，应上报{escalated_to}，但{note}，未能上报，请核实站点所属区及联系人。",
    ),
    "no_channel_alert": Template(
        "通知渠道告警",
        "{recipient_id}没有可用的通知渠道（{reason}），“{message_title}”已存入站内信，请核实联系方式。",
    ),
}


def render(name: str, variables: Mapping[str, str]) -> tuple[str, str]:
    """(title, body) of template ``name``; every variable it uses must be given."""
    template = TEMPLATES.get(name)
    if template is None:
        raise InvalidInput("unknown_template", f"no template {name!r}", field="template")
    missing = template.variables - variables.keys()
    if missing:
        raise InvalidInput("missing_variables", f"{name} needs {sorted(missing)}", field="variables")
    return template.title.format_map(variables), template.body.format_map(variables)
