"""notify: webhook subscriptions, e-mail notices and the announcement board (公示).

Entrypoints only validate, decide, append and return; delivery runs in `NotifierDependency`.
Every command acts for one district and reaches only that district's subscriptions,
deliveries, contacts and announcements: another district's are answered as if there were
none.
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
from services.notify.outbox import DEAD

Method = TypeVar("Method", bound=Callable[..., Any])
rpc = cast(Callable[[Method], Method], nameko_rpc.rpc)
"""nameko's `rpc`, typed: it returns the method it decorates."""


def _hashed(*names: str) -> str:
    """Districts and communities are named in Chinese; stream names are ASCII."""
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]


def contacts_stream(district: str, community: str) -> str:
    """One stream per community of a district: two districts' 光明社区 are two."""
    return f"contacts-{_hashed(district, community)}"


def district_contacts_stream(district: str) -> str:
    return f"district-contacts-{_hashed(district)}"


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
            [
                NewEvent(
                    "WebhookSubscribed",
                    {"subscription_id": subscription_id, **command},
                    schema_version=2,
                )
            ],
            NO_STREAM,
        )
        return {"subscription_id": subscription_id}

    @rpc
    def unsubscribe_webhook(self, payload: Any) -> None:
        command = load(schemas.SubscriptionRef(), payload)
        subscription_id = command["subscription_id"]
        subscription = self.notifier.view.current().subscriptions.get(subscription_id)
        if subscription is None or subscription.district != command["district"]:
            raise NotFound(f"subscription {subscription_id}")
        self.log.append(
            f"subscription-{subscription_id}",
            [NewEvent("WebhookUnsubscribed", {"subscription_id": subscription_id})],
            1,
        )

    @rpc
    def webhook_subscriptions(self, payload: Any) -> list[dict[str, Any]]:
        """Every live subscription of the district (never its secret)."""
        district = load(schemas.SubscriptionQuery(), payload).get("district")
        subscriptions = self.notifier.view.current().subscriptions_of(district)
        return [subscription.as_dict() for subscription in subscriptions]

    @rpc
    def webhook_deliveries(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.DeliveryQuery(), payload)
        return self.notifier.outbox.list_deliveries(
            query.get("district"), query.get("subscription_id"), query.get("status"), query["limit"]
        )

    @rpc
    def webhook_attempts(self, payload: Any) -> list[dict[str, Any]]:
        """Every attempt, oldest first: when, how long, status code or error, outcome."""
        query = load(schemas.AttemptQuery(), payload)
        return self.notifier.outbox.list_attempts(
            query.get("district"),
            query.get("subscription_id"),
            query.get("delivery_id"),
            query["limit"],
        )

    @rpc
    def dead_letters(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.DeliveryQuery(), payload)
        if query.get("status") not in (None, "dead"):
            raise Refused("dead letters are the deliveries with status dead")
        return self.notifier.outbox.list_deliveries(
            query.get("district"), query.get("subscription_id"), DEAD, query["limit"]
        )

    @rpc
    def redeliver(self, payload: Any) -> None:
        """Put a dead letter back in its subscription's queue (ordered by arrival)."""
        command = load(schemas.DeliveryRef(), payload)
        self.notifier.outbox.redeliver(command["delivery_id"], command["district"])
        self.notifier.dispatcher.wake.set()

    # -- e-mail ----------------------------------------------------------------------

    @rpc
    def set_community_contacts(self, payload: Any) -> None:
        """Who receives a community's e-mails (results published, meeting notices)."""
        command = load(schemas.SetCommunityContacts(), payload)
        self.log.append(
            contacts_stream(command["district"], command["community"]),
            [NewEvent("CommunityContactsSet", command, schema_version=2)],
            ANY_VERSION,
        )

    @rpc
    def set_district_contacts(self, payload: Any) -> None:
        """Who receives the district's alerts (and the deployment-wide ones)."""
        command = load(schemas.SetDistrictContacts(), payload)
        self.log.append(
            district_contacts_stream(command["district"]),
            [NewEvent("DistrictContactsSet", command)],
            ANY_VERSION,
        )

    @rpc
    def emails(self, payload: Any) -> list[dict[str, Any]]:
        query = load(schemas.EmailQuery(), payload)
        return self.notifier.outbox.list_emails(
            query.get("district"), query.get("status"), query["limit"]
        )

    # -- alerts ----------------------------------------------------------------------

    @rpc
    def report_tampering(self, payload: Any) -> None:
        """Raise the public `TamperDetected` alert for a finding of a reader without a log
        of its own (the audit's scheduled verification); e-mailed to every district and the
        platform's operators. The same
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
            [NewEvent("AnnouncementPublished", command, schema_version=3)],
            NO_STREAM,
        )
        return {"announcement_id": command["announcement_id"], "position": event.position}

    @rpc
    def withdraw_announcement(self, payload: Any) -> None:
        command = load(schemas.WithdrawAnnouncement(), payload)
        notice = self.notifier.view.current().announcements.get(command["announcement_id"])
        if notice is None or notice["district"] != command["district"]:
            raise NotFound(f"announcement {command['announcement_id']}")
        if notice["withdrawn"] is not None:
            raise Refused(f"announcement {command['announcement_id']} is already withdrawn")
        self.log.append(
            f"announcement-{command['announcement_id']}",
            [NewEvent("AnnouncementWithdrawn", command, schema_version=3)],
            1,
        )

    @rpc
    def announcements(self, payload: Any) -> list[dict[str, Any]]:
        """The board, newest first: what the gateway shows."""
        query = load(schemas.BoardQuery(), payload)
        return self.notifier.view.current().board(
            query.get("district"), query.get("community"), query["include_withdrawn"]
        )

    # -- the public contract ---------------------------------------------------------

    @rpc
    def public_feed(self, payload: Any) -> dict[str, Any]:
        """notify's public events after a position, paged (see `qunping.core.feed`)."""
        return public_feed(self.log, payloads, payload)
