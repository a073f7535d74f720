"""Contracts between publishers and consumers, and the AsyncAPI document made from them."""

from pathlib import Path

from liaison_infra.asyncapi import asyncapi_document, render
from liaison_infra.contracts import contract_problems
from liaison_infra.service import ServiceDefinition, ServiceSpec, Subscription, installed_services
from liaison_infra.settings import ServiceSettings
from pydantic import BaseModel

from tests.infra.support import Noted, NoteReader, count_note


class StrictReader(BaseModel):
    key: str
    n: int
    colour: str  # the publisher never sends this


def definition(name: str, spec: ServiceSpec) -> ServiceDefinition:
    return ServiceDefinition(name=name, settings=ServiceSettings, spec=spec, app_factory="unused:create_app")


def test_the_installed_services_honour_each_others_contracts() -> None:
    assert contract_problems(installed_services()) == []


def test_a_reader_that_rejects_the_publishers_example_is_a_problem() -> None:
    services = {
        "pub": definition("pub", ServiceSpec(published=(Noted,))),
        "good": definition(
            "good", ServiceSpec(subscriptions=(Subscription(Noted.event_type, Noted.topic, NoteReader, count_note),))
        ),
        "bad": definition(
            "bad", ServiceSpec(subscriptions=(Subscription(Noted.event_type, Noted.topic, StrictReader, count_note),))
        ),
        "lost": definition(
            "lost", ServiceSpec(subscriptions=(Subscription(Noted.event_type, "elsewhere.v1", NoteReader, count_note),))
        ),
        "orphan": definition(
            "orphan", ServiceSpec(subscriptions=(Subscription("nobody.sends", "x.v1", NoteReader, count_note),))
        ),
    }
    problems = contract_problems(services)
    assert len(problems) == 3
    assert any(p.startswith("bad cannot read pub's probe.noted example") and "colour" in p for p in problems)
    assert any(p.startswith("lost reads probe.noted from elsewhere.v1") for p in problems)
    assert "orphan consumes nobody.sends, which nobody publishes" in problems


def test_the_asyncapi_document_lists_every_topic_message_and_operation() -> None:
    services = {
        "pub": definition("pub", ServiceSpec(published=(Noted,))),
        "sub": definition(
            "sub", ServiceSpec(subscriptions=(Subscription(Noted.event_type, Noted.topic, NoteReader, count_note),))
        ),
    }
    document = asyncapi_document(services)
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["probe_note_v1"]["address"] == "probe.note.v1"
    message = document["components"]["messages"]["probe_noted"]
    assert set(message["payload"]["properties"]["data"]["required"]) == {"key", "n"}
    assert {"id", "source", "type", "subject", "time", "specversion", "station_id"} <= set(
        message["payload"]["properties"]
    )
    assert message["examples"][0]["payload"]["data"] == {"key": "k1", "n": 1}
    assert document["operations"]["pub_sends_probe_note_v1"]["action"] == "send"
    assert document["operations"]["sub_receives_probe_noted"]["action"] == "receive"


def test_the_committed_asyncapi_document_is_current() -> None:
    committed = Path(__file__).parents[2] / "docs" / "asyncapi.json"
    assert committed.read_text() == render(), "run `make docs` and commit docs/asyncapi.json"
