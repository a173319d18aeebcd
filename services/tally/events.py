"""The tally log: what was published, when it was computed, from which log position."""

from __future__ import annotations

from marshmallow import fields

from qunping.core.schemas import PayloadSchemas, StrictSchema

payloads = PayloadSchemas()


@payloads.register("ResultsPublished", public=True)
class ResultsPublished(StrictSchema):
    """A meeting's results, announced at its close (当场公布)."""

    meeting_id = fields.String(required=True)
    campaign_id = fields.String(required=True)
    community = fields.String(required=True)
    policy_hash = fields.String(required=True)
    closing = fields.Dict(required=True)
    results = fields.Dict(required=True)
    source_position = fields.Integer(required=True, strict=True)
    """The ballot log position of the close the results were computed at."""
    source_hash = fields.String(required=True)


@payloads.register("GradeAssigned", public=True)
class GradeAssigned(StrictSchema):
    """A community's 双评 grade in a campaign, and its movement against the last one."""

    campaign_id = fields.String(required=True)
    community = fields.String(required=True)
    mass_score = fields.String(required=True)
    superior_score = fields.Integer(required=True, strict=True)
    composite = fields.String(required=True)
    grade = fields.String(required=True)
    previous_grade = fields.String(required=True, allow_none=True)
    movement = fields.String(required=True)
    source_position = fields.Integer(required=True, strict=True)


class FlagSchema(StrictSchema):
    community = fields.String(required=True)
    subject = fields.String(required=True)
    kind = fields.String(required=True)
    reason = fields.String(required=True)


@payloads.register("AlertRaised", public=True)
class AlertRaised(StrictSchema):
    """A closed meeting needs the district's attention: a community under the policy's alert
    threshold, or a person with 不称职 at the policy's share (for notify's district e-mail)."""

    campaign_id = fields.String(required=True)
    meeting_id = fields.String(required=True)
    community = fields.String(required=True)
    headline = fields.String(required=True)
    details = fields.String(required=True)
    flags = fields.List(fields.Nested(FlagSchema), required=True)
    source_position = fields.Integer(required=True, strict=True)
