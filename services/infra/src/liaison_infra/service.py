"""How a service describes itself to the shared machinery.

Each service package exposes one ``ServiceDefinition`` (in its ``bootstrap.py``) under the
``liaison.services`` entry point group. The runner, the station launcher, the AsyncAPI
generator and the contract test find services there, so no service imports another and
none of them needs a copy of the wiring code.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from liaison_infra.envelope import Envelope, Event
from liaison_infra.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from liaison_infra.mongo import Transaction

ENTRY_POINT_GROUP = "liaison.services"
EventHandler = Callable[[Any, Envelope, "Transaction"], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One consumed event type: the consumer's own reader model and what to do with it."""

    event_type: str
    topic: str
    reader: type[BaseModel]
    handler: EventHandler


@dataclass(frozen=True)
class ServiceSpec:
    """What a service publishes and what it consumes: the whole of its wiring to the bus."""

    published: tuple[type[Event], ...] = ()
    subscriptions: tuple[Subscription, ...] = ()

    @property
    def published_topics(self) -> list[str]:
        return sorted({event.topic for event in self.published})

    @property
    def consumed_topics(self) -> list[str]:
        return sorted({subscription.topic for subscription in self.subscriptions})

    def subscription_for(self, event_type: str) -> Subscription | None:
        return next((s for s in self.subscriptions if s.event_type == event_type), None)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    settings: type[ServiceSettings]
    spec: ServiceSpec
    # "module:function" of the app factory, imported only by the process that serves HTTP.
    app_factory: str
    # Processes the station starts for this service, each run as `liaison-run <name> <process>`.
    processes: tuple[str, ...] = ("api", "relay", "consumer")
    # Processes of this service only (e.g. Celery worker and beat): name -> "module:function(settings)".
    commands: Mapping[str, str] = field(default_factory=dict)

    def load_settings(self) -> ServiceSettings:
        """The service's settings from its environment; a service's class gives every default."""
        return self.settings()  # type: ignore[call-arg]

    @property
    def env_prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))


def load_function(reference: str) -> Callable[..., Any]:
    """The function a "module:function" reference names, imported only by the process that runs it."""
    module_name, _, attribute = reference.partition(":")
    function: Callable[..., Any] = getattr(import_module(module_name), attribute)
    return function


def load_app_factory(definition: ServiceDefinition) -> "Callable[[Any], FastAPI]":
    return load_function(definition.app_factory)


def installed_services() -> Mapping[str, ServiceDefinition]:
    """Every service installed in this environment, by name."""
    found = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        definition = entry.load()
        if not isinstance(definition, ServiceDefinition):
            raise TypeError(f"entry point {entry.value} is not a ServiceDefinition")
        found[entry.name] = definition
    return found
