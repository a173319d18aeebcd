"""Getting notices out: public events in from RabbitMQ, webhooks and e-mails out.

`PublicEventIntake` reads notify's own durable queue on `qunping.public` one message at a
time, in order, and turns each event into deliveries (one per matching subscription) and
e-mails (one per matching rule), acknowledging only once they are recorded. Duplicates
from the broker change nothing (deliveries are unique per subscription and event id).
Each event goes only to the district it concerns (`services.notify.districts`): its
webhooks, its community's contacts, its alert addresses. An event whose district cannot
be found goes to no district, and is logged.

`Dispatcher` attempts, for each subscription, only its oldest pending delivery, each
subscription in a green thread of its own: a slow or dead receiver holds up its own
queue and nobody else's. Failures wait out the retry schedule; after the last attempt
the delivery is dead-lettered and the subscription's queue moves on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import requests
from kombu.connection import Connection
from kombu.entity import Queue
from kombu.message import Message
from kombu.messaging import Consumer

from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE, public_exchange
from qunping.core.envelope import from_cloudevent, utc_now
from qunping.core.errors import InvalidInput
from qunping.core.fold import IncrementalFold
from qunping.core.metrics import ServiceMetrics
from services.notify.districts import UNKNOWN, concerns, places_named_by
from services.notify.domain import DEAD, DELIVERED, PENDING, SENT, NotifyState
from services.notify.egress import Refused as DestinationRefused
from services.notify.egress import Resolver, pinned_session, system_resolver
from services.notify.email import EMAIL_RULES, TEMPLATES, compose, send
from services.notify.outbox import Outbox
from services.notify.places import Places
from services.notify.settings import NotifySettings
from services.notify.signing import DELIVERY_HEADER, signed_headers

log = logging.getLogger(__name__)

INTAKE_QUEUE = "notify.public"
Spawn = Callable[[Callable[[], None]], None]


class PublicEventIntake:
    def __init__(
        self,
        amqp_uri: str,
        outbox: Outbox,
        places: Places,
        view: IncrementalFold[NotifyState],
        settings: NotifySettings,
    ) -> None:
        self._amqp_uri = amqp_uri
        self._outbox = outbox
        self._places = places
        self._view = view
        self._settings = settings
        # Single active consumer: with several notify replicas one reads at a time, so
        # deliveries are queued in the order the relays published.
        self.queue = Queue(
            INTAKE_QUEUE,
            public_exchange(),
            routing_key="#",
            durable=True,
            queue_arguments={"x-single-active-consumer": True},
        )

    def declare(self) -> None:
        with Connection(self._amqp_uri) as connection:
            self.queue(connection.default_channel).declare()

    def run(self, stop: threading.Event, on_recorded: Callable[[], None]) -> None:
        while not stop.is_set():
            try:
                with Connection(self._amqp_uri, heartbeat=30) as connection:
                    self._consume(connection, stop, on_recorded)
            except Exception:
                log.exception("notify's intake of public events failed; reconnecting")
                stop.wait(1.0)

    def _consume(
        self, connection: Connection, stop: threading.Event, on_recorded: Callable[[], None]
    ) -> None:
        def on_message(message: Message) -> None:
            try:
                self.take(message.delivery_info["routing_key"], message.body)
            except InvalidInput as refused:
                # Not our CloudEvent form: requeueing it would only block what follows.
                log.error("dropped a malformed message on qunping.public: %s", refused)
                message.reject(requeue=False)
                return
            message.ack()
            on_recorded()

        with Consumer(
            connection, [self.queue], on_message=on_message, accept=[CLOUDEVENTS_CONTENT_TYPE]
        ) as consumer:
            consumer.qos(prefetch_count=1)  # one at a time, so deliveries keep the log order
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    connection.heartbeat_check()

    def take(self, routing_key: str, body: bytes | str) -> None:
        """Record what this public event asks of notify: deliveries and e-mails."""
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            cloudevent = json.loads(text)
        except ValueError:
            raise InvalidInput("the body is not UTF-8 JSON") from None
        from_cloudevent(cloudevent)  # raises InvalidInput unless exactly our form
        data = cloudevent.get("data", {})
        self._places.record(places_named_by(routing_key, data))
        concern = concerns(routing_key, data, self._places.lookup)
        if concern is UNKNOWN:
            log.warning(
                "event %s (%s) concerns no district notify knows: no district is notified",
                cloudevent["id"],
                routing_key,
            )
        state = self._view.current()
        for subscription in state.subscribers_of(routing_key, concern):
            self._outbox.enqueue(
                subscription.subscription_id,
                subscription.district,
                cloudevent["id"],
                routing_key,
                text,
            )
        for rule in EMAIL_RULES:
            if not rule.applies_to(routing_key, data):
                continue
            for district, to in state.mail_to(
                rule.recipients,
                concern,
                data.get("community", ""),
                self._settings.platform_emails,
            ):
                if not to:
                    log.info(
                        "no recipients in %s for e-mail %s of event %s",
                        district or "the platform",
                        rule.name,
                        cloudevent["id"],
                    )
                    continue
                subject, text_body = TEMPLATES[rule.template].render(data)
                email_id = f"{rule.name}:{cloudevent['id']}"
                if district is not None:
                    email_id += f":{district}"
                self._outbox.enqueue_email(
                    email_id, district, rule.name, to, subject=subject, body=text_body
                )


def _short_reason(failure: requests.RequestException) -> str:
    if isinstance(failure, requests.Timeout):
        return "timed out"
    if isinstance(failure, requests.exceptions.SSLError):
        return "TLS failed"
    if isinstance(failure, requests.ConnectionError):
        return "could not connect"
    return "the request failed"


class Dispatcher:
    def __init__(
        self,
        outbox: Outbox,
        view: IncrementalFold[NotifyState],
        settings: NotifySettings,
        spawn: Spawn,
        *,
        metrics: ServiceMetrics | None = None,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._resolve = resolve
        metrics = metrics or ServiceMetrics()
        self._webhook_attempts = metrics.counter(
            "qunping_webhook_attempts", "Webhook delivery attempts, by outcome", ["outcome"]
        )
        self._email_attempts = metrics.counter(
            "qunping_email_attempts", "E-mail sending attempts, by outcome", ["outcome"]
        )
        # Every outcome exported from the start, at 0, so that `increase()` sees the first.
        for outcome in (DELIVERED, "retry", DEAD):
            self._webhook_attempts.labels(outcome)
        for outcome in (SENT, "retry", DEAD):
            self._email_attempts.labels(outcome)
        self._outbox = outbox
        self._view = view
        self._settings = settings
        self._spawn = spawn
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self.wake = threading.Event()
        self._http = requests.Session()
        self._pinned: dict[str, requests.Session] = {}

    def admit(self, url: str) -> None:
        """Raise InvalidInput unless webhooks may go to `url` (its host resolved now)."""
        try:
            self._settings.egress.check(url, self._resolve)
        except DestinationRefused as refused:
            raise InvalidInput({"url": [str(refused)]}) from None

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        while not stop.is_set():
            self.wake.clear()
            wait = poll_seconds
            try:
                wait = min(wait, self.dispatch_due())
            except Exception:
                log.exception("dispatching notices failed; retrying")
            self.wake.wait(max(wait, 0.005))

    def dispatch_due(self) -> float:
        """Start every attempt that is due; return seconds until the next one is."""
        now = utc_now()
        next_due = float("inf")
        claim_for = timedelta(seconds=self._settings.webhook_timeout_seconds + 30)
        for head in self._outbox.heads():
            subscription_id = head["subscription_id"]
            with self._lock:
                if subscription_id in self._in_flight:
                    continue
            due_in = (head["next_attempt_at"] - now).total_seconds()
            if due_in > 0:
                next_due = min(next_due, due_in)
                continue
            if self._outbox.claim(head, now + claim_for):
                with self._lock:
                    self._in_flight.add(subscription_id)
                self._spawn(partial(self._attempt_webhook, head))
        if self._settings.smtp is not None:
            for email in self._outbox.emails_due():
                if self._outbox.claim_email(email, now + timedelta(minutes=2)):
                    self._spawn(partial(self._attempt_email, email))
        return next_due

    def _attempt_webhook(self, delivery: dict[str, Any]) -> None:
        try:
            self._deliver(delivery)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", delivery["_id"])
        finally:
            with self._lock:
                self._in_flight.discard(delivery["subscription_id"])
            self.wake.set()

    def _deliver(self, delivery: dict[str, Any]) -> None:
        attempt = delivery["attempts"] + 1
        subscription = self._view.current().subscriptions.get(delivery["subscription_id"])
        secret = self._outbox.secret(delivery["subscription_id"])
        if subscription is None or secret is None:
            self._outbox.settle(delivery, attempt - 1, DEAD, "the subscription was removed")
            return
        body = delivery["body"].encode("utf-8")
        headers = {
            "Content-Type": f"{CLOUDEVENTS_CONTENT_TYPE}; charset=utf-8",
            DELIVERY_HEADER: delivery["_id"],
            **signed_headers(secret, int(time.time()), body),
        }
        started_at, started = utc_now(), time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            # Resolved and checked again at every attempt: the name may point elsewhere now;
            # and the attempt goes to the address checked (none: a host the operator allows).
            addresses = self._settings.egress.check(subscription.url, self._resolve)
            http = self._session_to(addresses[0]) if addresses else self._http
            response = http.post(
                subscription.url,
                data=body,
                headers=headers,
                timeout=self._settings.webhook_timeout_seconds,
                allow_redirects=False,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except DestinationRefused as refused:
            error = str(refused)
        except requests.RequestException as failure:
            # A short reason: the socket's own error would tell a subscriber what listens
            # where inside the network.
            error = _short_reason(failure)
        duration_ms = round((time.monotonic() - started) * 1000)
        retry = self._settings.retry
        if error is None:
            outcome, status, retry_in = DELIVERED, DELIVERED, None
        elif retry.gives_up_after(attempt):
            outcome, status, retry_in = DEAD, DEAD, None
        else:
            outcome, status, retry_in = "retry", PENDING, retry.delay_after(attempt)
        self._outbox.record_attempt(
            delivery,
            attempt=attempt,
            started_at=started_at,
            duration_ms=duration_ms,
            status_code=status_code,
            error=error,
            outcome=outcome,
        )
        self._outbox.settle(delivery, attempt, status, error, retry_in)
        self._webhook_attempts.labels(outcome).inc()

    def _session_to(self, address: str) -> requests.Session:
        """A session pinned to `address`, kept so its connections are reused."""
        with self._lock:
            if address not in self._pinned:
                self._pinned[address] = pinned_session([address])
            return self._pinned[address]

    def _attempt_email(self, email: dict[str, Any]) -> None:
        smtp = self._settings.smtp
        assert smtp is not None
        attempt = email["attempts"] + 1
        try:
            send(smtp, compose(smtp, email["to"], email["subject"], email["body"]))
        except Exception as failure:
            error = f"{type(failure).__name__}: {failure}"[:500]
            retry = self._settings.retry
            status = DEAD if retry.gives_up_after(attempt) else PENDING
            self._outbox.settle_email(email, attempt, status, error, retry.delay_after(attempt))
            self._email_attempts.labels("retry" if status == PENDING else DEAD).inc()
            log.warning("e-mail %s failed (attempt %d): %s", email["_id"], attempt, error)
        else:
            self._outbox.settle_email(email, attempt, SENT, None, 0)
            self._email_attempts.labels(SENT).inc()
        self.wake.set()
