"""Wires the notify service: what it publishes, what it consumes, how its processes start."""

from liaison_infra.service import ServiceDefinition, ServiceSpec, Subscription

from liaison_notify.adapters.records_events import DeputyRead, OrgUnitRead
from liaison_notify.adapters.upstream_events import (
    ActivityRead,
    AssignmentRead,
    CaseRead,
    HouseholdRead,
    VisitRead,
)
from liaison_notify.config import Settings
from liaison_notify.domain import events as duty_events
from liaison_notify.domain import reminder_events
from liaison_notify.service_layer import duty_events as duties
from liaison_notify.service_layer.recipients import on_deputy_changed
from liaison_notify.service_layer.stations import on_org_unit_changed

CASE_TOPIC = "cases.case.v1"

SPEC = ServiceSpec(
    published=(*duty_events.PUBLISHED, *reminder_events.PUBLISHED),
    subscriptions=(
        Subscription("household.changed", "records.household.v1", HouseholdRead, duties.on_household_changed),
        Subscription("assignment.changed", "records.assignment.v1", AssignmentRead, duties.on_assignment_changed),
        Subscription("visit.logged", "records.visit.v1", VisitRead, duties.on_visit_logged),
        Subscription("activity.held", "records.activity.v1", ActivityRead, duties.on_activity_held),
        Subscription("case.assigned", CASE_TOPIC, CaseRead, duties.on_case_scheduled),
        Subscription("case.deadline_changed", CASE_TOPIC, CaseRead, duties.on_case_scheduled),
        Subscription("case.replied", CASE_TOPIC, CaseRead, duties.on_case_answered),
        Subscription("case.reopened", CASE_TOPIC, CaseRead, duties.on_case_reopened),
        Subscription("case.closed", CASE_TOPIC, CaseRead, duties.on_case_answered),
        Subscription("case.merged", CASE_TOPIC, CaseRead, duties.on_case_merged),
        Subscription("deputy.registered", "records.deputy.v1", DeputyRead, on_deputy_changed),
        Subscription("deputy.updated", "records.deputy.v1", DeputyRead, on_deputy_changed),
        Subscription("org_unit.registered", "records.org.v1", OrgUnitRead, on_org_unit_changed),
        Subscription("org_unit.updated", "records.org.v1", OrgUnitRead, on_org_unit_changed),
    ),
)

SERVICE = ServiceDefinition(
    name="notify",
    settings=Settings,
    spec=SPEC,
    app_factory="liaison_notify.entrypoints.api:create_app",
    processes=("api", "relay", "consumer", "worker", "beat"),
    commands={
        "worker": "liaison_notify.entrypoints.celery_processes:run_worker",
        "beat": "liaison_notify.entrypoints.celery_processes:run_beat",
    },
)
