"""Settings of the cases service, read from `CASES_*` environment variables."""

from liaison_infra.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CASES_", extra="forbid", frozen=True)

    service_name: str = "cases"
    mongodb_database: str = "liaison_cases"
    http_port: int = 8102
