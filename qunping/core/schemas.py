"""marshmallow at every boundary: strict base schema, the envelope's schema, payload registry."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from marshmallow import RAISE, Schema, ValidationError, validate

from qunping.core.errors import InvalidEvent, InvalidInput

EVENT_TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{1,63}$")
"""Event types are PascalCase facts: `MeetingScheduled`, `BallotCast`."""
STREAM_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}-[A-Za-z0-9_.:-]{1,160}$")
"""Streams are `category-id`: `meeting-3f2a`, `token-9c41`."""
LOG_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
"""A log is named after the service that owns it: `ballot`, `pledge`."""


class Pattern(validate.Regexp):
    """A regular expression the whole string must match.

    marshmallow's `Regexp` uses `re.match`, whose `$` also matches before a final newline,
    so `"3f2a…\n"` would pass `^[0-9a-f]{16}$`. The pattern text stays `^…$`, which is also
    what the JSON Schema of the public contract shows (its dialect has no `\\Z`).
    """

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


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


SchemaT = TypeVar("SchemaT", bound=type[Schema])


class PayloadSchemas:
    """Which schema validates the data of each (event type, schema version).

    A log given a registry refuses to record an event whose data its schema refuses, so
    every stored payload matches a documented schema. An event type registered `public`
    is part of the contract with outside systems
    (docs/architecture.md#7-events-are-a-public-contract); all others stay inside qunping (a
    ballot never leaves).
    """

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, int], type[Schema]] = {}
        self._public: set[str] = set()

    def register(
        self, event_type: str, version: int = 1, *, public: bool = False
    ) -> Callable[[SchemaT], SchemaT]:
        if not EVENT_TYPE_PATTERN.fullmatch(event_type):
            raise ValueError(f"event type {event_type!r} must be PascalCase")

        def add(schema: SchemaT) -> SchemaT:
            key = (event_type, version)
            if key in self._schemas:
                raise ValueError(f"{event_type} v{version} is registered twice")
            self._schemas[key] = schema
            if public:
                self._public.add(event_type)
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

    def is_public(self, event_type: str) -> bool:
        return event_type in self._public

    def items(self) -> list[tuple[tuple[str, int], type[Schema]]]:
        return sorted(self._schemas.items())
