"""Who acts: the staff roles and the acting account every staff command carries.

The gateway authenticates an account and passes it, as `actor`, with each staff command; the
services record it with the event the command produces, and decide by it where a rule says
who may act (a scrutineer opens voting, a district account voids a meeting). An actor is
never recorded on a ballot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from qunping.core.schemas import StrictSchema

DISTRICT_ADMIN = "district_admin"
ORGANISER = "organiser"
"""Of one community: its own staff, who organise its meetings (the threat model)."""
ASSESSOR = "assessor"
AUDITOR = "auditor"
SCRUTINEER = "scrutineer"
"""监票人: an account of the district or street, never of a community."""
ROLES = (DISTRICT_ADMIN, ORGANISER, ASSESSOR, AUDITOR, SCRUTINEER)
"""The roles of a district's accounts."""
PLATFORM_ADMIN = "platform_admin"
"""Of the platform (a city's or province's deployment), of no district: creates districts and
their first admin, reads the accounts of every district, and does nothing else."""
COMMUNITY_ROLES = frozenset({ORGANISER})
"""The roles whose accounts belong to one community; the others are the district's."""

Actor = Mapping[str, Any]
"""{"username", "role", "community"}: who sent a staff command."""


class ActorSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=40))
    community = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 100))


def actor_field() -> fields.Nested:
    """A command's acting account: required, set by the gateway from the login."""
    return fields.Nested(ActorSchema, required=True)


def recorded_actor_field() -> fields.Nested:
    """An event's acting account: None only on events recorded before actors were."""
    return fields.Nested(ActorSchema, required=True, allow_none=True)


def organiser_of(actor: Actor | None, community: str) -> bool:
    return actor is not None and actor["role"] == ORGANISER and actor["community"] == community


def named(actor: Actor | None) -> str:
    """How a refusal or a page names an actor."""
    return "an unrecorded account" if actor is None else f"{actor['username']} ({actor['role']})"
