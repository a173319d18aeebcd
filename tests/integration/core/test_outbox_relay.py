"""The outbox relay against the real RabbitMQ, watched by a plain kombu consumer (no nameko)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import kombu
import pytest
from pymongo.database import Database

from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE, events_exchange
from qunping.core.dependencies import RELAY_STATE
from qunping.core.envelope import NewEvent, from_cloudevent
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.relay import OutboxRelay

ROOT = Path(__file__).resolve().parents[3]


class Subscriber:
    """An outside system's own durable queue on the ballot log's exchange."""

    def __init__(self, amqp_uri: str, name: str, binding: str = "#") -> None:
        self.connection = kombu.Connection(amqp_uri)
        self.queue = kombu.Queue(name, events_exchange("ballot"), routing_key=binding, durable=True)
        self.queue(self.connection.default_channel).declare()
        self.received: list[dict[str, Any]] = []

    def drain(self, expected: int, timeout: float = 60) -> list[dict[str, Any]]:
        """Receive until `expected` distinct positions arrived; return them all, duplicates too."""
        deadline = time.monotonic() + timeout

        def on_message(message: kombu.Message) -> None:
            assert message.content_type == CLOUDEVENTS_CONTENT_TYPE
            assert (
                message.delivery_info["routing_key"]
                == json.loads(message.body)["type"].split(".")[-1]
            )
            self.received.append(json.loads(message.body))
            message.ack()

        # Raw messages: an outside system needs no qunping code to read CloudEvents JSON.
        with kombu.Consumer(self.connection, [self.queue], on_message=on_message):
            while (
                len({e["position"] for e in self.received}) < expected
                and time.monotonic() < deadline
            ):
                try:
                    self.connection.drain_events(timeout=1)
                except TimeoutError:
                    continue
        return self.received

    def close(self) -> None:
        self.queue(self.connection.default_channel).delete()
        self.connection.release()


@pytest.fixture
def subscriber(amqp_uri: str, database: Database[dict[str, Any]]) -> Iterator[Subscriber]:
    subscriber = Subscriber(amqp_uri, f"test-subscriber-{database.name}")
    yield subscriber
    subscriber.close()


@pytest.fixture
def log(database: Database[dict[str, Any]]) -> MongoEventLog:
    return MongoEventLog(database, "ballot")


def test_every_event_reaches_a_plain_kombu_subscriber_in_log_order(
    log: MongoEventLog, subscriber: Subscriber, amqp_uri: str, database: Database[dict[str, Any]]
) -> None:
    for n in range(30):
        log.append(f"meeting-{n % 3}", [NewEvent("MeetingScheduled", {"n": n})])
    relay = OutboxRelay(log, database[RELAY_STATE], amqp_uri)

    published = relay.publish_pending()

    received = subscriber.drain(30)
    assert published == 30
    assert [event["position"] for event in received] == list(range(1, 31))
    assert [from_cloudevent(event) for event in received] == list(log.read_all())
    assert relay.checkpoint() == log.head()


def test_a_relay_killed_mid_stream_loses_nothing_when_restarted(
    log: MongoEventLog,
    subscriber: Subscriber,
    amqp_uri: str,
    mongo_uri: str,
    database: Database[dict[str, Any]],
) -> None:
    total = 1500
    for start in range(0, total, 100):
        for n in range(start, start + 100):
            log.append("meeting-1", [NewEvent("MeetingScheduled", {"n": n})])
    command = [
        sys.executable,
        "-m",
        "tests.integration.core.relay_process",
        mongo_uri,
        database.name,
        amqp_uri,
        "20",
    ]
    relay = subprocess.Popen(command, cwd=ROOT)
    state = database[RELAY_STATE]
    deadline = time.monotonic() + 60
    while (state.find_one({"_id": "relay:ballot.events"}) or {}).get("position", 0) < 200:
        assert time.monotonic() < deadline, "the relay published nothing"
        time.sleep(0.01)
    os.kill(relay.pid, signal.SIGKILL)
    relay.wait()
    killed_at = state.find_one({"_id": "relay:ballot.events"})["position"]  # type: ignore[index]
    state.delete_one({"_id": "lease:ballot.events"})  # the dead relay's lease would expire in 10s

    restarted = subprocess.Popen(command, cwd=ROOT)
    try:
        received = subscriber.drain(total, timeout=120)
    finally:
        restarted.terminate()
        restarted.wait()

    first_seen: list[int] = []
    for event in received:
        if event["position"] not in first_seen:
            first_seen.append(event["position"])
    assert killed_at < total, "the kill must land mid-stream"
    assert first_seen == list(range(1, total + 1)), "none lost, first deliveries in log order"
    duplicates = len(received) - total
    assert 0 <= duplicates <= 40, "only the unconfirmed tail may go out twice"


def test_an_event_no_queue_is_bound_for_is_counted_and_passed(
    log: MongoEventLog, amqp_uri: str, database: Database[dict[str, Any]]
) -> None:
    log.append("meeting-1", [NewEvent("NobodyListens", {})])
    relay = OutboxRelay(log, database[RELAY_STATE], amqp_uri)

    relay.publish_pending()

    assert relay.unroutable == 1
    assert relay.checkpoint() == log.head(), (
        "subscribers catch up from the log, so the relay moves on"
    )


def test_only_one_relay_holds_the_lease_until_it_expires(
    log: MongoEventLog, amqp_uri: str, database: Database[dict[str, Any]]
) -> None:
    lease = timedelta(seconds=1)
    first = OutboxRelay(log, database[RELAY_STATE], amqp_uri, owner="first", lease=lease)
    second = OutboxRelay(log, database[RELAY_STATE], amqp_uri, owner="second", lease=lease)

    assert first.hold_lease()
    assert not second.hold_lease()
    assert first.hold_lease(), "the holder renews"
    time.sleep(1.2)
    assert second.hold_lease(), "an expired lease passes on"
    assert not first.hold_lease()


def test_relay_lag_is_what_the_log_holds_beyond_what_the_broker_confirmed(
    log: MongoEventLog, amqp_uri: str, database: Database[dict[str, Any]]
) -> None:
    for n in range(5):
        log.append("meeting-1", [NewEvent("MeetingScheduled", {"n": n})])
    relay = OutboxRelay(log, database[RELAY_STATE], amqp_uri)

    def gauges() -> dict[str, float]:
        return {reading.name: reading.value for reading in relay.readings()}

    assert gauges() == {
        "qunping_eventlog_head_position": 5,
        "qunping_relay_published_position": 0,
        "qunping_relay_lag_events": 5,
    }
    relay.publish_pending()
    log.append("meeting-1", [NewEvent("MeetingScheduled", {"n": 5})])
    assert gauges()["qunping_relay_lag_events"] == 1
    relay.publish_pending()
    assert gauges() == {
        "qunping_eventlog_head_position": 6,
        "qunping_relay_published_position": 6,
        "qunping_relay_lag_events": 0,
    }
