"""Stations and the hierarchy above them: station → district → city → region.

A station's documents and events carry its own id and its district's id, which is all the
scope rules need; cities and regions exist for supervisors' roll-ups.
"""

from enum import StrEnum
from typing import Annotated, Any

from liaison_infra.domain_errors import InvalidInput
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def distinct(values: list[Any]) -> list[Any]:
    """The list without repeats, first occurrence kept: a tag or flag given twice means it once."""
    return list(dict.fromkeys(values))


class Level(StrEnum):
    STATION = "station"
    DISTRICT = "district"
    CITY = "city"
    REGION = "region"


PARENT_LEVEL = {Level.STATION: Level.DISTRICT, Level.DISTRICT: Level.CITY, Level.CITY: Level.REGION}


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    role: Text | None = None
    phone: Text | None = None


class OrgUnitDetails(BaseModel):
    """What a change of a unit may give: all but its id and level, which never change."""

    model_config = ConfigDict(extra="forbid")

    name: Text
    parent_id: Slug | None = None
    address: Text | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=20)


class OrgUnitFields(OrgUnitDetails):
    id: Slug = Field(description="stable id, e.g. st-shengli or d-yufeng")
    level: Level


def check_move(level: Level, parent_id: str | None, new_parent_id: str | None) -> None:
    """A district may move to another city and a city to another region, but a station stays in
    its district: its files, households, logs and cases carry that district for scope."""
    if level is Level.STATION and new_parent_id != parent_id:
        raise InvalidInput(
            "station_move_unsupported",
            "a station cannot move to another district: its records are scoped by that district",
            field="parent_id",
        )
