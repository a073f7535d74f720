"""Publisher/consumer contracts, checked without any service importing another.

Each publisher gives example events; each consumer reads them through its own model. A
problem is any example a reader rejects, and any subscription nobody publishes (or publishes
on another topic).
"""

from collections.abc import Mapping

from pydantic import ValidationError

from liaison_infra.envelope import Event
from liaison_infra.service import ServiceDefinition


def published_events(services: Mapping[str, ServiceDefinition]) -> dict[str, tuple[str, type[Event]]]:
    """Every published event type with its publisher's name."""
    return {event.event_type: (name, event) for name, service in services.items() for event in service.spec.published}


def contract_problems(services: Mapping[str, ServiceDefinition]) -> list[str]:
    published = published_events(services)
    problems = []
    for consumer_name, service in services.items():
        for subscription in service.spec.subscriptions:
            found = published.get(subscription.event_type)
            if found is None:
                problems.append(f"{consumer_name} consumes {subscription.event_type}, which nobody publishes")
                continue
            publisher_name, event = found
            if event.topic != subscription.topic:
                problems.append(
                    f"{consumer_name} reads {subscription.event_type} from {subscription.topic}, "
                    f"but {publisher_name} publishes it on {event.topic}"
                )
            for example in event.examples():
                try:
                    subscription.reader.model_validate(example.model_dump(mode="json"))
                except ValidationError as exc:
                    problems.append(
                        f"{consumer_name} cannot read {publisher_name}'s {subscription.event_type} example: {exc}"
                    )
    return problems
