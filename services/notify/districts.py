"""Which district a public event concerns: a pure rule over the event and what notify knows.

An event names its district (`district`), or names a thing whose district notify has seen
in an earlier event: a campaign (`ballot.CampaignCreated`), a meeting of a campaign
(`ballot.MeetingScheduled`), a resident unit (`pledge.UnitRegistered`) or a pledge letter
(`pledge.PledgeDrafted`). `places_named_by` says what an event teaches; `concerns` answers
the question. Checkpoints, signing keys and tamper alerts are about a whole log, so about
every district.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Final

CAMPAIGN, MEETING, UNIT, PLEDGE = "campaign", "meeting", "unit", "pledge"

Lookup = Callable[[str, str], str | None]
"""(kind, id) -> what notify recorded for it: a campaign's, unit's or letter's district, a
meeting's campaign; None if it never saw it."""


class Reach(enum.Enum):
    EVERY_DISTRICT = "every district"
    """A fact about a whole log (a checkpoint, a key, a tamper alert)."""
    UNKNOWN = "unknown"
    """The event names no district notify can find: it goes to no district."""


EVERY_DISTRICT: Final = Reach.EVERY_DISTRICT
UNKNOWN: Final = Reach.UNKNOWN
WHOLE_LOG_EVENTS = frozenset({"CheckpointSigned", "SigningKeyAnnounced", "TamperDetected"})

Concern = str | Reach
"""A district's name, or every district, or none found."""


def places_named_by(routing_key: str, data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """What this event says about where things belong: (kind, id, district or campaign)."""
    district = data.get("district")
    match routing_key:
        case "ballot.CampaignCreated":
            return [(CAMPAIGN, data["campaign_id"], district)] if district else []
        case "ballot.MeetingScheduled":
            return [(MEETING, data["meeting_id"], data["campaign_id"])]
        case "pledge.UnitRegistered":
            return [(UNIT, data["unit_id"], district)] if district else []
        case "pledge.PledgeDrafted":
            return [(PLEDGE, data["pledge_id"], district)] if district else []
    return []


def concerns(routing_key: str, data: Mapping[str, Any], lookup: Lookup) -> Concern:
    """The district this event is about (see the module's docstring)."""
    if routing_key.rpartition(".")[2] in WHOLE_LOG_EVENTS:
        return EVERY_DISTRICT
    if isinstance(data.get("district"), str) and data["district"]:
        return str(data["district"])
    campaign_id = data.get("campaign_id")
    if campaign_id is None and data.get("meeting_id") is not None:
        campaign_id = lookup(MEETING, data["meeting_id"])
    found = None if campaign_id is None else lookup(CAMPAIGN, campaign_id)
    for kind, field in ((UNIT, "unit_id"), (PLEDGE, "pledge_id")):
        if found is None and data.get(field) is not None:
            found = lookup(kind, data[field])
    return UNKNOWN if found is None else found


def reaches(subscriber_district: str | None, concern: Concern) -> bool:
    """Whether a subscription of `subscriber_district` receives an event of `concern`.

    A subscription of no district was made before districts were tenants: it keeps
    receiving every event, as it did then (only the operator sees it)."""
    if subscriber_district is None:
        return True
    return concern is EVERY_DISTRICT or concern == subscriber_district
