"""The public event contract: every log's public events, as JSON Schema and AsyncAPI.

A service joins the contract by registering its payload schemas `public=True` in the
payload registry `qunping.core.registry` names for its log; `qunping contract generate`
then writes `docs/events/*.json` and `docs/asyncapi.yaml`, and a test fails while the
committed documents are stale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema

from qunping.core import registry
from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE, PUBLIC_EXCHANGE_NAME, public_routing_key
from qunping.core.envelope import CloudEventSchema
from qunping.core.schemas import PayloadSchemas
from qunping.operator.resolve import resolve

REGISTRIES: dict[str, PayloadSchemas] = {
    service.name: resolve(service.payloads, PayloadSchemas)
    for service in registry.SERVICES
    if service.payloads is not None
}
"""Each log that owns facts, by name, with its payload registry."""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:qunping:schema"


def json_schema_of(schema: type[Schema]) -> dict[str, Any]:
    """A marshmallow schema as JSON Schema (2020-12, the dialect of OpenAPI 3.1)."""
    converter = OpenAPIConverter(
        openapi_version="3.1.0",
        schema_name_resolver=lambda _schema: None,  # inline nested schemas
        spec=None,  # type: ignore[arg-type]  # only needed to register named schemas
    )
    converted: dict[str, Any] = converter.schema2jsonschema(schema)  # type: ignore[no-untyped-call]
    return converted


def event_schema_id(log: str, event_type: str, version: int) -> str:
    """Also the `dataschema` attribute of every such CloudEvent (see `to_cloudevent`)."""
    return f"{SCHEMA_ID_BASE}:{log}:{event_type}:{version}"


def cloudevent_json_schema(
    log: str, event_type: str, version: int, payload: type[Schema]
) -> dict[str, Any]:
    """The whole published message: the CloudEvents envelope with this payload as `data`."""
    envelope = json_schema_of(CloudEventSchema)
    properties = envelope["properties"]
    properties["source"] = {"const": f"/qunping/{log}"}
    properties["type"] = {"const": f"qunping.{log}.{event_type}"}
    properties["schemaversion"] = {"const": version}
    properties["dataschema"] = {"const": event_schema_id(log, event_type, version)}
    properties["data"] = json_schema_of(payload)
    description = (payload.__doc__ or "").strip()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": event_schema_id(log, event_type, version),
        "title": f"{log}.{event_type} v{version}",
        **({"description": description} if description else {}),
        **envelope,
    }


def public_event_schemas(
    registries: Mapping[str, PayloadSchemas],
) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every public (log, event type, version) and the JSON Schema of its CloudEvent."""
    return {
        (log, event_type, version): cloudevent_json_schema(log, event_type, version, schema)
        for log, registry in sorted(registries.items())
        for (event_type, version), schema in registry.items()
        if registry.is_public(event_type)
    }


def schema_file_name(log: str, event_type: str, version: int) -> str:
    return f"{log}.{event_type}.v{version}.json"


def asyncapi_document(registries: Mapping[str, PayloadSchemas]) -> dict[str, Any]:
    """AsyncAPI 2.6: one channel per public routing key on `qunping.public`."""
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for (log, event_type, version), schema in public_event_schemas(registries).items():
        routing_key = public_routing_key(log, event_type)
        name = f"{log}.{event_type}.v{version}"
        messages[name] = {
            "name": name,
            "title": schema["title"],
            "contentType": CLOUDEVENTS_CONTENT_TYPE,
            "payload": {"$ref": f"events/{schema_file_name(log, event_type, version)}"},
        }
        channel = channels.setdefault(
            routing_key,
            {
                "description": f"{event_type} events of the {log} log.",
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": PUBLIC_EXCHANGE_NAME,
                            "type": "topic",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": "/",
                        },
                        "bindingVersion": "0.3.0",
                    }
                },
                "subscribe": {
                    "operationId": f"receive.{log}.{event_type}",
                    "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
                    "message": {"oneOf": []},
                },
            },
        )
        channel["subscribe"]["message"]["oneOf"].append({"$ref": f"#/components/messages/{name}"})
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "qunping (群评) public events",
            "version": "1",
            "description": (
                "Every public fact of qunping's logs, as CloudEvents 1.0 in structured mode "
                f"on the topic exchange `{PUBLIC_EXCHANGE_NAME}`, routing key "
                "`{log}.{EventType}`. Bind a durable queue of your own with routing-key "
                "patterns (`ballot.*`, `*.MeetingClosed`, `#`) and deduplicate by `id`: "
                "delivery is at-least-once. Backfill with each service's `public_feed` RPC. "
                "A change that would break a subscriber is a new schema version."
            ),
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "url": "{host}:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "variables": {"host": {"default": "rabbitmq"}},
            }
        },
        "channels": channels,
        "components": {"messages": messages},
    }


def rendered_documents(registries: Mapping[str, PayloadSchemas]) -> dict[str, str]:
    """Every generated document by its path under `docs/`, as the text to commit."""
    documents = {
        f"events/{schema_file_name(*key)}": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for key, schema in public_event_schemas(registries).items()
    }
    documents["asyncapi.yaml"] = "# Generated by `qunping contract generate`; do not edit.\n" + (
        yaml.safe_dump(asyncapi_document(registries), allow_unicode=True, sort_keys=False)
    )
    return documents


def write_documents(
    docs_dir: Path, registries: Mapping[str, PayloadSchemas] = REGISTRIES
) -> list[Path]:
    """Write every document, removing schema files of events no longer in the contract."""
    documents = rendered_documents(registries)
    events_dir = docs_dir / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for stale in events_dir.glob("*.json"):
        if f"events/{stale.name}" not in documents:
            stale.unlink()
    written = []
    for relative, text in documents.items():
        path = docs_dir / relative
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
