"""The public contract on the real broker, seen by an outside system with plain kombu.

The consumer side uses kombu, jsonschema and the CloudEvents SDK only: no nameko and no
qunping code (the JSON Schemas it validates against are the generated documents).
"""

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_structured
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator
from pymongo.database import Database

from qunping.core.dependencies import RELAY_STATE
from qunping.core.envelope import NewEvent
from qunping.core.feed import public_feed
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.relay import OutboxRelay
from qunping.operator.contract import public_event_schemas
from tests import ballot_like


class OutsideSubscriber:
    """What another government system writes: its own durable queue on `qunping.public`."""

    def __init__(self, amqp_uri: str, queue_name: str, bindings: list[str]) -> None:
        self.connection = kombu.Connection(amqp_uri)
        exchange = kombu.Exchange("qunping.public", type="topic", durable=True)
        self.queue = kombu.Queue(
            queue_name,
            exchange,
            bindings=[kombu.binding(exchange, routing_key=key) for key in bindings],
            durable=True,
        )
        channel = self.connection.default_channel
        exchange(channel).declare()
        self.queue(channel).declare()

    def receive(self, count: int, timeout: float = 20) -> list[kombu.Message]:
        received: list[kombu.Message] = []

        def on_message(message: kombu.Message) -> None:
            received.append(message)
            message.ack()

        deadline = time.monotonic() + timeout
        with kombu.Consumer(self.connection, [self.queue], on_message=on_message):
            while len(received) < count and time.monotonic() < deadline:
                try:
                    self.connection.drain_events(timeout=0.3)
                except TimeoutError:
                    continue
            # Anything beyond `count` would be a leak or a duplicate the test must see.
            with contextlib.suppress(TimeoutError):
                self.connection.drain_events(timeout=0.3)
        return received

    def close(self) -> None:
        self.queue(self.connection.default_channel).delete()
        self.connection.release()


@pytest.fixture
def log(database: Database[dict[str, Any]]) -> MongoEventLog:
    return MongoEventLog(database, "ballot", payload_schemas=ballot_like.payloads)


@pytest.fixture
def relay(log: MongoEventLog, database: Database[dict[str, Any]], amqp_uri: str) -> OutboxRelay:
    return OutboxRelay(log, database[RELAY_STATE], amqp_uri, public=ballot_like.payloads)


@pytest.fixture
def subscribers(amqp_uri: str, database: Database[dict[str, Any]]) -> Iterator[Any]:
    made: list[OutsideSubscriber] = []

    def make(bindings: list[str]) -> OutsideSubscriber:
        subscriber = OutsideSubscriber(amqp_uri, f"outside-{database.name}-{len(made)}", bindings)
        made.append(subscriber)
        return subscriber

    yield make
    for subscriber in made:
        subscriber.close()


def cast_meeting(log: MongoEventLog, n: int) -> None:
    log.append(f"meeting-{n}", [NewEvent("MeetingScheduled", ballot_like.meeting_scheduled(n))])
    log.append(f"ballot-{n}", [NewEvent("BallotCast", ballot_like.ballot_cast(n))])


def test_an_outside_kombu_queue_receives_public_cloudevents_that_match_their_json_schema(
    log: MongoEventLog, relay: OutboxRelay, subscribers: Any
) -> None:
    subscriber = subscribers(["ballot.*"])
    for n in range(1, 6):
        cast_meeting(log, n)
    validators = {
        f"qunping.{key[0]}.{key[1]}": Draft202012Validator(schema)
        for key, schema in public_event_schemas({"ballot": ballot_like.payloads}).items()
    }

    relay.publish_pending()
    messages = subscriber.receive(5)

    assert [m.delivery_info["routing_key"] for m in messages] == ["ballot.MeetingScheduled"] * 5
    for message in messages:
        assert message.content_type == "application/cloudevents+json"
        event = from_structured(
            RabbitMQMessage(headers={}, content_type=message.content_type, body=message.body),
            JSONFormat(),
        )
        assert event.get_type() == "qunping.ballot.MeetingScheduled"
        assert event.get_data()["community"] == "光明社区"  # type: ignore[index]
        errors = list(validators[event.get_type()].iter_errors(message.decode()))
        assert errors == [], errors
    assert [m.decode()["position"] for m in messages] == [1, 3, 5, 7, 9]
    assert relay.checkpoint() == log.head()


def test_no_ballot_reaches_the_public_exchange_or_the_feed(
    log: MongoEventLog, relay: OutboxRelay, subscribers: Any
) -> None:
    everything = subscribers(["#"])
    for n in range(1, 11):
        cast_meeting(log, n)

    relay.publish_pending()
    messages = everything.receive(10)
    feed = public_feed(log, ballot_like.payloads, {"after": 0, "limit": 500})

    bodies = [
        message.body if isinstance(message.body, str) else message.body.decode()
        for message in messages
    ]
    assert len(bodies) == 10
    assert all("BallotCast" not in body for body in bodies)
    assert all(ballot_like.SECRET_RATING not in body for body in bodies)
    assert len(feed["events"]) == 10
    assert ballot_like.SECRET_RATING not in str(feed)
    assert sum(1 for e in log.read_all() if e.type == "BallotCast") == 10, "they are in the log"


def test_an_outside_system_backfills_from_the_feed_then_goes_live_without_gap_or_repeat(
    log: MongoEventLog, relay: OutboxRelay, subscribers: Any
) -> None:
    for n in range(1, 8):  # published before the outside system existed: only the feed has them
        cast_meeting(log, n)
    relay.publish_pending()
    live = subscribers(["ballot.#"])  # it binds its queue first, then backfills
    for n in range(8, 11):  # published while it backfills: both the feed and the queue have them
        cast_meeting(log, n)
    relay.publish_pending()

    seen: dict[str, dict[str, Any]] = {}
    after = 0
    while True:
        page = public_feed(log, ballot_like.payloads, {"after": after, "limit": 4})
        for event in page["events"]:
            seen.setdefault(event["id"], event)
        after = page["next_after"]
        if after >= page["head"]:
            break
    for n in range(11, 14):  # live only
        cast_meeting(log, n)
    relay.publish_pending()
    duplicates = 0
    for message in live.receive(6):
        event = message.decode()
        if event["id"] in seen:
            duplicates += 1
        seen.setdefault(event["id"], event)

    public = [e for e in log.read_all() if ballot_like.payloads.is_public(e.type)]
    assert duplicates == 3, "the overlap arrives twice and is recognised by id"
    assert sorted(e["position"] for e in seen.values()) == [e.position for e in public]
    assert len(seen) == 13
