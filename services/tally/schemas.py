"""What the tally service's queries accept (unknown fields refused, each field's message)."""

from __future__ import annotations

from marshmallow import fields

from qunping.core.schemas import Pattern, StrictSchema

ID = Pattern(r"^[0-9a-f]{16}$")


class MeetingRef(StrictSchema):
    meeting_id = fields.String(required=True, validate=ID)


class CampaignRef(StrictSchema):
    campaign_id = fields.String(required=True, validate=ID)
