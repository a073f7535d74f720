"""Wires the cases service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec, Subscription

from liaison_cases.adapters.records_events import (
    ActivityRead,
    ArchivedRead,
    AssignmentRead,
    DeputyRead,
    ErasedRead,
    HouseholdRead,
    OrgUnitRead,
    PersonChangedRead,
    VisitRead,
)
from liaison_cases.config import Settings
from liaison_cases.domain.events import PUBLISHED
from liaison_cases.service_layer.erasure import on_returnee_erased
from liaison_cases.service_layer.links import (
    on_assignment_changed,
    on_deputy_changed,
    on_household_changed,
    on_person_archived,
    on_person_changed,
)
from liaison_cases.service_layer.opinions import on_activity_held, on_visit_logged
from liaison_cases.service_layer.org_units import on_org_unit_changed

SPEC = ServiceSpec(
    published=PUBLISHED,
    subscriptions=(
        Subscription("visit.logged", "records.visit.v1", VisitRead, on_visit_logged),
        Subscription("activity.held", "records.activity.v1", ActivityRead, on_activity_held),
        Subscription("returnee.registered", "records.person.v1", PersonChangedRead, on_person_changed),
        Subscription("returnee.updated", "records.person.v1", PersonChangedRead, on_person_changed),
        Subscription("returnee.archived", "records.person.v1", ArchivedRead, on_person_archived),
        Subscription("returnee.erased", "records.person.v1", ErasedRead, on_returnee_erased),
        Subscription("household.changed", "records.household.v1", HouseholdRead, on_household_changed),
        Subscription("assignment.changed", "records.assignment.v1", AssignmentRead, on_assignment_changed),
        Subscription("deputy.registered", "records.deputy.v1", DeputyRead, on_deputy_changed),
        Subscription("deputy.updated", "records.deputy.v1", DeputyRead, on_deputy_changed),
        Subscription("org_unit.registered", "records.org.v1", OrgUnitRead, on_org_unit_changed),
        Subscription("org_unit.updated", "records.org.v1", OrgUnitRead, on_org_unit_changed),
    ),
)

SERVICE = ServiceDefinition(
    name="cases",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_cases.entrypoints.api:create_app",
)
