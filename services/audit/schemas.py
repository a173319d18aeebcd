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


class ExportBundle(StrictSchema):
    campaign_id = fields.String(validate=ID)
    meeting_id = fields.String(validate=ID)

    @validates_schema
    def one_scope(self, data: dict[str, Any], **_: Any) -> None:
        if ("campaign_id" in data) == ("meeting_id" in data):
            raise ValidationError("give exactly one of campaign_id and meeting_id", "_schema")


class MeetingRef(StrictSchema):
    meeting_id = fields.String(required=True, validate=ID)
