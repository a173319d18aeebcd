"""The outbox relay: publishes a log's events to RabbitMQ in log order, losing none.

The log is the outbox. The relay reads what follows its checkpoint, publishes each event
persistent, `mandatory` and with publisher confirms, and moves the checkpoint only past
events the broker confirmed. A crash between a confirm and the checkpoint write means
those events go out again: duplicates are possible, losses are not, and every consumer
recognises a duplicate by its position. An event whose content no longer matches its hash
(edited in the database) stops the relay there: it is never published.

Given the log's `PayloadSchemas`, the relay also publishes every event registered public
to `qunping.public` (routing key `{log}.{EventType}`), under the same rules: the
checkpoint passes an event only once every copy of it was confirmed. Internal events
(a ballot) never go there.

Only one relay per log publishes at a time: a lease in MongoDB elects it, so replicas of
a service do not race each other (a relay that loses its lease only causes duplicates).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange
from kombu.messaging import Producer
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from qunping.core.amqp import (
    CLOUDEVENTS_CONTENT_TYPE,
    events_exchange,
    public_exchange,
    public_routing_key,
)
from qunping.core.envelope import RecordedEvent, json_bytes, to_cloudevent, utc_now
from qunping.core.eventlog import EMPTY_HEAD, EventLog, LogHead, LogIntegrityError
from qunping.core.metrics import Reading
from qunping.core.schemas import PayloadSchemas
from qunping.core.tamper import check_content

log = logging.getLogger(__name__)

Outgoing = Callable[[RecordedEvent], dict[str, Any] | None]
"""How an event is published: its CloudEvent, or None to keep it in the log only."""


def relay_owner_id() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class OutboxRelay:
    def __init__(
        self,
        log: EventLog,
        state: Collection[dict[str, Any]],
        amqp_uri: str,
        *,
        outgoing: Outgoing = to_cloudevent,
        public: PayloadSchemas | None = None,
        owner: str | None = None,
        batch_size: int = 500,
        lease: timedelta = timedelta(seconds=10),
    ) -> None:
        self.log = log
        self.exchange = events_exchange(log.name)
        self._state = state
        self._amqp_uri = amqp_uri
        self._outgoing = outgoing
        self._public = public
        self.public_exchange = public_exchange()
        self.owner = owner or relay_owner_id()
        self._batch_size = batch_size
        self._lease = lease
        self._checkpoint_id = f"relay:{self.exchange.name}"
        self._lease_id = f"lease:{self.exchange.name}"
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._lease_until: datetime | None = None
        self._published: LogHead | None = None
        self.unroutable = 0
        """Events the broker confirmed but no queue was bound for (subscribers catch up)."""

    # -- the loop --------------------------------------------------------------------

    def run(self, stop: threading.Event, wake: threading.Event, poll_seconds: float = 1.0) -> None:
        """Publish until `stop` is set; `wake` is set by appends so new events go out at once."""
        failures = 0
        while not stop.is_set():
            wake.clear()
            try:
                if self.hold_lease():
                    self.publish_pending()
                failures = 0
            except Exception:
                failures += 1
                log.exception("relay for log %r failed; retrying", self.log.name)
                self._disconnect()
                stop.wait(min(0.2 * 2**failures, 10.0))
                continue
            wake.wait(poll_seconds)
        self._disconnect()

    def hold_lease(self) -> bool:
        """Take or renew the publishing lease; False while another relay holds it.

        A held lease is renewed only once half of it has run, so a busy relay does not
        write to MongoDB on every wake-up."""
        now = utc_now()
        if self._lease_until is not None and now < self._lease_until - self._lease / 2:
            return True
        try:
            self._state.find_one_and_update(
                {
                    "_id": self._lease_id,
                    "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}],
                },
                {"$set": {"owner": self.owner, "expires_at": now + self._lease}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            self._lease_until = None
            self._published = None  # another relay publishes now: re-read its checkpoint
            return False
        self._lease_until = now + self._lease
        return True

    def release_lease(self) -> None:
        self._lease_until = None
        self._state.delete_one({"_id": self._lease_id, "owner": self.owner})

    def readings(self) -> list[Reading]:
        """The log's head, the last position the broker confirmed, and the lag between.

        Read from MongoDB, so every replica reports the lag of whichever relay publishes."""
        published = self.checkpoint().position
        head = self.log.head().position
        labels = {"log": self.log.name}
        return [
            Reading(
                "qunping_eventlog_head_position", "Last position of the event log", labels, head
            ),
            Reading(
                "qunping_relay_published_position",
                "Last position of the log the broker confirmed to the outbox relay",
                labels,
                published,
            ),
            Reading(
                "qunping_relay_lag_events",
                "Events appended to the log and not yet confirmed by the broker",
                labels,
                max(head - published, 0),
            ),
        ]

    # -- publishing ------------------------------------------------------------------

    def checkpoint(self) -> LogHead:
        """The last position confirmed by the broker, with that event's hash."""
        document = self._state.find_one({"_id": self._checkpoint_id})
        return EMPTY_HEAD if document is None else LogHead(document["position"], document["hash"])

    def publish_pending(self) -> int:
        """Publish every event after the checkpoint; return how many were published."""
        # While this relay holds the lease, its own last checkpoint is the checkpoint.
        checkpoint = self._published or self.checkpoint()
        published = 0
        while True:
            batch = self.log.read_batch(checkpoint.position, self._batch_size)
            if not batch:
                return published
            for event in batch:
                if event.prev_hash != checkpoint.hash:
                    raise LogIntegrityError(
                        f"log {self.log.name!r}: event {event.position} does not follow "
                        f"the published event {checkpoint.position}"
                    )
                self._publish(check_content(event))
                checkpoint = LogHead(event.position, event.hash)
            self._save_checkpoint(checkpoint)
            self._published = checkpoint
            published += len(batch)

    def _publish(self, event: RecordedEvent) -> None:
        cloudevent = self._outgoing(event)
        if cloudevent is None:
            return
        body = json_bytes(cloudevent)
        self._publish_to(self.exchange, event.type, body, event)
        if self._public is not None and self._public.is_public(event.type):
            self._publish_to(
                self.public_exchange, public_routing_key(self.log.name, event.type), body, event
            )

    def _publish_to(
        self, exchange: Exchange, routing_key: str, body: bytes, event: RecordedEvent
    ) -> None:
        producer = self._connected_producer()
        # With confirm_publish the call returns only once the broker has the message.
        producer.publish(
            body,
            exchange=exchange,
            routing_key=routing_key,
            mandatory=True,
            delivery_mode=2,
            content_type=CLOUDEVENTS_CONTENT_TYPE,
            content_encoding="utf-8",
            message_id=event.event_id,
            app_id=f"qunping-{self.log.name}",
            headers={"position": event.position},
            retry=True,
            retry_policy={"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5},
        )

    def _save_checkpoint(self, checkpoint: LogHead) -> None:
        # Never move backwards: a relay that lost its lease may still finish a batch.
        with contextlib.suppress(DuplicateKeyError):  # already at or past this checkpoint
            self._state.update_one(
                {"_id": self._checkpoint_id, "position": {"$lt": checkpoint.position}},
                {"$set": {"position": checkpoint.position, "hash": checkpoint.hash}},
                upsert=True,
            )

    def _connected_producer(self) -> Producer:
        if self._producer is None:
            connection = Connection(
                self._amqp_uri, transport_options={"confirm_publish": True}, heartbeat=30
            )
            connection.ensure_connection(max_retries=3)
            channel = connection.channel()
            channel.events["basic_return"].add(self._on_return)
            self.exchange(channel).declare()
            if self._public is not None:
                self.public_exchange(channel).declare()
            self._connection = connection
            self._producer = Producer(channel, exchange=self.exchange)
        return self._producer

    def _on_return(
        self, exception: Exception, exchange: str, routing_key: str, message: Any
    ) -> None:
        self.unroutable += 1
        log.debug("no queue is bound for %s on %s", routing_key, exchange)

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # the connection is already broken; nothing to release
                log.debug("closing a broken AMQP connection failed", exc_info=True)
        self._connection = self._producer = None
