"""The facts notify owns, recorded in its own log: subscriptions, contacts, announcements.

Announcements are public (the 公示 board is published to everyone); subscriptions and
contacts name other systems' endpoints and people's addresses, so they stay inside.
Webhook secrets are not facts and never enter the log (see `WebhookSecrets`).
"""

from __future__ import annotations

from marshmallow import fields, validate

from qunping.core.schemas import Pattern, PayloadSchemas, StrictSchema
from qunping.core.tamper import register_tamper_events

payloads = register_tamper_events(PayloadSchemas())
"""Also the alert and the signed checkpoints every log that owns facts carries."""

ID = Pattern(r"^[A-Za-z0-9_.:-]{1,64}$", error="must be 1-64 letters, digits, _.:-")
TOPIC_PATTERN = Pattern(
    r"^(#|\*|[a-z][a-z0-9_]*)(\.(#|\*|[A-Z][A-Za-z0-9]*))?$",
    error="must be a routing-key pattern like `ballot.MeetingClosed`, `ballot.*` or `#`",
)
COMMUNITY = validate.Length(min=1, max=100)
"""A community as the ballot and tally logs name it (`光明社区`)."""
ANNOUNCEMENT_KINDS = ("results", "meeting", "notice")


@payloads.register("WebhookSubscribed")
class WebhookSubscribed(StrictSchema):
    subscription_id = fields.String(required=True, validate=ID)
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(
        fields.String(validate=TOPIC_PATTERN),
        required=True,
        validate=validate.Length(min=1, max=50),
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))


@payloads.register("WebhookUnsubscribed")
class WebhookUnsubscribed(StrictSchema):
    subscription_id = fields.String(required=True, validate=ID)


@payloads.register("CommunityContactsSet")
class CommunityContactsSet(StrictSchema):
    community = fields.String(required=True, validate=COMMUNITY)
    emails = fields.List(fields.Email(), required=True, validate=validate.Length(max=50))


@payloads.register("AnnouncementPublished", public=True)
class AnnouncementPublished(StrictSchema):
    """A public notice on the board: results 公示, a meeting time, any other notice."""

    announcement_id = fields.String(required=True, validate=ID)
    community = fields.String(required=True, validate=COMMUNITY)
    kind = fields.String(required=True, validate=validate.OneOf(ANNOUNCEMENT_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


@payloads.register("AnnouncementWithdrawn", public=True)
class AnnouncementWithdrawn(StrictSchema):
    """A notice taken off the board; the original stays in the log."""

    announcement_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
