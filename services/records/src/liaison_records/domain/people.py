"""The living file of one returnee (归侨) or relative (侨眷): 一归侨侨眷一档案.

Plain values only; the repository encrypts the protected ones (ID number, phones, street
address) and keeps their blind indexes. Every change goes through ``PersonFile.apply`` so
that the field-level history sees it.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated

from liaison_infra.clock import china_day
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from liaison_records.domain.countries import country_code
from liaison_records.domain.org import Text, distinct
from liaison_records.domain.phones import phone_number


class Category(StrEnum):
    RETURNEE = "returnee"  # 归侨
    RELATIVE = "relative"  # 侨眷


class Relation(StrEnum):
    """A relative's relation to the overseas or returned person."""

    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    OTHER = "other"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Employment(StrEnum):
    RETIRED = "retired"
    LAID_OFF = "laid_off"
    EMPLOYED = "employed"
    UNEMPLOYED = "unemployed"


class Hardship(StrEnum):
    HARDSHIP_FAMILY = "hardship_family"  # 困难家庭
    MINIMUM_LIVING = "minimum_living"  # 低保
    EXTREME_POVERTY = "extreme_poverty"  # 特困
    LIVING_ALONE = "living_alone"
    DISABLED = "disabled"
    CHRONIC_ILLNESS = "chronic_illness"


class Status(StrEnum):
    ACTIVE = "active"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"
    ARCHIVED = "archived"
    ERASED = "erased"


class Address(BaseModel):
    """Community and building stay in clear (stations plan visits by them); the rest is protected."""

    model_config = ConfigDict(extra="forbid")

    community: Text | None = None
    building: Text | None = None
    detail: Text | None = None


class PersonFields(BaseModel):
    """Everything a station records about a person; the registration and update payload."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    relation: Relation | None = None
    relation_note: Text | None = None
    name: Text
    gender: Gender | None = None
    birth_date: date | None = None
    id_number: Text | None = None
    phones: list[Annotated[Text, AfterValidator(phone_number)]] = Field(default_factory=list, max_length=5)
    address: Address = Field(default_factory=Address)
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code of the country returned from")
    return_year: int | None = Field(default=None, ge=1900, le=2100)
    settlement: Text | None = None
    former_employer: Text | None = None
    employment: Employment | None = None
    hardship: Annotated[list[Hardship], AfterValidator(distinct)] = Field(default_factory=list)
    tags: Annotated[list[Text], AfterValidator(distinct)] = Field(default_factory=list, max_length=30)
    status: Status = Status.ACTIVE
    notes: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("name")
    @classmethod
    def _written_with_letters(cls, name: str) -> str:
        """Punctuation alone (a stray "?" or "-" in a roster) is nobody's name, and no search finds it."""
        if not any(character.isalnum() for character in name):
            raise ValueError("a name needs a letter, a character or a digit")
        return name

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)

    @field_validator("birth_date")
    @classmethod
    def _born_in_the_past(cls, value: date | None) -> date | None:
        if value is not None and not date(1890, 1, 1) <= value <= china_day():
            raise ValueError("birth date must lie between 1890 and today")
        return value

    @field_validator("relation")
    @classmethod
    def _relation_only_for_relatives(cls, relation: Relation | None, info: ValidationInfo) -> Relation | None:
        """Checked on the relation (the category comes first), so the error names that field."""
        if info.data.get("category") is Category.RETURNEE and relation is not None:
            raise ValueError("a returnee has no relation; only a relative (侨眷) does")
        return relation
