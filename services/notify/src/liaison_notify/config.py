"""Settings of the notify service, read from `NOTIFY_*` environment variables."""

from pathlib import Path

from liaison_infra.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFY_", extra="forbid", frozen=True)

    service_name: str = "notify"
    mongodb_database: str = "liaison_notify"
    http_port: int = 8103
    # Celery (entrypoints/celery_app.py): worker processes, what one scan hands out, and in what batches.
    # Three on two cores: a delivery waits on the store about as long as it computes, and the
    # minute's scan holds one process (entrypoints/celery_processes.py).
    worker_concurrency: int = Field(default=3, ge=1, le=64)
    scan_limit: int = Field(default=50_000, ge=1, le=1_000_000)
    delivery_batch_size: int = Field(default=100, ge=1, le=10_000)
    beat_schedule_file: Path = Path("var/notify-beat-schedule")
    # Delivery (service_layer/delivery.py). Each channel is one Apprise URL template; ``{address}``
    # is the recipient's address on it, URL-quoted. WeCom and DingTalk bot hosts are fixed inside
    # Apprise's plugins, so a private deployment or a test receiver is reached with Apprise's
    # ``json://`` instead (see adapters/providers.py).
    wecom_url: str = "wecombot://{address}"
    dingtalk_url: str = "dingtalk://{address}"
    sms_url: str = "json://127.0.0.1:8125/sms?:to={address}"
    email_url: str = "mailto://liaison@localhost:25?mode=insecure&from=liaison@localhost&to={address}"
    # Below Apprise's own socket read timeout (4 s, ``rto``): a send not answered in time is then
    # "unknown" (never repeated) rather than a failure Apprise would have us retry.
    send_timeout_seconds: float = Field(default=3, gt=0)
    # A claim not settled within its lease belongs to a worker that died mid-send.
    claim_lease_seconds: float = Field(default=120, gt=0)
    channel_attempts: int = Field(default=3, ge=1, le=20)
    retry_base_seconds: float = Field(default=60, ge=0)
    # Sends per second on each channel, shared by every worker process through Redis.
    rate_per_second: dict[str, int] = Field(
        default_factory=lambda: {"wecom": 20, "dingtalk": 20, "sms": 50, "email": 20, "inbox": 10_000}
    )
    # Sends per minute to one address, where the provider limits each: a WeCom or DingTalk group
    # bot takes 20 a minute and refuses the rest.
    rate_per_minute_per_address: dict[str, int] = Field(default_factory=lambda: {"wecom": 20, "dingtalk": 20})
    send_concurrency: int = Field(default=16, ge=1, le=256)
    # The inbox stream's wait for news before it sends a comment (keeping proxies from closing it).
    # SecantusDB shows a change on the change stream's next getMore, so this bounds the latency too.
    inbox_heartbeat_seconds: float = Field(default=2, gt=0)

    @field_validator("wecom_url", "dingtalk_url", "sms_url", "email_url")
    @classmethod
    def _has_address(cls, value: str) -> str:
        if "{address}" not in value:
            raise ValueError("must contain {address}, where the recipient's address goes")
        return value

    @field_validator("rate_per_second")
    @classmethod
    def _known_channels(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {"wecom", "dingtalk", "sms", "email", "inbox"}
        if unknown or any(rate < 1 for rate in value.values()):
            raise ValueError("must map channel names (wecom, dingtalk, sms, email, inbox) to rates of 1 or more")
        return value
