"""The broker users of qunping.operator.broker_access on the real broker, on the tests' own vhost.

Each check opens a channel as one role's user and asks the broker for something; a refusal
is RabbitMQ's ACCESS_REFUSED (403), which closes the channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from amqp.basic_message import Message
from amqp.exceptions import AccessRefused
from kombu.connection import Connection

from qunping.operator import broker_access, infra
from tests.conftest import as_role

RPC = broker_access.RPC_EXCHANGE
PUBLIC = broker_access.PUBLIC_EXCHANGE


@pytest.fixture
def exchanges(amqp_uri: str) -> Iterator[None]:
    """What services declare when they start, declared here by the administrator (and the
    queues taken away again, with what the tests published, before the next test)."""
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        for name in broker_access.topic_exchanges():
            channel.exchange_declare(name, "topic", durable=True, auto_delete=False)
        channel.queue_declare("rpc-ballot", durable=True, auto_delete=False)
        channel.queue_bind("rpc-ballot", RPC, "ballot.*")
        yield
        for queue in ("rpc-ballot", "notify.public"):
            connection.channel().queue_delete(queue)


@pytest.fixture
def channel_of(amqp_uri: str, exchanges: None) -> Iterator[Callable[[str], Any]]:
    connections: list[Connection] = []

    def open_as(uri: str) -> Any:
        connection = Connection(uri)
        connections.append(connection)
        channel = connection.channel()
        channel.confirm_select()  # so a refused publish raises at once
        return channel

    yield open_as
    for connection in connections:
        connection.release()


def publish(channel: Any, routing_key: str, exchange: str = RPC) -> None:
    channel.basic_publish_confirm(Message(b"{}"), exchange=exchange, routing_key=routing_key)


def test_notify_cannot_call_ballot_commands(amqp_uri: str, channel_of: Any) -> None:
    channel = channel_of(as_role(amqp_uri, "notify"))
    with pytest.raises(AccessRefused, match=r"ballot\.cast_ballot"):
        publish(channel, "ballot.cast_ballot")


def test_notify_cannot_bind_a_queue_of_its_own_to_ballot_requests(
    amqp_uri: str, channel_of: Any
) -> None:
    channel = channel_of(as_role(amqp_uri, "notify"))
    channel.queue_declare(
        "notify.public", durable=True, arguments={"x-single-active-consumer": True}
    )
    with pytest.raises(AccessRefused):
        channel.queue_bind("notify.public", RPC, "ballot.*")


def test_tally_may_call_only_the_ballot_queries_it_needs(amqp_uri: str, channel_of: Any) -> None:
    publish(channel_of(as_role(amqp_uri, "tally")), "ballot.meeting_ballots")
    with pytest.raises(AccessRefused):
        publish(channel_of(as_role(amqp_uri, "tally")), "ballot.issue_tokens")


def test_gateway_can_call_ballot_commands_and_cannot_consume_ballot_requests(
    amqp_uri: str, channel_of: Any
) -> None:
    gateway = as_role(amqp_uri, "gateway")
    channel = channel_of(gateway)
    for method in ("issue_tokens", "close_voting", "cast_ballot"):
        publish(channel, f"ballot.{method}")
    with pytest.raises(AccessRefused, match="rpc-ballot"):
        channel_of(gateway).basic_consume("rpc-ballot", callback=lambda _: None)
    # Nor may it bind its reply queue to ballot's requests.
    reply_queue = f"rpc.reply-gateway-{uuid.uuid4()}"
    channel = channel_of(gateway)
    channel.queue_declare(reply_queue, auto_delete=False, arguments={"x-expires": 60_000})
    with pytest.raises(AccessRefused):
        channel.queue_bind(reply_queue, RPC, "ballot.*")


def test_only_ballot_consumes_its_requests_and_only_relays_publish_public_events(
    amqp_uri: str, channel_of: Any
) -> None:
    channel_of(as_role(amqp_uri, "ballot")).basic_consume("rpc-ballot", callback=lambda _: None)
    for role in ("tally", "notify", "audit", broker_access.OPERATOR):
        with pytest.raises(AccessRefused):
            channel_of(as_role(amqp_uri, role)).basic_consume("rpc-ballot", callback=print)
    publish(channel_of(as_role(amqp_uri, "ballot")), "ballot.MeetingClosed", PUBLIC)
    with pytest.raises(AccessRefused):
        publish(channel_of(as_role(amqp_uri, "ballot")), "tally.ResultsPublished", PUBLIC)
    with pytest.raises(AccessRefused):
        publish(channel_of(as_role(amqp_uri, "gateway")), "ballot.MeetingClosed", PUBLIC)


@pytest.fixture
def subscriber(amqp_uri: str) -> Iterator[tuple[str, str]]:
    """An outside system's user, made as docs/deploy.md says: its name and its AMQP URI."""
    name, password = f"t{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    prefix = f"{infra.vhost_name(amqp_uri)}."
    infra.load_definitions(
        broker_access.definitions(infra.vhost_name(amqp_uri), prefix, {}, {name: password})
    )
    user = broker_access.subscriber_user(prefix, name)
    yield name, broker_access.with_credentials(amqp_uri, user, password)
    infra.delete_users([user])


def test_a_subscriber_consumes_public_events_from_its_own_queue_and_nothing_else(
    subscriber: tuple[str, str], amqp_uri: str, channel_of: Any
) -> None:
    name, subscriber_uri = subscriber
    queue = f"sub-{name}.events"
    channel = channel_of(subscriber_uri)
    channel.queue_declare(queue, durable=True, auto_delete=True)
    channel.queue_bind(queue, PUBLIC, "ballot.*")
    publish(channel_of(as_role(amqp_uri, "ballot")), "ballot.MeetingClosed", PUBLIC)
    message = None
    for _ in range(50):
        message = channel.basic_get(queue, no_ack=True)
        if message is not None:
            break
    assert message is not None and message.delivery_info["routing_key"] == "ballot.MeetingClosed"

    refused: list[Callable[[Any], Any]] = [
        lambda c: c.queue_declare("evt-ballot-#--tally.on_ballot_event", durable=True),
        lambda c: c.queue_declare(f"sub-{name}x.events", durable=True),
        lambda c: c.exchange_declare(PUBLIC, "topic", durable=True),
        lambda c: c.queue_bind(queue, RPC, "ballot.*"),
        lambda c: c.queue_bind(queue, "ballot.events", "#"),
        lambda c: c.basic_consume("rpc-ballot", callback=print),
        lambda c: publish(c, "ballot.X", PUBLIC),
        lambda c: c.queue_delete("rpc-ballot"),
    ]
    for attempt in refused:
        with pytest.raises(AccessRefused):
            attempt(channel_of(subscriber_uri))
    channel_of(subscriber_uri).queue_delete(queue)  # its own, it may
