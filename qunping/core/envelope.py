"""The event envelope: the shape of every fact a qunping log stores and publishes.

A service hands the log `NewEvent`s; the log gives each a stream version, a global
position, a recorded time and a hash chained to its predecessor, and hands back
`RecordedEvent`s. Outside the process an event travels as a CloudEvents 1.0 JSON
object (structured mode), so subscribers can use standard CloudEvents tooling.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from marshmallow import fields, validate

from qunping.core.schemas import STREAM_PATTERN, Pattern, StrictSchema, load

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first event of every log."""


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """Now, in UTC, cut to the millisecond that BSON dates keep."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def start_of_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def canonical_json(value: Any) -> bytes:
    """The one byte form that hashes are computed over (the standalone verifier repeats it)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def stream_category(stream: str) -> str:
    """`meeting-42` belongs to category `meeting`."""
    return stream.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A fact a service wants recorded; the log decides where it goes."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    event_id: str = field(default_factory=new_event_id)
    correlation_id: str | None = None
    causation_id: str | None = None
    day_precision: bool = False
    """Record only the day, never the instant (a secret ballot carries no precise time)."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A fact as the log keeps it: placed, timed and chained."""

    log: str
    position: int
    stream: str
    version: int
    event_id: str
    type: str
    schema_version: int
    recorded_at: datetime
    correlation_id: str
    causation_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str

    @property
    def category(self) -> str:
        return stream_category(self.stream)

    def hashed_fields(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "position": self.position,
            "stream": self.stream,
            "version": self.version,
            "id": self.event_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "recorded_at": format_time(self.recorded_at),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.hashed_fields())).hexdigest()


def record(
    log: str,
    event: NewEvent,
    *,
    stream: str,
    version: int,
    position: int,
    prev_hash: str,
    recorded_at: datetime,
) -> RecordedEvent:
    """Place `event` in the chain right after the event whose hash is `prev_hash`."""
    unhashed = RecordedEvent(
        log=log,
        position=position,
        stream=stream,
        version=version,
        event_id=event.event_id,
        type=event.type,
        schema_version=event.schema_version,
        recorded_at=start_of_day(recorded_at) if event.day_precision else recorded_at,
        correlation_id=event.correlation_id or event.event_id,
        causation_id=event.causation_id,
        data=dict(event.data),
        prev_hash=prev_hash,
        hash="",
    )
    return replace(unhashed, hash=unhashed.computed_hash())


def to_cloudevent(event: RecordedEvent) -> dict[str, Any]:
    """The published form: a CloudEvents 1.0 structured-mode JSON object."""
    cloudevent: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.event_id,
        "source": f"/qunping/{event.log}",
        "type": f"qunping.{event.log}.{event.type}",
        "subject": event.stream,
        "time": format_time(event.recorded_at),
        "datacontenttype": "application/json",
        "dataschema": f"urn:qunping:schema:{event.log}:{event.type}:{event.schema_version}",
        "position": event.position,
        "streamversion": event.version,
        "schemaversion": event.schema_version,
        "correlationid": event.correlation_id,
        "prevhash": event.prev_hash,
        "hash": event.hash,
        "data": event.data,
    }
    if event.causation_id is not None:
        cloudevent["causationid"] = event.causation_id
    return cloudevent


HASH = Pattern(r"^[0-9a-f]{64}$", error="must be a lowercase hex SHA-256 digest")
TIME = Pattern(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", error="must be UTC with milliseconds"
)


class CloudEventSchema(StrictSchema):
    """Exactly the CloudEvents 1.0 structured form `to_cloudevent` produces."""

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    source = fields.String(required=True, validate=Pattern(r"^/qunping/[a-z][a-z0-9_]*$"))
    type = fields.String(
        required=True, validate=Pattern(r"^qunping\.[a-z][a-z0-9_]*\.[A-Z][A-Za-z0-9]+$")
    )
    subject = fields.String(required=True, validate=Pattern(STREAM_PATTERN))
    time = fields.String(required=True, validate=TIME)
    datacontenttype = fields.String(required=True, validate=validate.Equal("application/json"))
    dataschema = fields.String(required=True)
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    streamversion = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    schemaversion = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    correlationid = fields.String(required=True)
    causationid = fields.String()
    prevhash = fields.String(required=True, validate=HASH)
    hash = fields.String(required=True, validate=HASH)
    data = fields.Dict(required=True, keys=fields.String())


def from_cloudevent(cloudevent: Mapping[str, Any]) -> RecordedEvent:
    """Read a published event back, refusing anything that is not exactly our form."""
    attributes = load(CloudEventSchema(), cloudevent)
    log = attributes["source"].removeprefix("/qunping/")
    return RecordedEvent(
        log=log,
        position=attributes["position"],
        stream=attributes["subject"],
        version=attributes["streamversion"],
        event_id=attributes["id"],
        type=attributes["type"].removeprefix(f"qunping.{log}."),
        schema_version=attributes["schemaversion"],
        recorded_at=parse_time(attributes["time"]),
        correlation_id=attributes["correlationid"],
        causation_id=attributes.get("causationid"),
        data=attributes["data"],
        prev_hash=attributes["prevhash"],
        hash=attributes["hash"],
    )


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, the wire form of messages (not the hashed form)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
