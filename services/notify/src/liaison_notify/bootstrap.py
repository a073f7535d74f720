"""Wires the notify service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec

from liaison_notify.config import Settings

SPEC = ServiceSpec()

SERVICE = ServiceDefinition(
    name="notify",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_notify.entrypoints.api:create_app",
)
