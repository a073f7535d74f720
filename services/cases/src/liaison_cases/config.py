"""Settings of the cases service, read from `CASES_*` environment variables."""

from liaison_infra.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="forbid", frozen=True)

    service_name: str = "cases"
    mongodb_database: str = "liaison_cases"
    http_port: int = 8102
    # Statistics rows with fewer cases are suppressed for roles that see aggregates only.
    statistics_min_cell: int = Field(default=5, ge=1, le=1000)
    # 督办 colours (domain/supervision.py): red within this many working days of the deadline or
    # after it, yellow when at most this share of the time allowed is left.
    supervision_red_working_days: int = Field(default=3, ge=0, le=60)
    supervision_yellow_share: float = Field(default=0.2, gt=0, lt=1)
