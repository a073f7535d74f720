"""The directory of handling departments (承办单位) that cases are assigned to."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from liaison_cases.domain.limits import Id

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]


class DepartmentContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    phone: Text | None = None
    email: Text | None = None


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    name: Text
    level: Annotated[str, StringConstraints(pattern=r"^(district|city|region)$")] = "district"
    district_id: Id | None = None
    contacts: list[DepartmentContact] = Field(default_factory=list, max_length=20)
    active: bool = True
