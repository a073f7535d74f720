"""Households: members and their relations, one head, ties abroad, one responsible deputy."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from liaison_records.domain.countries import country_code
from liaison_records.domain.org import Text


class MemberRelation(StrEnum):
    SELF = "self"  # the head
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    GRANDCHILD = "grandchild"
    SIBLING = "sibling"
    OTHER = "other"


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: str
    relation_to_head: MemberRelation


class OverseasTie(BaseModel):
    """A relative abroad: the ties that make a family 侨眷."""

    model_config = ConfigDict(extra="forbid")

    country: str = Field(min_length=2, max_length=2)
    relation: Text
    name: Text | None = None
    how_to_reach: Text | None = None
    # Where a read showed the tie: with it, a way to reach sent back masked keeps the stored one.
    position: int | None = Field(default=None, ge=0)

    @field_validator("country")
    @classmethod
    def _abroad(cls, value: str) -> str:
        return country_code(value)


class HouseholdFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[Member] = Field(min_length=1, max_length=30)
    overseas_ties: list[OverseasTie] = Field(default_factory=list, max_length=30)
    notes: Text | None = None

    @field_validator("members")
    @classmethod
    def _one_head_no_repeats(cls, members: list[Member]) -> list[Member]:
        heads = [m for m in members if m.relation_to_head is MemberRelation.SELF]
        if len(heads) != 1:
            raise ValueError("a household has exactly one head (relation_to_head 'self')")
        ids = [m.person_id for m in members]
        if len(ids) != len(set(ids)):
            raise ValueError("a person is listed twice")
        return members

    @property
    def head_person_id(self) -> str:
        return next(m.person_id for m in self.members if m.relation_to_head is MemberRelation.SELF)

    @property
    def person_ids(self) -> list[str]:
        return [m.person_id for m in self.members]
