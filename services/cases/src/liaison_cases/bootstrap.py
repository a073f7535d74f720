"""Wires the cases service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec, Subscription

from liaison_cases.adapters.records_events import ActivityRead, ErasedRead, VisitRead
from liaison_cases.config import Settings
from liaison_cases.domain.events import PUBLISHED
from liaison_cases.service_layer.erasure import on_returnee_erased
from liaison_cases.service_layer.opinions import on_activity_held, on_visit_logged

SPEC = ServiceSpec(
    published=PUBLISHED,
    subscriptions=(
        Subscription("visit.logged", "records.visit.v1", VisitRead, on_visit_logged),
        Subscription("activity.held", "records.activity.v1", ActivityRead, on_activity_held),
        Subscription("returnee.erased", "records.person.v1", ErasedRead, on_returnee_erased),
    ),
)

SERVICE = ServiceDefinition(
    name="cases",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_cases.entrypoints.api:create_app",
)
