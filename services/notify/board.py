"""What notify's own log says now: subscriptions, contacts and the announcement board.

A pure fold over the log's events, so it can be rebuilt from position 0 at any time and
tested without servers; `NotifyState.apply` takes one recorded event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qunping.core.envelope import RecordedEvent, format_time
from services.notify.topics import topic_matches


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str
    event_types: tuple[str, ...]
    description: str

    def wants(self, routing_key: str) -> bool:
        return any(topic_matches(pattern, routing_key) for pattern in self.event_types)

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "url": self.url,
            "event_types": list(self.event_types),
            "description": self.description,
        }


@dataclass(slots=True)
class NotifyState:
    position: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    contacts: dict[str, list[str]] = field(default_factory=dict)
    announcements: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every announcement ever published, withdrawn ones included (they say so)."""

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        match event.type:
            case "WebhookSubscribed":
                self.subscriptions[data["subscription_id"]] = Subscription(
                    data["subscription_id"],
                    data["url"],
                    tuple(data["event_types"]),
                    data.get("description", ""),
                )
            case "WebhookUnsubscribed":
                self.subscriptions.pop(data["subscription_id"], None)
            case "CommunityContactsSet":
                self.contacts[data["community"]] = list(data["emails"])
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
                    "actor": data.get("actor"),
                    "at": format_time(event.recorded_at),
                }
        self.position = event.position

    def subscribers_of(self, routing_key: str) -> list[Subscription]:
        return [s for s in self.subscriptions.values() if s.wants(routing_key)]

    def board(self, community: str | None, include_withdrawn: bool) -> list[dict[str, Any]]:
        """Announcements, newest first."""
        return sorted(
            (
                notice
                for notice in self.announcements.values()
                if (community is None or notice["community"] == community)
                and (include_withdrawn or notice["withdrawn"] is None)
            ),
            key=lambda notice: -int(notice["position"]),
        )
