"""What the audit service's RPCs accept (unknown fields refused, each field's message)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from qunping.core.schemas import Pattern, StrictSchema

ID = Pattern(r"^[0-9a-f]{16}$", error="must be 16 lowercase hex digits")


class NoArguments(StrictSchema):
    pass


class Replay(StrictSchema):
    as_of = fields.Integer(strict=True, validate=validate.Range(min=0))
    """A ballot-log position; omitted: what the live tally reflects."""
    campaign_id = fields.String(validate=ID)
    meeting_id = fields.String(validate=ID)
    district = fields.String(validate=validate.Length(min=1, max=100))
    """A district's auditor is told of its own district's differences (the gateway names
    the caller's); the replay itself is always of the whole log."""


class ExportBundle(StrictSchema):
    campaign_id = fields.String(validate=ID)
    meeting_id = fields.String(validate=ID)

    @validates_schema
    def one_scope(self, data: dict[str, Any], **_: Any) -> None:
        if ("campaign_id" in data) == ("meeting_id" in data):
            raise ValidationError("give exactly one of campaign_id and meeting_id", "_schema")


class MeetingRef(StrictSchema):
    meeting_id = fields.String(required=True, validate=ID)
