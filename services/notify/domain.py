"""The rules of notify's own facts: pure, no I/O.

`NotifyState` is what notify's log says now: subscriptions, contacts and the announcement
board, a fold over the log's events that can be rebuilt from position 0 at any time
(`apply` takes one recorded event in any schema version: what was recorded before
districts belongs to none). A command is decided against it: the decision is the events to
append to one stream and the version that stream must still be at (a `StreamWrite`), or a
refusal with the reason. A command acts for one district: another district's subscription
or announcement is answered as if there were none.

Which district a public event of another service concerns is the rule of
`services.notify.districts`; who receives it is decided here (`subscribers_of`, `mail_to`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qunping.core.envelope import NewEvent, RecordedEvent, format_time
from qunping.core.errors import NotFound, Refused
from qunping.core.eventlog import ANY_VERSION, NO_STREAM, StreamWrite
from qunping.core.tamper import TamperDetected
from services.notify.districts import EVERY_DISTRICT, Concern, Reach, reaches
from services.notify.email import Recipients
from services.notify.events import upcasters
from services.notify.topics import topic_matches

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SENT = "sent"
"""A webhook delivery is pending until delivered or, after its last attempt, dead (a dead
letter); an e-mail is pending until sent or dead."""


def dead_letter_status(asked: str | None) -> str:
    """The status a query for dead letters lists: dead, and it may ask for no other."""
    if asked not in (None, DEAD):
        raise Refused("dead letters are the deliveries with status dead")
    return DEAD


def new_id() -> str:
    return uuid.uuid4().hex


def _hashed(*names: str) -> str:
    """Districts and communities are named in Chinese; stream names are ASCII."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]


def subscription_stream(subscription_id: str) -> str:
    return f"subscription-{subscription_id}"


def announcement_stream(announcement_id: str) -> str:
    return f"announcement-{announcement_id}"


def contacts_stream(district: str, community: str) -> str:
    """One stream per community of a district: two districts' 光明社区 are two."""
    return f"contacts-{_hashed(district, community)}"


def district_contacts_stream(district: str) -> str:
    return f"district-contacts-{_hashed(district)}"


def alert_stream(log: str) -> str:
    return f"alert-{log}"


# -- decisions that need nothing the log holds ------------------------------------


def subscribe(subscription_id: str, subscription: Mapping[str, Any]) -> StreamWrite:
    """A new subscription (its secret is not a fact and is not in `subscription`)."""
    return StreamWrite(
        subscription_stream(subscription_id),
        [
            NewEvent(
                "WebhookSubscribed",
                {"subscription_id": subscription_id, **subscription},
                schema_version=2,
            )
        ],
        NO_STREAM,
    )


def set_community_contacts(command: Mapping[str, Any]) -> StreamWrite:
    """Contacts are replaced whole and the last set wins, whatever was set before it."""
    return StreamWrite(
        contacts_stream(command["district"], command["community"]),
        [NewEvent("CommunityContactsSet", dict(command), schema_version=2)],
        ANY_VERSION,
    )


def set_district_contacts(command: Mapping[str, Any]) -> StreamWrite:
    """A district's alert addresses: replaced whole, the last set wins."""
    return StreamWrite(
        district_contacts_stream(command["district"]),
        [NewEvent("DistrictContactsSet", dict(command))],
        ANY_VERSION,
    )


def publish_announcement(command: Mapping[str, Any]) -> StreamWrite:
    """A new notice on the board, under the id the caller chose or a new one: an id already
    published is refused by its stream, which must not exist yet."""
    announcement = {**command, "announcement_id": command.get("announcement_id") or new_id()}
    return StreamWrite(
        announcement_stream(announcement["announcement_id"]),
        [NewEvent("AnnouncementPublished", announcement, schema_version=3)],
        NO_STREAM,
    )


def tamper_alert(finding: Mapping[str, Any]) -> StreamWrite:
    """The public alert for a finding of a reader without a log of its own. The same
    finding by the same reader is the same event, so reported again (every hour, say) it
    is recorded once: no version to keep."""
    found = dict(finding)
    detected_by = found.pop("detected_by")
    return StreamWrite(
        alert_stream(found["log"]), [TamperDetected(**found).alert(detected_by)], ANY_VERSION
    )


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
    versions: dict[str, int] = field(default_factory=dict)
    """Each stream's version as folded: what a decision on it expects it still to be."""

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
        self.versions[event.stream] = event.version
        self.position = event.position

    # -- decisions on what the log holds ---------------------------------------------

    def unsubscribe(self, command: Mapping[str, Any]) -> StreamWrite:
        """End a subscription of the command's district."""
        subscription_id = command["subscription_id"]
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription.district != command["district"]:
            raise NotFound(f"subscription {subscription_id}")
        stream = subscription_stream(subscription_id)
        return StreamWrite(
            stream,
            [NewEvent("WebhookUnsubscribed", {"subscription_id": subscription_id})],
            self.versions[stream],
        )

    def withdraw_announcement(self, command: Mapping[str, Any]) -> StreamWrite:
        """Take a notice of the command's district off the board, once."""
        announcement_id = command["announcement_id"]
        notice = self.announcements.get(announcement_id)
        if notice is None or notice["district"] != command["district"]:
            raise NotFound(f"announcement {announcement_id}")
        if notice["withdrawn"] is not None:
            raise Refused(f"announcement {announcement_id} is already withdrawn")
        stream = announcement_stream(announcement_id)
        return StreamWrite(
            stream,
            [NewEvent("AnnouncementWithdrawn", dict(command), schema_version=3)],
            self.versions[stream],
        )

    # -- who receives what, and what the board shows ---------------------------------

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
