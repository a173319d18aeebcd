"""The facts notify owns, recorded in its own log: subscriptions, contacts, announcements.

Announcements are public (the 公示 board is published to everyone); subscriptions and
contacts name other systems' endpoints and people's addresses, so they stay inside.
Webhook secrets are not facts and never enter the log (see `WebhookSecrets`).

Every fact of a district names it (`district`); events recorded before districts were
tenants are read through `upcasters` with `district: None`, which is no district's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from qunping.core.roles import recorded_actor_field
from qunping.core.schemas import Pattern, PayloadSchemas, StrictSchema
from qunping.core.tamper import register_tamper_events
from qunping.core.upcasting import Upcasters

payloads = register_tamper_events(PayloadSchemas())
"""Also the alert and the signed checkpoints every log that owns facts carries."""
upcasters = Upcasters()

ID = Pattern(r"^[A-Za-z0-9_.:-]{1,64}$", error="must be 1-64 letters, digits, _.:-")
TOPIC_PATTERN = Pattern(
    r"^(#|\*|[a-z][a-z0-9_]*)(\.(#|\*|[A-Z][A-Za-z0-9]*))?$",
    error="must be a routing-key pattern like `ballot.MeetingClosed`, `ballot.*` or `#`",
)
COMMUNITY = validate.Length(min=1, max=100)
"""A community as the ballot and tally logs name it (`光明社区`)."""
DISTRICT = validate.Length(min=1, max=100)
"""A district (a tenant) as the gateway's accounts name it (`吉州区`)."""
ANNOUNCEMENT_KINDS = ("results", "meeting", "notice")
STAFF_ANNOUNCEMENT_KINDS = ("meeting", "notice")
"""What staff may announce. Results are announced only by the tally's own publication
(`tally.ResultsPublished`); a `results` announcement is in old logs only."""


def district_field() -> fields.String:
    """The district an event belongs to: None only on events recorded before districts."""
    return fields.String(required=True, allow_none=True, validate=DISTRICT)


def _of_no_district(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "district": None}


@payloads.register("WebhookSubscribed")
class WebhookSubscribedV1(StrictSchema):
    subscription_id = fields.String(required=True, validate=ID)
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(
        fields.String(validate=TOPIC_PATTERN),
        required=True,
        validate=validate.Length(min=1, max=50),
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))


@payloads.register("WebhookSubscribed", 2)
class WebhookSubscribed(WebhookSubscribedV1):
    """A district's subscription: it receives its district's events and deployment-wide ones."""

    district = district_field()


@payloads.register("WebhookUnsubscribed")
class WebhookUnsubscribed(StrictSchema):
    subscription_id = fields.String(required=True, validate=ID)


@payloads.register("CommunityContactsSet")
class CommunityContactsSetV1(StrictSchema):
    community = fields.String(required=True, validate=COMMUNITY)
    emails = fields.List(fields.Email(), required=True, validate=validate.Length(max=50))


@payloads.register("CommunityContactsSet", 2)
class CommunityContactsSet(CommunityContactsSetV1):
    """Who receives the e-mails of one district's community (another's 光明社区 is not it)."""

    district = district_field()


@payloads.register("DistrictContactsSet")
class DistrictContactsSet(StrictSchema):
    """Who receives a district's alert e-mails (and the deployment-wide ones)."""

    district = fields.String(required=True, validate=DISTRICT)
    emails = fields.List(fields.Email(), required=True, validate=validate.Length(max=50))


@payloads.register("AnnouncementPublished", public=True)
class AnnouncementPublishedV1(StrictSchema):
    """A public notice on the board: results 公示, a meeting time, any other notice."""

    announcement_id = fields.String(required=True, validate=ID)
    community = fields.String(required=True, validate=COMMUNITY)
    kind = fields.String(required=True, validate=validate.OneOf(ANNOUNCEMENT_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


@payloads.register("AnnouncementPublished", 2, public=True)
class AnnouncementPublishedV2(AnnouncementPublishedV1):
    """A notice on the board, with the account that published it (`actor`)."""

    actor = recorded_actor_field()


@payloads.register("AnnouncementPublished", 3, public=True)
class AnnouncementPublished(AnnouncementPublishedV2):
    """A notice on the board of one district's community (`district`; None: published
    before districts were tenants)."""

    district = district_field()


@payloads.register("AnnouncementWithdrawn", public=True)
class AnnouncementWithdrawnV1(StrictSchema):
    """A notice taken off the board; the original stays in the log."""

    announcement_id = fields.String(required=True, validate=ID)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


@payloads.register("AnnouncementWithdrawn", 2, public=True)
class AnnouncementWithdrawnV2(AnnouncementWithdrawnV1):
    """A notice taken off the board, with the account that withdrew it."""

    actor = recorded_actor_field()


@payloads.register("AnnouncementWithdrawn", 3, public=True)
class AnnouncementWithdrawn(AnnouncementWithdrawnV2):
    """A notice of one district taken off the board by an account of that district."""

    district = district_field()


def _with_no_actor(data: Mapping[str, Any]) -> dict[str, Any]:
    return {**data, "actor": None}


for _event_type in ("AnnouncementPublished", "AnnouncementWithdrawn"):
    upcasters.register(_event_type, 1)(_with_no_actor)
    upcasters.register(_event_type, 2)(_of_no_district)
for _event_type in ("WebhookSubscribed", "CommunityContactsSet"):
    upcasters.register(_event_type, 1)(_of_no_district)
