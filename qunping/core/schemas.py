"""marshmallow at every boundary: strict base schema, the envelope's schema, payload registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from qunping.core.envelope import EVENT_TYPE_PATTERN, STREAM_PATTERN
from qunping.core.errors import InvalidEvent, InvalidInput

HASH = validate.Regexp(r"^[0-9a-f]{64}$", error="must be a lowercase hex SHA-256 digest")
TIME = validate.Regexp(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", error="must be UTC with milliseconds"
)


class StrictSchema(Schema):
    """Refuses fields it does not know: a typo or an injected key is an error, never ignored."""

    class Meta:
        unknown = RAISE


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """Validate `payload` or raise `InvalidInput` naming each wrong field."""
    if not isinstance(payload, Mapping):
        raise InvalidInput({"_schema": ["must be an object"]})
    try:
        loaded = schema.load(payload)
    except ValidationError as error:
        raise InvalidInput(_as_dict(error.messages)) from None
    return dict(loaded)


def _as_dict(messages: Any) -> dict[str, Any]:
    return messages if isinstance(messages, dict) else {"_schema": messages}


class CloudEventSchema(StrictSchema):
    """Exactly the CloudEvents 1.0 structured form `envelope.to_cloudevent` produces."""

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    source = fields.String(required=True, validate=validate.Regexp(r"^/qunping/[a-z][a-z0-9_]*$"))
    type = fields.String(
        required=True, validate=validate.Regexp(r"^qunping\.[a-z][a-z0-9_]*\.[A-Z][A-Za-z0-9]+$")
    )
    subject = fields.String(required=True, validate=validate.Regexp(STREAM_PATTERN))
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


SchemaT = TypeVar("SchemaT", bound=type[Schema])


class PayloadSchemas:
    """Which schema validates the data of each (event type, schema version).

    A log given a registry refuses to record an event whose data its schema refuses, so
    every stored payload matches a documented schema (DESIGN.md §4.7).
    """

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, int], type[Schema]] = {}

    def register(self, event_type: str, version: int = 1) -> Callable[[SchemaT], SchemaT]:
        if not EVENT_TYPE_PATTERN.match(event_type):
            raise ValueError(f"event type {event_type!r} must be PascalCase")

        def add(schema: SchemaT) -> SchemaT:
            key = (event_type, version)
            if key in self._schemas:
                raise ValueError(f"{event_type} v{version} is registered twice")
            self._schemas[key] = schema
            return schema

        return add

    def schema_for(self, event_type: str, version: int) -> type[Schema]:
        try:
            return self._schemas[(event_type, version)]
        except KeyError:
            raise InvalidEvent(event_type, {"type": [f"no schema for v{version}"]}) from None

    def check(self, event_type: str, version: int, data: Mapping[str, Any]) -> None:
        errors = self.schema_for(event_type, version)().validate(data)
        if errors:
            raise InvalidEvent(event_type, _as_dict(errors))

    def items(self) -> list[tuple[tuple[str, int], type[Schema]]]:
        return sorted(self._schemas.items())
