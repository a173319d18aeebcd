"""How qunping's events travel on RabbitMQ: exchanges, and the CloudEvents content type."""

from __future__ import annotations

import json
from typing import Any

from kombu import serialization
from kombu.entity import Exchange

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
CLOUDEVENTS_SERIALIZER = "cloudevents"
"""Name of the kombu serializer for CloudEvents; add it to nameko's `ACCEPT` config."""


def events_exchange(log_name: str) -> Exchange:
    """The exchange a log's events go to: the declaration nameko's event handlers use."""
    return Exchange(f"{log_name}.events", type="topic", durable=True, delivery_mode=2)


PUBLIC_EXCHANGE_NAME = "qunping.public"


def public_exchange() -> Exchange:
    """The one exchange of the public contract: every log's public events, nothing else.

    Routing key `{log}.{EventType}` (e.g. `ballot.MeetingClosed`), so an outside system
    binds `ballot.*`, `*.MeetingClosed` or `#` on a durable queue of its own.
    """
    return Exchange(PUBLIC_EXCHANGE_NAME, type="topic", durable=True, delivery_mode=2)


def public_routing_key(log_name: str, event_type: str) -> str:
    return f"{log_name}.{event_type}"


def _decode(body: bytes | str) -> Any:
    return json.loads(body)


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def register_cloudevents_serializer() -> None:
    """Let kombu (and so nameko) consumers decode structured-mode CloudEvents."""
    serialization.register(
        CLOUDEVENTS_SERIALIZER,
        _encode,
        _decode,
        content_type=CLOUDEVENTS_CONTENT_TYPE,
        content_encoding="utf-8",
    )


register_cloudevents_serializer()
