"""The visit log (走访, 慰问) and the activity log (宣讲, 学习, 培训, 调研, 接待日).

Opinions raised on a visit or at an activity travel with its event; cases opens one case for
each, keyed by the opinion id, so each opinion becomes exactly one case.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated

from liaison_infra.clock import china_day
from liaison_infra.domain_errors import InvalidInput
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from liaison_records.domain.org import Slug, Text

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class OpinionKind(StrEnum):
    OPINION = "opinion"  # 意见
    SUGGESTION = "suggestion"  # 建议
    REQUEST = "request"  # 诉求


class OpinionRaised(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OpinionKind
    text: LongText
    person_id: str | None = None
    household_id: str | None = None


# The text of one log's opinions together: its event must stay well within what the bus carries
# (512 KiB, at four bytes a character) and its request within 1 MiB however a client escapes them.
OPINIONS_TEXT = 60_000


def _opinions_fit(opinions: list[OpinionRaised]) -> list[OpinionRaised]:
    if sum(len(opinion.text) for opinion in opinions) > OPINIONS_TEXT:
        raise ValueError(f"the opinions of one log hold at most {OPINIONS_TEXT:,} characters together")
    return opinions


class VisitKind(StrEnum):
    HOUSEHOLD_VISIT = "household_visit"  # 走访
    CONDOLENCE = "condolence"  # 慰问


class Festival(StrEnum):
    SPRING_FESTIVAL = "spring_festival"
    MID_AUTUMN = "mid_autumn"
    DOUBLE_NINTH = "double_ninth"


class ActivityKind(StrEnum):
    LECTURE = "lecture"  # 宣讲
    STUDY = "study"  # 学习
    TRAINING = "training"  # 培训
    RESEARCH = "research"  # 调研
    RECEPTION_DAY = "reception_day"  # 接待日


# Liaison stations began in the 2000s: an earlier day is a typo (notify's lunar calendar, which
# finds the festival a visit served, ends before 1900).
EARLIEST_LOG_DAY = date(2000, 1, 1)


def _a_logged_day(value: date) -> date:
    if value > china_day():
        raise ValueError("a log entry records what happened: the date cannot be in the future")
    if value < EARLIEST_LOG_DAY:
        raise ValueError(f"a log entry's date cannot be before {EARLIEST_LOG_DAY.isoformat()}")
    return value


class VisitFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: Slug
    kind: VisitKind
    visited_on: date
    festival: Festival | None = None
    deputy_ids: list[str] = Field(min_length=1, max_length=20)
    household_ids: list[str] = Field(default_factory=list, max_length=50)
    person_ids: list[str] = Field(default_factory=list, max_length=100)
    attendees: int | None = Field(default=None, ge=0, le=10_000)  # present, when counted
    notes: LongText | None = None
    opinions: list[OpinionRaised] = Field(default_factory=list, max_length=50)

    _past = field_validator("visited_on")(_a_logged_day)
    _fit = field_validator("opinions")(_opinions_fit)

    def refuse_nobody_visited(self) -> None:
        """A visit is to households or people: named as visited, or as raising an opinion."""
        named = [*self.household_ids, *self.person_ids]
        named += [id_ for opinion in self.opinions for id_ in (opinion.household_id, opinion.person_id) if id_]
        if not named:
            message = "a visit is to households or people: name at least one"
            raise InvalidInput("nobody_visited", message, field="household_ids")


class ActivityFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    station_id: Slug
    kind: ActivityKind
    held_on: date
    title: Text
    deputy_ids: list[str] = Field(default_factory=list, max_length=50)
    household_ids: list[str] = Field(default_factory=list, max_length=200)  # those who took part, when named
    person_ids: list[str] = Field(default_factory=list, max_length=1000)
    attendees: int = Field(ge=0, le=100_000)
    notes: LongText | None = None
    opinions: list[OpinionRaised] = Field(default_factory=list, max_length=200)

    _past = field_validator("held_on")(_a_logged_day)
    _fit = field_validator("opinions")(_opinions_fit)
