"""Duty rules as data: what must happen, when to remind, whom to escalate to.

Every rule has a default here; a district may override fields of it and a station may override
fields of its district's (station beats district beats default). An override holds only the fields
it changes, so a later change of the default still reaches every station that did not touch it.
"""

from datetime import time
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from liaison_notify.domain.templates import ESCALATION_VARIABLES, REMINDER_VARIABLES, TEMPLATES


class RuleKind(StrEnum):
    MONTHLY_VISIT = "monthly_visit"  # 每月一走访: every household, by its deputy
    QUARTERLY_ACTIVITY = "quarterly_activity"  # 每季一宣讲一学习: one per station per quarter
    FESTIVAL_VISIT = "festival_visit"  # 春节/中秋/重阳 condolence visits to hardship and elderly households
    CASE_DEADLINE = "case_deadline"  # a case's reply deadline, followed by the station


class Festival(StrEnum):
    SPRING = "spring"  # 春节, lunar 1/1
    MID_AUTUMN = "mid_autumn"  # 中秋, lunar 8/15
    DOUBLE_NINTH = "double_ninth"  # 重阳, lunar 9/9


# The validation context of rules read back from the store (see ``_wall_clock``).
STORED = {"stored": True}


def _wall_clock(moment: time, info: ValidationInfo) -> time:
    """A time of day is the station's wall-clock time (Asia/Shanghai), compared with local times
    that carry no offset, so one given with an offset is refused. One an older version stored with
    its offset is read as the wall-clock time it names, the offset left out: as that version
    scheduled its reminders (it could not compare such quiet hours at all)."""
    if moment.tzinfo is None:
        return moment
    if (info.context or {}).get("stored"):
        return moment.replace(tzinfo=None)
    raise ValueError("a time of day here is the station's local time (Asia/Shanghai): give it without an offset")


WallClock = Annotated[time, AfterValidator(_wall_clock)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReminderOffset(Strict):
    """One reminder: ``days`` after the window's first day (anchor start, 0 = the first day) or
    before its last day (anchor end, 0 = the last day), at a local time; ``working_days`` counts
    Chinese working days only (case deadlines: "three working days before")."""

    anchor: Literal["start", "end"]
    days: int = Field(ge=0, le=366)
    at: WallClock = time(9)
    working_days: bool = False


class QuietHours(Strict):
    """No reminder is released between ``start`` and ``end`` (local); one falling inside moves to ``end``."""

    start: WallClock = time(21)
    end: WallClock = time(8)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class EscalationStep(Strict):
    """Who hears of a missed duty, ``after_days`` after its window closed, if it is still unresolved."""

    to: Literal["station_head", "district"]
    after_days: int = Field(ge=0, le=90)


class Rule(Strict):
    id: str
    kind: RuleKind
    title: str
    enabled: bool = True
    reminders: tuple[ReminderOffset, ...]
    quiet_hours: QuietHours = QuietHours()
    reminder_template: str = Field(min_length=1, max_length=80)
    escalation_template: str = Field(default="duty_missed", min_length=1, max_length=80)
    escalation: tuple[EscalationStep, ...] = (
        EscalationStep(to="station_head", after_days=0),
        EscalationStep(to="district", after_days=3),
    )
    activity_kind: str | None = None  # quarterly activity: the records activity kind that fulfils it
    festival: Festival | None = None
    days_before: int = Field(default=0, ge=0, le=60)  # festival window: opens this many days before
    days_after: int = Field(default=0, ge=0, le=60)  # ... and closes this many days after

    @model_validator(mode="after")
    def reminders_stay_in_window(self) -> "Rule":
        """A reminder on the last day inside the evening quiet hours would move past the window's end."""
        for reminder in self.reminders:
            evening_quiet = self.quiet_hours.start > self.quiet_hours.end and reminder.at >= self.quiet_hours.start
            if reminder.anchor == "end" and reminder.days == 0 and evening_quiet:
                raise ValueError(
                    f"the last-day reminder at {reminder.at:%H:%M} falls in quiet hours and would move "
                    "past the end of the window; choose an earlier time"
                )
        steps = [step.after_days for step in self.escalation]
        if steps != sorted(steps):
            raise ValueError("escalation steps must be in order of after_days")
        return self


class RuleOverride(Strict):
    """The fields a district or station changes; everything left out is inherited."""

    enabled: bool | None = None
    reminders: tuple[ReminderOffset, ...] | None = Field(default=None, min_length=0, max_length=12)
    quiet_hours: QuietHours | None = None
    reminder_template: str | None = Field(default=None, min_length=1, max_length=80)
    escalation_template: str | None = Field(default=None, min_length=1, max_length=80)
    escalation: tuple[EscalationStep, ...] | None = Field(default=None, max_length=5)
    days_before: int | None = Field(default=None, ge=0, le=60)
    days_after: int | None = Field(default=None, ge=0, le=60)

    @field_validator("reminder_template", "escalation_template")
    @classmethod
    def _fitting_template(cls, name: str | None, info: ValidationInfo) -> str | None:
        """A misspelt name, or a template asking for what the rule's messages do not carry, would
        fail every message of the rule, long after the change."""
        if name is None:
            return name
        if name not in TEMPLATES:
            raise ValueError(f"no template {name!r}; known: {', '.join(sorted(TEMPLATES))}")
        given = REMINDER_VARIABLES if info.field_name == "reminder_template" else ESCALATION_VARIABLES
        if missing := TEMPLATES[name].variables - given:
            raise ValueError(f"template {name!r} needs {', '.join(sorted(missing))}, which these messages lack")
        return name

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def apply(rule: Rule, *overrides: dict[str, Any]) -> Rule:
    """The rule with each override's fields laid over it in turn (district, then station); the
    overrides are read as stored ones (``STORED``)."""
    merged = rule.model_dump(mode="json")
    for changes in overrides:
        merged.update(changes)
    return Rule.model_validate(merged, context=STORED)


MONTHLY = (
    ReminderOffset(anchor="start", days=0),
    ReminderOffset(anchor="start", days=19),
    ReminderOffset(anchor="end", days=0),
)
QUARTERLY = (
    ReminderOffset(anchor="start", days=0),
    ReminderOffset(anchor="start", days=60),
    ReminderOffset(anchor="end", days=6),
)
FESTIVAL = (ReminderOffset(anchor="start", days=0), ReminderOffset(anchor="end", days=1))
FESTIVAL_TITLES = {
    Festival.SPRING: "春节走访慰问",
    Festival.MID_AUTUMN: "中秋走访慰问",
    Festival.DOUBLE_NINTH: "重阳走访慰问",
}

DEFAULT_RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            id="monthly_visit",
            kind=RuleKind.MONTHLY_VISIT,
            title="每月一走访",
            reminders=MONTHLY,
            reminder_template="visit_reminder",
        ),
        Rule(
            id="quarterly_lecture",
            kind=RuleKind.QUARTERLY_ACTIVITY,
            title="每季一宣讲",
            reminders=QUARTERLY,
            reminder_template="lecture_reminder",
            activity_kind="lecture",
        ),
        Rule(
            id="quarterly_study",
            kind=RuleKind.QUARTERLY_ACTIVITY,
            title="每季一学习",
            reminders=QUARTERLY,
            reminder_template="study_reminder",
            activity_kind="study",
        ),
        *(
            Rule(
                id=f"festival_{festival.value}",
                kind=RuleKind.FESTIVAL_VISIT,
                title=title,
                reminders=FESTIVAL,
                reminder_template="festival_visit_reminder",
                festival=festival,
                days_before=7,
                days_after=3,
            )
            for festival, title in FESTIVAL_TITLES.items()
        ),
        Rule(
            id="case_deadline",
            kind=RuleKind.CASE_DEADLINE,
            title="建议办理期限",
            reminders=(ReminderOffset(anchor="end", days=3, working_days=True), ReminderOffset(anchor="end", days=0)),
            reminder_template="case_deadline_reminder",
            escalation_template="case_overdue",
        ),
    )
}
