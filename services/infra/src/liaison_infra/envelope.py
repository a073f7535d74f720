"""The event envelope (CloudEvents attribute names) and the base of every published schema.

A publisher declares each event as a versioned Pydantic model; the envelope carries it with
the routing and tracing attributes every consumer needs without knowing the publisher's code.
"""

from datetime import UTC, datetime
from typing import Any, ClassVar, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """Base of a published event schema.

    Subclasses set ``event_type`` (``case.opened``), ``topic`` (``cases.case.v1``) and
    ``version``; ``examples()`` feeds the contract test and the AsyncAPI document.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:liaison:{cls.event_type}:v{cls.version}"

    @classmethod
    def examples(cls) -> list[Self]:
        """Representative instances; every publisher must give at least one."""
        raise NotImplementedError(f"{cls.__name__} gives no examples")


class Envelope(BaseModel):
    """One event as it travels: CloudEvents attributes plus station scope and correlation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: uuid4().hex)
    source: str
    type: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    dataschema: str
    datacontenttype: str = "application/json"
    station_id: str | None
    district_id: str | None
    correlationid: str
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        subject: str,
        station_id: str | None,
        district_id: str | None,
        correlation_id: str,
    ) -> "Envelope":
        return cls(
            source=source,
            type=event.event_type,
            subject=subject,
            dataschema=event.dataschema(),
            station_id=station_id,
            district_id=district_id,
            correlationid=correlation_id,
            data=event.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Envelope":
        return cls.model_validate_json(raw)

    @property
    def schema_version(self) -> int:
        return int(self.dataschema.rsplit(":v", 1)[1])
