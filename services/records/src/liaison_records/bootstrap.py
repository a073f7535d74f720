"""Wires the records service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec, Subscription

from liaison_records.adapters.cases_events import CASE_EVENT_TYPES, CASE_TOPIC, CaseRead
from liaison_records.config import Settings
from liaison_records.domain.events import PUBLISHED
from liaison_records.service_layer.case_links import on_case_event

SPEC = ServiceSpec(
    published=PUBLISHED,
    subscriptions=tuple(Subscription(kind, CASE_TOPIC, CaseRead, on_case_event) for kind in CASE_EVENT_TYPES),
)

SERVICE = ServiceDefinition(
    name="records",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_records.entrypoints.api:create_app",
)
