"""notify: webhook subscriptions, e-mail notices and the announcement board (公示).

Entrypoints only validate, load, decide, append and return: the rules are in `domain`, the
state they decide on is read through `view`, and delivery runs in `NotifierDependency`. Each
decision names the one stream it appends to and the version that stream must still be at.
Every command acts for one district and reaches only that district's subscriptions,
deliveries, contacts and announcements: another district's are answered as if there were
none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from nameko import rpc as nameko_rpc

from qunping.core.dependencies import EventLogDependency, SignsCheckpoints
from qunping.core.eventlog import EventLog
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import load
from qunping.core.tamper import TamperDetectedSchema
from services.notify import domain, schemas
from services.notify.dependencies import Notifier, NotifierDependency
from services.notify.events import payloads

Method = TypeVar("Method", bound=Callable[..., Any])
rpc = cast(Callable[[Method], Method], nameko_rpc.rpc)
"""nameko's `rpc`, typed: it returns the method it decorates."""


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
        subscription_id = domain.new_id()
        self.notifier.outbox.store_secret(subscription_id, command.pop("secret"))
        self.log.append_batch([domain.subscribe(subscription_id, command)])
        return {"subscription_id": subscription_id}

    @rpc
    def unsubscribe_webhook(self, payload: Any) -> None:
        command = load(schemas.SubscriptionRef(), payload)
        self.log.append_batch([self.notifier.view.current().unsubscribe(command)])

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
        return self.notifier.outbox.list_deliveries(
            query.get("district"),
            query.get("subscription_id"),
            domain.dead_letter_status(query.get("status")),
            query["limit"],
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
        self.log.append_batch([domain.set_community_contacts(command)])

    @rpc
    def set_district_contacts(self, payload: Any) -> None:
        """Who receives the district's alerts (and the deployment-wide ones)."""
        command = load(schemas.SetDistrictContacts(), payload)
        self.log.append_batch([domain.set_district_contacts(command)])

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
        self.log.append_batch([domain.tamper_alert(finding)])

    # -- the announcement board ------------------------------------------------------

    @rpc
    def publish_announcement(self, payload: Any) -> dict[str, Any]:
        command = load(schemas.PublishAnnouncement(), payload)
        [published] = self.log.append_batch([domain.publish_announcement(command)])
        return {
            "announcement_id": published.data["announcement_id"],
            "position": published.position,
        }

    @rpc
    def withdraw_announcement(self, payload: Any) -> None:
        command = load(schemas.WithdrawAnnouncement(), payload)
        self.log.append_batch([self.notifier.view.current().withdraw_announcement(command)])

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
