"""What each pledge command and query accepts: validated at the boundary, unknown fields
refused, a message per field."""

from __future__ import annotations

from marshmallow import fields, validate

from qunping.core.roles import actor_field
from qunping.core.schemas import StrictSchema
from services.pledge.domain import PLEDGE_STATUSES, STATUSES
from services.pledge.events import ID, SHORT_TEXT, ContactSchema, side, text

YEAR = validate.Range(min=2000, max=2100)


def year() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=YEAR)


def pledge_id() -> fields.String:
    return fields.String(required=True, validate=ID)


class RegisterUnit(StrictSchema):
    district = text()
    community = text()
    name = text()
    kind = text(40)
    """school, enterprise, agency, …: free text, the district's own categories."""
    contact = fields.Nested(ContactSchema, required=True)


class UnitRef(StrictSchema):
    unit_id = fields.String(required=True, validate=ID)


class ListUnits(StrictSchema):
    district = fields.String(load_default=None, validate=SHORT_TEXT)
    community = fields.String(load_default=None, validate=SHORT_TEXT)


class ItemInput(StrictSchema):
    side = side()
    title = text(200)
    target = text(500)
    due_date = fields.Date(required=True)


class Period(StrictSchema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    report_from = fields.Date(required=True)
    """The reporting window (双述): reports are accepted from this day ..."""
    report_until = fields.Date(required=True)
    """... to this one, inclusive."""
    items = fields.List(
        fields.Nested(ItemInput), required=True, validate=validate.Length(min=2, max=100)
    )


class DraftPledge(Period):
    unit_id = fields.String(required=True, validate=ID)
    year = year()


class AmendPledge(Period):
    pledge_id = pledge_id()
    reason = text(500)


class SignPledge(StrictSchema):
    pledge_id = pledge_id()
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    side = side()
    representative = text()


class ReportItem(StrictSchema):
    pledge_id = pledge_id()
    item_id = fields.String(required=True, validate=validate.Length(min=1, max=24))
    side = side()
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    evidence = text(5000)
    links = fields.List(
        fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500)),
        load_default=list,
        validate=validate.Length(max=20),
    )


class PledgeRef(StrictSchema):
    pledge_id = pledge_id()


class ListPledges(StrictSchema):
    district = fields.String(load_default=None, validate=SHORT_TEXT)
    year = fields.Integer(load_default=None, strict=True, validate=YEAR)
    community = fields.String(load_default=None, validate=SHORT_TEXT)
    unit_id = fields.String(load_default=None, validate=ID)
    status = fields.String(load_default=None, validate=validate.OneOf(PLEDGE_STATUSES))


class StartEvaluation(StrictSchema):
    pledge_id = pledge_id()
    street = text()
    starts_at = fields.DateTime(required=True, format="iso")
    place = text()
    expected_participants = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=100_000)
    )
    actor = actor_field()
    """Who starts it: the ballot meeting is scheduled in their name."""


class RerunEvaluation(StartEvaluation):
    """A new meeting for a pledge whose evaluation meeting was voided."""


class ListOverdue(StrictSchema):
    district = fields.String(load_default=None, validate=SHORT_TEXT)
    community = fields.String(load_default=None, validate=SHORT_TEXT)


class Export(StrictSchema):
    district = text()
    year = year()
    format = fields.String(required=True, validate=validate.OneOf(["csv", "xlsx"]))
