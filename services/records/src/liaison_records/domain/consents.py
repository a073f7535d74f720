"""Consents a person gave (PIPL): what was consented, by whom, when, and until when.

A consent is never deleted: withdrawing it keeps the record with when and by whom it was
withdrawn, so the file shows what was allowed at any moment. Whether a consent still holds
depends on the day, so its state is worked out when the file is read: an expired consent
shows as expired without anything being written when it lapses.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from liaison_infra.clock import china_day
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationInfo, field_validator

from liaison_records.domain.org import Text


class ConsentState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class ConsentFields(BaseModel):
    """What staff record when a person consents (the payload of adding one)."""

    model_config = ConfigDict(extra="forbid")

    purpose: Text
    given_by: Text
    given_at: AwareDatetime
    valid_until: date | None = None

    @field_validator("valid_until")
    @classmethod
    def _ends_after_it_begins(cls, valid_until: date | None, info: ValidationInfo) -> date | None:
        given_at = info.data.get("given_at")
        if valid_until is not None and given_at is not None and valid_until < china_day(given_at):
            raise ValueError("valid_until lies before given_at")
        return valid_until


class Consent(ConsentFields):
    id: str
    recorded_by: str
    withdrawn_at: AwareDatetime | None = None
    withdrawn_by: str | None = None

    def state(self, today: date) -> ConsentState:
        if self.withdrawn_at is not None:
            return ConsentState.WITHDRAWN
        if self.valid_until is not None and self.valid_until < today:
            return ConsentState.EXPIRED
        return ConsentState.ACTIVE


def consent_view(stored: dict[str, Any], today: date) -> dict[str, Any]:
    """A stored consent as the file shows it, with its state on ``today``."""
    return {**stored, "state": Consent.model_validate(stored).state(today).value}


def withdrawn(consent: Consent, *, at: datetime, by: str) -> Consent:
    return consent.model_copy(update={"withdrawn_at": at, "withdrawn_by": by})
