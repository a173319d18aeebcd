"""Webhook deliveries from the real notify service to real local HTTP receivers."""

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest
from click.testing import CliRunner
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator

from qunping.core.errors import InvalidInput
from qunping.operator import infra
from services.notify.dependencies import NotifierDependency
from services.notify.service import NotifyService
from tests.integration.notify.helpers import DISTRICT, SECRET, announcement, wait_until
from tests.integration.notify.receiver import Receiver, always, failing_first

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(behaviour: Any = None, start: bool = True) -> Receiver:
        receiver = Receiver(infra.free_port(), behaviour or always(200))
        made.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in made:
        receiver.stop()


def subscribe(notify: Any, receiver: Receiver, patterns: list[str] | None = None) -> str:
    reply = notify.subscribe_webhook(
        {
            "district": DISTRICT,
            "url": receiver.url,
            "event_types": patterns or ["notify.*"],
            "secret": SECRET,
        }
    )
    return str(reply["subscription_id"])


def independently_verified(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does, written from the README alone."""
    timestamp = headers["Qunping-Timestamp"]
    if abs(time.time() - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["Qunping-Signature"], "v1=" + expected.hexdigest())


def titles(bodies: list[bytes]) -> list[str]:
    return [json.loads(body)["data"]["title"] for body in bodies]


def test_a_delivery_is_a_signed_cloudevent_matching_its_published_json_schema(
    start_notify: Any, receivers: Any
) -> None:
    notify = start_notify()
    receiver = receivers()
    subscribe(notify, receiver, ["notify.AnnouncementPublished"])

    notify.publish_announcement(announcement(1, "meeting"))
    [request] = wait_until(lambda: receiver.requests, what="the delivery")

    event = from_http(HTTPMessage(request.headers, request.body), JSONFormat())
    schema = json.loads((DOCS / "events/notify.AnnouncementPublished.v3.json").read_text())
    assert request.headers["Content-Type"].startswith("application/cloudevents+json")
    assert independently_verified(SECRET, request.headers, request.body)
    assert not independently_verified(SECRET, request.headers, request.body + b" ")
    assert not independently_verified("another-secret-entirely", request.headers, request.body)
    assert event.get_type() == "qunping.notify.AnnouncementPublished"
    assert event.get_data()["title"] == "第1号公告"  # type: ignore[index]
    assert list(Draft202012Validator(schema).iter_errors(json.loads(request.body))) == []


def test_failed_deliveries_are_retried_with_growing_delays_and_every_attempt_is_logged(
    start_notify: Any, receivers: Any
) -> None:
    notify = start_notify()
    receiver = receivers(failing_first(2))
    subscription_id = subscribe(notify, receiver)

    notify.publish_announcement(announcement(1))
    wait_until(lambda: len(receiver.requests) == 3, what="three attempts")
    attempts = wait_until(
        lambda: (
            [
                a
                for a in notify.webhook_attempts({"subscription_id": subscription_id})
                if a["outcome"] == "delivered"
            ]
            and notify.webhook_attempts({"subscription_id": subscription_id})
        ),
        what="the attempt log",
    )

    first, second, third = (r.at for r in receiver.requests)
    # base 0.2 s doubling, jitter takes off at most half: [0.1, 0.2] then [0.2, 0.4]
    assert 0.1 <= second - first < 0.2 + 0.25
    assert 0.2 <= third - second < 0.4 + 0.25
    assert [a["outcome"] for a in attempts] == ["retry", "retry", "delivered"]
    assert [a["status_code"] for a in attempts] == [503, 503, 204]
    assert [a["attempt"] for a in attempts] == [1, 2, 3]
    assert len({r.headers["Qunping-Delivery"] for r in receiver.requests}) == 1
    # The attempt is logged before the delivery's own record is marked: wait for both.
    [delivery] = wait_until(
        lambda: [
            d
            for d in notify.webhook_deliveries({"subscription_id": subscription_id})
            if d["status"] == "delivered"
        ],
        what="the delivery marked delivered",
    )
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)


def test_a_receiver_down_then_up_receives_everything_in_order(
    start_notify: Any, receivers: Any
) -> None:
    notify = start_notify(
        QUNPING_WEBHOOK_RETRY_BASE_SECONDS="0.05",
        QUNPING_WEBHOOK_RETRY_MAX_SECONDS="0.3",
        QUNPING_WEBHOOK_MAX_ATTEMPTS="50",
    )
    receiver = receivers(start=False)
    subscription_id = subscribe(notify, receiver)

    for n in range(1, 6):
        notify.publish_announcement(announcement(n))
    wait_until(
        lambda: len(notify.webhook_attempts({"subscription_id": subscription_id})) >= 3,
        what="failed attempts while the receiver is down",
    )
    receiver.start()
    wait_until(lambda: len(receiver.requests) >= 5, what="all five deliveries")
    time.sleep(0.3)  # anything more would be a repeat

    assert titles([r.body for r in receiver.requests]) == [f"第{n}号公告" for n in range(1, 6)]
    failures = [
        a for a in notify.webhook_attempts({"subscription_id": subscription_id}) if a["error"]
    ]
    assert failures and all(a["error"] == "could not connect" for a in failures)
    assert {a["event_id"] for a in failures} == {json.loads(receiver.requests[0].body)["id"]}, (
        "only the head of the queue was tried while the receiver was down"
    )


def test_dead_letters_can_be_listed_and_redelivered_by_rpc_and_cli(
    start_notify: Any, receivers: Any, nameko_config: dict[str, Any]
) -> None:
    notify = start_notify(QUNPING_WEBHOOK_MAX_ATTEMPTS="2")
    receiver = receivers(always(500))
    subscription_id = subscribe(notify, receiver)
    cli = CliRunner()
    env = {"AMQP_URI": nameko_config["AMQP_URI"]}
    from qunping.operator.cli import cli as qunping

    notify.publish_announcement(announcement(1))
    notify.publish_announcement(announcement(2))
    dead = wait_until(
        lambda: len(notify.dead_letters({})) == 2 and notify.dead_letters({}), what="two dead"
    )
    listed = cli.invoke(qunping, ["notify", "dead-letters"], env=env)
    receiver.behaviour = always(200)
    oldest, newest = sorted(dead, key=lambda d: d["seq"])
    redeliver = ["notify", "redeliver", oldest["delivery_id"], "--district", DISTRICT]
    redelivered = cli.invoke(qunping, redeliver, env=env)
    notify.redeliver({"delivery_id": newest["delivery_id"], "district": DISTRICT})
    again = cli.invoke(qunping, redeliver, env=env)
    wait_until(
        lambda: len(notify.webhook_deliveries({"status": "delivered"})) == 2, what="redelivery"
    )

    assert listed.exit_code == 0, listed.output
    assert {json.loads(line)["delivery_id"] for line in listed.output.splitlines()} == {
        d["delivery_id"] for d in dead
    }
    assert redelivered.exit_code == 0, redelivered.output
    assert again.exit_code != 0 and "not dead" in again.output
    assert [a["status_code"] for a in notify.webhook_attempts({})] == [500, 500, 500, 500, 200, 200]
    assert titles([r.body for r in receiver.requests[-2:]]) == ["第1号公告", "第2号公告"]
    assert [a["outcome"] for a in notify.webhook_attempts({"subscription_id": subscription_id})][
        -2:
    ] == ["delivered", "delivered"]
    assert notify.dead_letters({"subscription_id": subscription_id}) == []


def test_a_dead_receiver_does_not_delay_a_healthy_one(start_notify: Any, receivers: Any) -> None:
    notify = start_notify(QUNPING_WEBHOOK_TIMEOUT_SECONDS="2")
    dead = receivers()
    dead.hang.set()
    healthy = receivers()
    subscribe(notify, dead)
    subscribe(notify, healthy)

    started = time.monotonic()
    for n in range(1, 4):
        notify.publish_announcement(announcement(n))
    wait_until(lambda: len(healthy.requests) == 3, timeout=5, what="the healthy deliveries")
    elapsed = time.monotonic() - started

    assert elapsed < 1.5, f"the healthy receiver waited {elapsed:.2f}s"
    assert titles([r.body for r in healthy.requests]) == ["第1号公告", "第2号公告", "第3号公告"]
    assert dead.requests == [], "the dead receiver still holds its first delivery"


def test_an_event_the_broker_delivers_twice_is_delivered_once(
    start_notify: Any, receivers: Any, nameko_config: dict[str, Any]
) -> None:
    notify = start_notify()
    receiver = receivers()
    subscribe(notify, receiver)
    notify.publish_announcement(announcement(1))
    [first] = wait_until(lambda: receiver.requests, what="the delivery")

    with kombu.Connection(nameko_config["AMQP_URI"]) as connection:
        connection.Producer().publish(
            first.body,
            exchange="qunping.public",
            routing_key="notify.AnnouncementPublished",
            content_type="application/cloudevents+json",
            content_encoding="utf-8",
        )
    notify.publish_announcement(announcement(2))
    wait_until(lambda: len(receiver.requests) >= 2, what="the second announcement")
    time.sleep(0.3)

    assert titles([r.body for r in receiver.requests]) == ["第1号公告", "第2号公告"]


def test_a_malformed_message_on_the_public_exchange_is_dropped_without_blocking_the_next(
    start_notify: Any, receivers: Any, nameko_config: dict[str, Any]
) -> None:
    notify = start_notify()
    receiver = receivers()
    subscribe(notify, receiver, ["#"])

    with kombu.Connection(nameko_config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        for body in (b"not json", b'{"id": "x", "specversion": "1.0"}', b"\xff\xfe"):
            producer.publish(
                body,
                exchange="qunping.public",
                routing_key="ballot.MeetingClosed",
                content_type="application/cloudevents+json",
                content_encoding="binary",
            )
    notify.publish_announcement(announcement(1))
    [request] = wait_until(lambda: receiver.requests, what="the valid event")
    time.sleep(0.3)

    assert titles([request.body]) == ["第1号公告"]
    assert len(receiver.requests) == 1


def test_a_bad_subscription_is_refused_field_by_field_and_nothing_is_written(
    start_notify: Any,
) -> None:
    notify = start_notify()

    with pytest.raises(InvalidInput) as refused:
        notify.subscribe_webhook(
            {
                "district": DISTRICT,
                "url": "ftp://example.org/x",
                "event_types": ["ballot.Ballot Cast"],
                "secret": "short",
                "owner": {"$ne": None},
            }
        )

    assert set(refused.value.messages) == {"url", "event_types", "secret", "owner"}
    assert notify.webhook_subscriptions({}) == []
    assert notify.public_feed({"after": 0})["head"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8005/api/accounts",
        "http://[::1]/",
        "http://10.0.0.5:27017/",
        "http://192.168.1.1/",
        "http://224.0.0.1/",
        "http://0.0.0.0:5672/",
        "http://10.96.0.1/",
        "http://someone:secret@receiver.example.cn/",
    ],
)
def test_a_subscription_to_a_non_public_destination_is_refused_and_stored_nowhere(
    start_notify: Callable[..., Any], url: str
) -> None:
    notify = start_notify(QUNPING_WEBHOOK_ALLOW="")
    with pytest.raises(InvalidInput) as refused:
        notify.subscribe_webhook(
            {"district": DISTRICT, "url": url, "event_types": ["#"], "secret": SECRET}
        )
    assert list(refused.value.messages) == ["url"]
    assert notify.webhook_subscriptions({}) == []


class Rebinding:
    """A name that resolves to a public address when subscribed, then to loopback."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        return ["93.184.216.34"] if self.asked == 1 else ["127.0.0.1"]


def test_a_host_resolving_to_loopback_only_at_delivery_is_not_delivered_to(
    start_notify: Callable[..., Any], receivers: Callable[..., Receiver]
) -> None:
    resolver = Rebinding()

    class RebindingNotify(NotifyService):
        notifier = NotifierDependency(resolve=resolver)

    notify = start_notify(RebindingNotify, QUNPING_WEBHOOK_ALLOW="")
    receiver = receivers()
    url = receiver.url.replace("127.0.0.1", "rebinding.example.cn")
    reply = notify.subscribe_webhook(
        {"district": DISTRICT, "url": url, "event_types": ["#"], "secret": SECRET}
    )
    notify.publish_announcement(announcement(1))

    attempts = wait_until(
        lambda: notify.webhook_attempts({"subscription_id": reply["subscription_id"]}),
        what="a refused attempt",
    )
    assert attempts[0]["error"] == (
        "rebinding.example.cn resolves to a loopback address (127.0.0.1), which is refused"
    )
    assert attempts[0]["status_code"] is None
    assert receiver.requests == []


def test_an_attempt_connects_to_the_address_that_was_checked_and_keeps_the_host_name(
    start_notify: Callable[..., Any], receivers: Callable[..., Receiver]
) -> None:
    """The name resolves, for notify's check only, to the receiver on 127.0.0.1 (allowed
    here); the system's resolver knows no such name, so only a pinned connection arrives."""

    def resolver(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "pinned.example.invalid" else []

    class PinningNotify(NotifyService):
        notifier = NotifierDependency(resolve=resolver)

    notify = start_notify(PinningNotify)
    receiver = receivers()
    url = receiver.url.replace("127.0.0.1", "pinned.example.invalid")
    notify.subscribe_webhook(
        {"district": DISTRICT, "url": url, "event_types": ["#"], "secret": SECRET}
    )
    notify.publish_announcement(announcement(1))

    [received] = wait_until(lambda: receiver.requests, what="the pinned delivery")
    assert received.headers["Host"] == f"pinned.example.invalid:{receiver.port}"
