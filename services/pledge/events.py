"""Every event the pledge log records, with its schema. Public ones are the outside contract.

Streams: `unit-{id}` (a resident unit's registration), `pledge-{id}` (every version of a
letter, signatures, reports, overdue items, evaluations) and `evalcampaign-{district}-{year}`
(the ballot campaign that holds a district's pledge evaluations of a year).
"""

from __future__ import annotations

from marshmallow import fields, validate

from qunping.core.schemas import Pattern, PayloadSchemas, StrictSchema
from qunping.core.tamper import register_tamper_events
from services.pledge.domain import SIDES, STATUSES

payloads = register_tamper_events(PayloadSchemas())
"""Also the alert and the signed checkpoints every log that owns facts carries."""

ID = Pattern(r"^[0-9a-f]{16}$")
SHORT_TEXT = validate.Length(min=1, max=100)
ITEM_ID = Pattern(r"^(community|unit)-\d{1,2}$")


def identifier() -> fields.String:
    return fields.String(required=True, validate=ID)


def text(maximum: int = 100) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=maximum))


def side() -> fields.String:
    return fields.String(required=True, validate=validate.OneOf(SIDES))


class ContactSchema(StrictSchema):
    person = text()
    phone = fields.String(required=True, validate=Pattern(r"^[0-9+() -]{3,30}$"))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=200))


class Parties(StrictSchema):
    """Who a pledge is between, repeated in its public events so subscribers need no lookup."""

    pledge_id = identifier()
    district = text()
    year = fields.Integer(required=True, strict=True)
    community = text()
    unit_id = identifier()
    unit = text()


@payloads.register("UnitRegistered", public=True)
class UnitRegistered(StrictSchema):
    unit_id = identifier()
    district = text()
    community = text()
    name = text()
    kind = text(40)
    contact = fields.Nested(ContactSchema, required=True)


class ItemSchema(StrictSchema):
    item_id = fields.String(required=True, validate=ITEM_ID)
    side = side()
    title = text(200)
    target = text(500)
    """How fulfilment is measured (承诺目标), e.g. 每季度开放操场 12 次."""
    due_date = fields.Date(required=True)


class Letter(Parties):
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    report_from = fields.Date(required=True)
    report_until = fields.Date(required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True)


@payloads.register("PledgeDrafted", public=True)
class PledgeDrafted(Letter):
    """Version 1 of a pledge letter (承诺书), awaiting both sides' signatures."""


@payloads.register("PledgeAmended", public=True)
class PledgeAmended(Letter):
    """A new version of the letter; the earlier ones stay in the log, and the one in force
    stays in force until both sides have signed this one."""

    reason = text(500)


@payloads.register("PledgeSigned", public=True)
class PledgeSigned(StrictSchema):
    pledge_id = identifier()
    version = fields.Integer(required=True, strict=True)
    side = side()
    representative = text()


@payloads.register("PledgeInForce", public=True)
class PledgeInForce(Parties):
    """Both sides have signed this version."""

    version = fields.Integer(required=True, strict=True)


class ReportSchema(StrictSchema):
    pledge_id = identifier()
    item_id = fields.String(required=True, validate=ITEM_ID)
    side = side()
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    evidence = text(5000)
    links = fields.List(fields.Url(), required=True)


@payloads.register("ItemReported", public=True)
class ItemReported(ReportSchema):
    """A side's fulfilment report (述诺) on one of its items."""


@payloads.register("ItemReportCorrected", public=True)
class ItemReportCorrected(ReportSchema):
    """A report replaced; the first one stays in the log."""


@payloads.register("ItemOverdue", public=True)
class ItemOverdue(Parties):
    """An item past its due date without a report; raised once per item."""

    item_id = fields.String(required=True, validate=ITEM_ID)
    side = side()
    item_title = text(200)
    due_date = fields.Date(required=True)


@payloads.register("EvaluationCampaignCreated")
class EvaluationCampaignCreated(StrictSchema):
    """The ballot campaign holding a district's pledge evaluations of a year."""

    district = text()
    year = fields.Integer(required=True, strict=True)
    campaign_id = identifier()


@payloads.register("EvaluationStarted", public=True)
class EvaluationStarted(Parties):
    """A ballot meeting rates both sides (评诺); recorded before anyone can use the meeting."""

    meeting_id = identifier()
    campaign_id = identifier()
    rerun_of = fields.String(required=True, allow_none=True, validate=ID)


class RateSchema(StrictSchema):
    favourable = fields.Integer(required=True, strict=True)
    valid = fields.Integer(required=True, strict=True)
    percent = fields.String(required=True, allow_none=True)


class SideResult(StrictSchema):
    subject_id = text(24)
    headline = text(24)
    satisfaction = fields.Nested(RateSchema, required=True)
    strict = fields.Nested(RateSchema, required=True, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(strict=True), required=True)


class SidesSchema(StrictSchema):
    community = fields.Nested(SideResult, required=True)
    unit = fields.Nested(SideResult, required=True)


@payloads.register("EvaluationRecorded", public=True)
class EvaluationRecorded(Parties):
    """Each side's result, as the tally published it at the meeting's close."""

    meeting_id = identifier()
    sides = fields.Nested(SidesSchema, required=True)
