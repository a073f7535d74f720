"""Deputies (人大代表) who serve stations, and how they want to be reached."""

import re
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from liaison_records.domain.org import Slug, Text, distinct

MOBILE = re.compile(r"^1[3-9]\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DeputyLevel(StrEnum):
    REGION = "region"
    CITY = "city"
    DISTRICT = "district"


class Channel(StrEnum):
    """Where a reminder can reach a deputy, in the order they prefer."""

    WECOM = "wecom"
    DINGTALK = "dingtalk"
    SMS = "sms"
    EMAIL = "email"
    IN_APP = "in_app"


class DeputyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    level: DeputyLevel
    station_ids: Annotated[list[Slug], AfterValidator(distinct)] = Field(min_length=1, max_length=20)
    mobile: Annotated[str, StringConstraints(strip_whitespace=True)] | None = None
    wecom_id: Text | None = None
    dingtalk_id: Text | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    preferences: Annotated[list[Channel], AfterValidator(distinct)] = Field(
        default_factory=lambda: [Channel.WECOM, Channel.SMS, Channel.IN_APP]
    )
    term_start: date | None = None
    term_end: date | None = None

    @field_validator("mobile")
    @classmethod
    def _mainland_mobile(cls, value: str | None) -> str | None:
        if value is not None and not MOBILE.fullmatch(value.removeprefix("+86").replace(" ", "").replace("-", "")):
            raise ValueError("a mainland mobile number has 11 digits starting with 1")
        return value.removeprefix("+86").replace(" ", "").replace("-", "") if value else value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.fullmatch(value):
            raise ValueError("not an email address")
        return value

    @field_validator("term_end")
    @classmethod
    def _term_in_order(cls, term_end: date | None, info: ValidationInfo) -> date | None:
        term_start = info.data.get("term_start")
        if term_start and term_end and term_end < term_start:
            raise ValueError("term_end is before term_start")
        return term_end
