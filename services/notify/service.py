"""notify: webhook subscriptions, e-mail notices and the announcement board (公示).

Entrypoints only validate, decide, append and return; delivery runs in `NotifierDependency`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from nameko import rpc as nameko_rpc

from qunping.core.dependencies import EventLogDependency, SignsCheckpoints
from qunping.core.envelope import NewEvent
from qunping.core.errors import NotFound, Refused
from qunping.core.eventlog import ANY_VERSION, NO_STREAM, EventLog
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import load
from qunping.core.tamper import TamperDetected, TamperDetectedSchema
from services.notify import schemas
from services.notify.dependencies import Notifier, NotifierDependency
from services.notify.events import payloads

Method = TypeVar("Method", bound=Callable[..., Any])
rpc = cast(Callable[[Method], Method], nameko_rpc.rpc)
"""nameko's `rpc`, typed: it returns the method it decorates."""


def contacts_stream(community: str) -> str:
    """Community names are Chinese text; stream names are ASCII, so the name is hashed."""
    return f"contacts-{hashlib.sha256(community.encode()).hexdigest()[:32]}"


class NotifyService(HealthEndpoints, SignsCheckpoints):
    name = "notify"
    log: EventLog = EventLogDependency(payloads)
    notifier: Notifier = NotifierDependency()

    # -- webhooks --------------------------------------------------------------------

    @rpc
    def subscribe_webhook(self, payload: Any) -> dict[str, Any]:
        """Deliver public events matching `event_types` to `url`, signed with `secret`."""
        command = load(schemas.SubscribeWebhook(), payload)
        self.notifier.dispatcher.admit(command["url"])
        subscription_id = uuid.uuid4().hex
        self.notifier.outbox.store_secret(subscription_id, command.pop("secret"))
        self.log.append(
            f"subscription-{subscription_id}",
            [NewEvent("WebhookSubscribed", {"subscription_id": subscription_id, **command})],
            NO_STREAM,
        )
        return {"subscription_id": subscription_id}

    @rpc
    def unsubscribe_webhook(self, payload: Any) -> None:
        subscription_id = load(schemas.SubscriptionRef(), payload)["subscription_id"]
        if subscription_id not in self.notifier.view.current().subscriptions:
            raise NotFound(f"subscription {subscription_id}")
        self.log.append(
            f"subscription-{subscription_id}",
            [NewEvent("WebhookUnsubscribed", {"subscription_id": subscription_id})],
            1,
        )

    @rpc
    def webhook_subscriptions(self) -> list[dict[str, Any]]:
        """Every live subscription (never its secret)."""
        subscriptions = self.notifier.view.current().subscriptions.values()
        return [subscription.as_dict() for subscription in subscriptions]

    @rpc
    def webhook_deliveries(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.DeliveryQuery(), payload)
        return self.notifier.outbox.list_deliveries(
            query.get("subscription_id"), query.get("status"), query["limit"]
        )

    @rpc
    def webhook_attempts(self, payload: Any) -> list[dict[str, Any]]:
        """Every attempt, oldest first: when, how long, status code or error, outcome."""
        query = load(schemas.AttemptQuery(), payload)
        return self.notifier.outbox.list_attempts(
            query.get("subscription_id"), query.get("delivery_id"), query["limit"]
        )

    @rpc
    def dead_letters(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.DeliveryQuery(), payload)
        if query.get("status") not in (None, "dead"):
            raise Refused("dead letters are the deliveries with status dead")
        return self.notifier.outbox.list_deliveries(
            query.get("subscription_id"), "dead", query["limit"]
        )

    @rpc
    def redeliver(self, payload: Any) -> None:
        """Put a dead letter back in its subscription's queue (ordered by arrival)."""
        delivery_id = load(schemas.DeliveryRef(), payload)["delivery_id"]
        self.notifier.outbox.redeliver(delivery_id)
        self.notifier.dispatcher.wake.set()

    # -- e-mail ----------------------------------------------------------------------

    @rpc
    def set_community_contacts(self, payload: Any) -> None:
        """Who receives a community's e-mails (results published, meeting notices)."""
        command = load(schemas.SetCommunityContacts(), payload)
        self.log.append(
            contacts_stream(command["community"]),
            [NewEvent("CommunityContactsSet", command)],
            ANY_VERSION,
        )

    @rpc
    def emails(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.EmailQuery(), payload)
        return self.notifier.outbox.list_emails(query.get("status"), query["limit"])

    # -- alerts ----------------------------------------------------------------------

    @rpc
    def report_tampering(self, payload: Any) -> None:
        """Raise the public `TamperDetected` alert for a finding of a reader without a log
        of its own (the audit's scheduled verification); e-mailed to the district. The same
        finding reported again (every hour, say) is recorded once."""
        finding = load(TamperDetectedSchema(), payload)
        detected_by = finding.pop("detected_by")
        self.log.append(f"alert-{finding['log']}", [TamperDetected(**finding).alert(detected_by)])

    # -- the announcement board ------------------------------------------------------

    @rpc
    def publish_announcement(self, payload: Any) -> dict[str, Any]:
        command = load(schemas.PublishAnnouncement(), payload)
        command.setdefault("announcement_id", uuid.uuid4().hex)
        [event] = self.log.append(
            f"announcement-{command['announcement_id']}",
            [NewEvent("AnnouncementPublished", command, schema_version=2)],
            NO_STREAM,
        )
        return {"announcement_id": command["announcement_id"], "position": event.position}

    @rpc
    def withdraw_announcement(self, payload: Any) -> None:
        command = load(schemas.WithdrawAnnouncement(), payload)
        notice = self.notifier.view.current().announcements.get(command["announcement_id"])
        if notice is None:
            raise NotFound(f"announcement {command['announcement_id']}")
        if notice["withdrawn"] is not None:
            raise Refused(f"announcement {command['announcement_id']} is already withdrawn")
        self.log.append(
            f"announcement-{command['announcement_id']}",
            [NewEvent("AnnouncementWithdrawn", command, schema_version=2)],
            1,
        )

    @rpc
    def announcements(self, payload: Any) -> list[dict[str, Any]]:
        """The board, newest first: what the gateway shows."""
        query = load(schemas.BoardQuery(), payload)
        return self.notifier.view.current().board(
            query.get("community"), query["include_withdrawn"]
        )

    # -- the public contract ---------------------------------------------------------

    @rpc
    def public_feed(self, payload: Any) -> dict[str, Any]:
        """notify's public events after a position, paged (see `qunping.core.feed`)."""
        return public_feed(self.log, payloads, payload)
