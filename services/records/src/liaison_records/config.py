"""Settings of the records service, read from `RECORDS_*` environment variables."""

from liaison_infra.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECORDS_", extra="forbid", frozen=True)

    service_name: str = "records"
    mongodb_database: str = "liaison_records"
    http_port: int = 8101
