"""What each ballot command accepts: validated at the boundary, unknown fields refused."""

from __future__ import annotations

from marshmallow import fields, validate

from qunping.core.roles import actor_field
from qunping.core.schemas import Pattern, StrictSchema
from services.ballot.events import ID, SHORT_TEXT, MarkSchema

CATEGORIES = ("resident", "party_member", "unit", "other")
"""Who a representative checked in is, as the meeting desk offers it."""


def meeting_id() -> fields.String:
    return fields.String(required=True, validate=ID)


class CreateCampaign(StrictSchema):
    district = fields.String(required=True, validate=SHORT_TEXT)
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100))
    batch = fields.String(required=True, validate=SHORT_TEXT)
    policy = fields.Dict(keys=fields.String(), load_default=dict)


class CampaignRef(StrictSchema):
    campaign_id = fields.String(required=True, validate=ID)


class SubjectInput(StrictSchema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=24))
    name = fields.String(load_default="", validate=validate.Length(max=100))


class ScheduleMeeting(StrictSchema):
    campaign_id = fields.String(required=True, validate=ID)
    community = fields.String(required=True, validate=SHORT_TEXT)
    street = fields.String(required=True, validate=SHORT_TEXT)
    starts_at = fields.DateTime(required=True, format="iso")
    place = fields.String(required=True, validate=SHORT_TEXT)
    expected_participants = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=100_000)
    )
    subjects = fields.List(
        fields.Nested(SubjectInput), required=True, validate=validate.Length(min=1, max=60)
    )
    rerun_of = fields.String(load_default=None, allow_none=True, validate=ID)
    pledge_id = fields.String(load_default=None, allow_none=True, validate=SHORT_TEXT)
    """Set by the pledge service for a letter's evaluation meeting (one live per letter)."""
    actor = actor_field()


class MeetingRef(StrictSchema):
    meeting_id = meeting_id()


class MeetingAct(StrictSchema):
    """A staff act on a meeting that takes nothing else (opening, closing voting)."""

    meeting_id = meeting_id()
    actor = actor_field()


class RecordReport(StrictSchema):
    meeting_id = meeting_id()
    subject_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    attachment = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )
    actor = actor_field()


class CheckIn(StrictSchema):
    meeting_id = meeting_id()
    name = fields.String(required=True, validate=SHORT_TEXT)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    identifier = fields.String(load_default="", validate=validate.Length(max=40))
    actor = actor_field()


class IssueTokens(StrictSchema):
    meeting_id = meeting_id()
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
    actor = actor_field()


class CastBallot(StrictSchema):
    meeting_id = meeting_id()
    token = fields.String(required=True, validate=validate.Length(min=16, max=64))
    marks = fields.List(fields.Nested(MarkSchema), required=True, validate=validate.Length(max=500))
    cast_id = fields.String(load_default=None, allow_none=True, validate=Pattern(r"^[0-9a-f]{32}$"))
    """Chosen at random by the voter's device and sent with every attempt: a retry of a
    recorded cast gets the original receipt. Without one, the service picks one."""


class PaperEntry(StrictSchema):
    slip = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    marks = fields.List(fields.Nested(MarkSchema), required=True, validate=validate.Length(max=500))


class KeyPaperBatch(StrictSchema):
    meeting_id = meeting_id()
    batch = fields.String(required=True, validate=SHORT_TEXT)
    actor = actor_field()
    """The clerk: the account keying, never a name in the payload."""
    entries = fields.List(
        fields.Nested(PaperEntry), required=True, validate=validate.Length(min=1, max=1000)
    )


class VoidMeeting(StrictSchema):
    meeting_id = meeting_id()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    actor = actor_field()


class RecordAssessment(StrictSchema):
    campaign_id = fields.String(required=True, validate=ID)
    community = fields.String(required=True, validate=SHORT_TEXT)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    assessor = fields.String(required=True, validate=SHORT_TEXT)
    basis = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 2000))
    """Why, when this corrects an assessment recorded before the results."""
    actor = actor_field()


class CheckReceipt(StrictSchema):
    meeting_id = meeting_id()
    code = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{4}(-[0-9a-f]{4}){3}$"))


class ReadLog(StrictSchema):
    after = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=500, strict=True, validate=validate.Range(min=1, max=1000))
    district = fields.String(validate=SHORT_TEXT)
    """A district's reader sees its own district's events (the gateway names the caller's);
    qunping's own consumers name none and read the whole log."""
