"""The commands and queries notify accepts over RPC; unknown fields are refused.

Every command names the district it acts for (the gateway fills in the caller's); a query
that names one sees only that district's, one that names none (an operator's, over RPC)
sees every district's.
"""

from __future__ import annotations

from marshmallow import fields, validate

from qunping.core.roles import actor_field
from qunping.core.schemas import StrictSchema
from services.notify.domain import DEAD, DELIVERED, PENDING, SENT
from services.notify.events import (
    COMMUNITY,
    DISTRICT,
    ID,
    STAFF_ANNOUNCEMENT_KINDS,
    TOPIC_PATTERN,
)


def acting_district() -> fields.String:
    """The district a command acts for: required."""
    return fields.String(required=True, validate=DISTRICT)


def seen_district() -> fields.String:
    """The district whose things a query sees; absent: every district's."""
    return fields.String(validate=DISTRICT)


class SubscribeWebhook(StrictSchema):
    district = acting_district()
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(
        fields.String(validate=TOPIC_PATTERN), required=True, validate=validate.Length(1, 50)
    )
    secret = fields.String(required=True, validate=validate.Length(min=16, max=256))
    description = fields.String(load_default="", validate=validate.Length(max=200))


class SubscriptionRef(StrictSchema):
    subscription_id = fields.String(required=True, validate=ID)
    district = acting_district()


class SubscriptionQuery(StrictSchema):
    district = seen_district()


class DeliveryQuery(StrictSchema):
    district = seen_district()
    subscription_id = fields.String(validate=ID)
    status = fields.String(validate=validate.OneOf([PENDING, DELIVERED, DEAD]))
    limit = fields.Integer(load_default=100, strict=True, validate=validate.Range(1, 1000))


class AttemptQuery(StrictSchema):
    district = seen_district()
    subscription_id = fields.String(validate=ID)
    delivery_id = fields.String(validate=ID)
    limit = fields.Integer(load_default=100, strict=True, validate=validate.Range(1, 1000))


class DeliveryRef(StrictSchema):
    delivery_id = fields.String(required=True, validate=ID)
    district = acting_district()


class SetCommunityContacts(StrictSchema):
    district = acting_district()
    community = fields.String(required=True, validate=COMMUNITY)
    emails = fields.List(fields.Email(), required=True, validate=validate.Length(max=50))


class SetDistrictContacts(StrictSchema):
    district = acting_district()
    emails = fields.List(fields.Email(), required=True, validate=validate.Length(max=50))


class PublishAnnouncement(StrictSchema):
    announcement_id = fields.String(validate=ID)
    district = acting_district()
    community = fields.String(required=True, validate=COMMUNITY)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            STAFF_ANNOUNCEMENT_KINDS,
            error="rule 6, results announcements: staff announce a meeting or a notice; "
            "results are announced only by the tally's own publication",
        ),
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    actor = actor_field()


class WithdrawAnnouncement(StrictSchema):
    announcement_id = fields.String(required=True, validate=ID)
    district = acting_district()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    actor = actor_field()


class BoardQuery(StrictSchema):
    district = seen_district()
    community = fields.String(validate=COMMUNITY)
    include_withdrawn = fields.Boolean(load_default=False)


class EmailQuery(StrictSchema):
    district = seen_district()
    status = fields.String(validate=validate.OneOf([PENDING, SENT, DEAD]))
    limit = fields.Integer(load_default=100, strict=True, validate=validate.Range(1, 1000))
