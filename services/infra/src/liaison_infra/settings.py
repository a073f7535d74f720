"""Settings every service shares; each service subclasses with its own env prefix.

Validation happens at construction, so a bad value stops the process at start-up
instead of failing on the first request.
"""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Connection and behaviour settings common to all services.

    Subclasses set ``model_config = SettingsConfigDict(env_prefix="RECORDS_")`` and a
    default ``service_name`` and ``mongodb_database``.
    """

    model_config = SettingsConfigDict(extra="forbid", frozen=True)

    service_name: str
    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_database: str
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Tansu cannot do idempotent producing; real Kafka should.
    kafka_idempotence: bool = False
    kafka_partitions: int = Field(default=3, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=10)
    # Tansu's group join takes about half the session timeout: keep it short locally.
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)
    kafka_fetch_max_wait_ms: int = Field(default=50, ge=1, le=5000)
    redis_url: str = "redis://127.0.0.1:6379/0"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8100, ge=1, le=65535)
    # Prometheus endpoints of the relay and consumer processes (0: not served).
    relay_metrics_port: int = Field(default=0, ge=0, le=65535)
    consumer_metrics_port: int = Field(default=0, ge=0, le=65535)
    jwt_public_key_file: Path = Path("var/keys/jwt-public.pem")
    # Versioned keys for personal data at rest (see liaison_infra.pii); made on first station start.
    pii_keyring_file: Path = Path("var/keys/pii-keyring.json")
    jwt_issuer: str = "liaison"
    jwt_audience: str = "liaison"
    log_level: str = "INFO"
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_wait_seconds: float = Field(default=0.2, gt=0)
    outbox_retention_hours: float = Field(default=168, gt=0)
    broker_check_seconds: float = Field(default=2.0, gt=0)
    consumer_max_attempts: int = Field(default=5, ge=1, le=100)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0)

    @field_validator("mongodb_url")
    @classmethod
    def _mongodb_scheme(cls, value: str) -> str:
        if not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("must start with mongodb:// or mongodb+srv://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level
