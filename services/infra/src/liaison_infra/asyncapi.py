"""The AsyncAPI 3.0 document of every topic and event, generated from the published schemas
(``make docs`` writes docs/asyncapi.json; a test keeps the committed copy current)."""

import json
import sys
from collections.abc import Mapping
from typing import Any

from liaison_infra.envelope import Envelope
from liaison_infra.service import ServiceDefinition, installed_services


def asyncapi_document(services: Mapping[str, ServiceDefinition]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    publishers: dict[str, str] = {}
    envelope_schema = Envelope.model_json_schema()
    for name, service in services.items():
        for event in service.spec.published:
            message_id = event.event_type.replace(".", "_")
            data_schema = event.model_json_schema()
            payload = {**envelope_schema, "properties": {**envelope_schema["properties"], "data": data_schema}}
            messages[message_id] = {
                "name": event.event_type,
                "title": event.__name__,
                "summary": (event.__doc__ or "").strip().splitlines()[0] if event.__doc__ else event.__name__,
                "contentType": "application/json",
                "payload": payload,
                "examples": [
                    {"payload": {"type": event.event_type, "data": example.model_dump(mode="json")}}
                    for example in event.examples()
                ],
                "x-publisher": name,
            }
            channel_id = event.topic.replace(".", "_")
            publishers[channel_id] = name
            channel = channels.setdefault(
                channel_id,
                {"address": event.topic, "messages": {}, "description": f"Published by {name}; key: the aggregate id"},
            )
            channel["messages"][message_id] = {"$ref": f"#/components/messages/{message_id}"}
        for subscription in service.spec.subscriptions:
            channel_id = subscription.topic.replace(".", "_")
            message_id = subscription.event_type.replace(".", "_")
            operations[f"{name}_receives_{message_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
            }
    for channel_id, channel in channels.items():
        operations[f"{publishers[channel_id]}_sends_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{m}"} for m in channel["messages"]],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Liaison events",
            "version": "1",
            "description": "Every event the Liaison services publish, in CloudEvents envelopes keyed by aggregate.",
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items()))},
    }


def render() -> str:
    return json.dumps(asyncapi_document(installed_services()), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main() -> None:
    sys.stdout.write(render())
