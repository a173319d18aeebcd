"""What notify's own log says now: subscriptions, contacts and the announcement board.

A pure fold over the log's events, so it can be rebuilt from position 0 at any time and
tested without servers; `NotifyState.apply` takes one recorded event, in any schema
version (old ones are upcast: what was recorded before districts belongs to none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qunping.core.envelope import RecordedEvent, format_time
from services.notify.districts import EVERY_DISTRICT, Concern, Reach, reaches
from services.notify.email import Recipients
from services.notify.events import upcasters
from services.notify.topics import topic_matches


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    district: str | None

    def wants(self, routing_key: str, concern: Concern) -> bool:
        return reaches(self.district, concern) and any(
            topic_matches(pattern, routing_key) for pattern in self.event_types
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "url": self.url,
            "event_types": list(self.event_types),
            "description": self.description,
            "district": self.district,
        }


@dataclass(slots=True)
class NotifyState:
    position: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    contacts: dict[tuple[str | None, str], list[str]] = field(default_factory=dict)
    """Per (district, community): two districts' 光明社区 are two communities."""
    district_contacts: dict[str, list[str]] = field(default_factory=dict)
    """Per district: who receives its alerts."""
    announcements: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every announcement ever published, withdrawn ones included (they say so)."""

    def apply(self, event: RecordedEvent) -> None:
        event = upcasters.upcast(event)
        data = event.data
        match event.type:
            case "WebhookSubscribed":
                self.subscriptions[data["subscription_id"]] = Subscription(
                    data["subscription_id"],
                    data["url"],
                    tuple(data["event_types"]),
                    data.get("description", ""),
                    data["district"],
                )
            case "WebhookUnsubscribed":
                self.subscriptions.pop(data["subscription_id"], None)
            case "CommunityContactsSet":
                self.contacts[(data["district"], data["community"])] = list(data["emails"])
            case "DistrictContactsSet":
                self.district_contacts[data["district"]] = list(data["emails"])
            case "AnnouncementPublished":
                self.announcements[data["announcement_id"]] = {
                    **data,
                    "published_at": format_time(event.recorded_at),
                    "position": event.position,
                    "withdrawn": None,
                }
            case "AnnouncementWithdrawn":
                self.announcements[data["announcement_id"]]["withdrawn"] = {
                    "reason": data["reason"],
                    "actor": data["actor"],
                    "at": format_time(event.recorded_at),
                }
        self.position = event.position

    def subscribers_of(self, routing_key: str, concern: Concern) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.wants(routing_key, concern)]

    def subscriptions_of(self, district: str | None) -> list[Subscription]:
        """A district's subscriptions; None: every one (the operator's view)."""
        return [
            s for s in self.subscriptions.values() if district is None or s.district == district
        ]

    def mail_to(
        self, recipients: Recipients, concern: Concern, community: str, platform: tuple[str, ...]
    ) -> list[tuple[str | None, list[str]]]:
        """Who is mailed about an event of `concern`: one (district, addresses) per e-mail,
        so no district sees another's addresses; district None: the platform operators.

        A community's contacts are those of the event's district's community. A district's
        alert goes to its alert addresses; a deployment-wide one to every district's and
        the platform's; one whose district is not known to the platform's only, so that no
        alert is lost and none reaches a district it may not concern."""
        if recipients == "community_contacts":
            if isinstance(concern, Reach):
                return []
            return [(concern, self.contacts.get((concern, community), []))]
        if concern is EVERY_DISTRICT:
            return [(None, list(platform)), *sorted(self.district_contacts.items())]
        if isinstance(concern, Reach):
            return [(None, list(platform))]
        return [(concern, self.district_contacts.get(concern, []))]

    def board(
        self, district: str | None, community: str | None, include_withdrawn: bool
    ) -> list[dict[str, Any]]:
        """Announcements, newest first: a district's (None: every district's), a
        community's within it."""
        return sorted(
            (
                notice
                for notice in self.announcements.values()
                if (district is None or notice["district"] == district)
                and (community is None or notice["community"] == community)
                and (include_withdrawn or notice["withdrawn"] is None)
            ),
            key=lambda notice: -int(notice["position"]),
        )
