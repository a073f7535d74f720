"""Settings of the notify service, read from `NOTIFY_*` environment variables."""

from liaison_infra.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="forbid", frozen=True)

    service_name: str = "notify"
    mongodb_database: str = "liaison_notify"
    http_port: int = 8103
