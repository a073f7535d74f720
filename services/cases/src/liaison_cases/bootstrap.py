"""Wires the cases service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec

from liaison_cases.config import Settings

SPEC = ServiceSpec()

SERVICE = ServiceDefinition(
    name="cases",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_cases.entrypoints.api:create_app",
)
