"""Wires the records service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec

from liaison_records.config import Settings
from liaison_records.domain.events import PUBLISHED

SPEC = ServiceSpec(published=PUBLISHED)

SERVICE = ServiceDefinition(
    name="records",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_records.entrypoints.api:create_app",
)
