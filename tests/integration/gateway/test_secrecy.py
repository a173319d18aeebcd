"""Receipt-freedom over everything published for a meeting, with the whole stack running.

A meeting is held over the real gateway: the first half of its voters rate 满意, the
second half 不满意, each from a device with its own cast id. Then everything a reader can
get about it is collected: every API answer, every message on the events and public
exchanges, every log's feed, a webhook's deliveries, the audit bundle and the 公示 notice.
Property 1: nothing of it orders the ballots by casting or carries a receipt, token,
token hash, cast id, slip or name beside them. Property 2: a voter checks their receipt
during voting and after the close, and the answer says in the box and counted, never
which marks.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import eventlet
import kombu
import pytest

from qunping.core import registry
from qunping.core.amqp import events_exchange, public_exchange
from qunping.core.envelope import canonical_json
from qunping.operator import infra
from services.ballot.judgement import canonical_ballots
from services.gateway.auth import DISTRICT_ADMIN, SCRUTINEER
from tests.integration.gateway.gateway_stack import Stack
from tests.integration.gateway.test_api import call, open_meeting
from tests.integration.notify.receiver import Receiver, always

VOTERS = 6
FIRST, SECOND = "满意", "不满意"


def ballot_marks(value: str) -> list[dict[str, str]]:
    return [
        {"subject": "secretary-1", "dimension": "德", "value": "优秀"},
        {"subject": "committee-1", "dimension": "社区服务", "value": value},
    ]


@pytest.fixture
def services_config() -> dict[str, str]:
    # The test's webhook receiver listens on loopback, which webhooks reach only where allowed.
    return {"QUNPING_WEBHOOK_ALLOW": "127.0.0.1/32"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver(infra.free_port(), always(200)).start()
    yield made
    made.stop()


def watch(connection: kombu.Connection, name: str, exchange: Any) -> kombu.Queue:
    queue = kombu.Queue(name, exchange, routing_key="#", durable=False, auto_delete=False)
    queue(connection.default_channel).declare()
    return queue


def drain(connection: kombu.Connection, queues: list[kombu.Queue]) -> list[dict[str, Any]]:
    """Every message waiting on the queues, until none came for two seconds."""
    received: list[dict[str, Any]] = []
    with kombu.Consumer(
        connection, queues, on_message=lambda m: (received.append(json.loads(m.body)), m.ack())
    ):
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2:
            before = len(received)
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                eventlet.sleep(0)
            if len(received) != before:
                quiet_since = time.monotonic()
    for queue in queues:
        queue(connection.default_channel).delete()
    return received


def until_ok(stack: Stack, path: str, token: str | None = None, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        answer = call(stack, "GET", path, token)
        if answer.status_code == 200 or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text
            return answer.json()
        time.sleep(0.3)


@dataclass
class Voted:
    meeting_id: str
    path: str
    tokens: list[str]
    values: list[str]
    cast_ids: list[str]
    receipts: list[str]
    during: list[dict[str, Any]]
    """Each voter's receipt check while voting is open."""
    after: list[dict[str, Any]]
    """... and after the close."""
    results: dict[str, Any]


def hold_meeting(stack: Stack, admin: str) -> Voted:
    """The first half rate 满意, the second 不满意, each device with its own cast id."""
    scrutineer = stack.account("scrutineer", SCRUTINEER)
    meeting_id, tokens, _ = open_meeting(stack, admin, VOTERS, scrutineer)
    path = f"/api/meetings/{meeting_id}"
    values = [FIRST] * (VOTERS // 2) + [SECOND] * (VOTERS - VOTERS // 2)
    cast_ids = [secrets.token_hex(16) for _ in tokens]
    receipts = []
    for token, value, cast_id in zip(tokens, values, cast_ids, strict=True):
        ballot = {"token": token, "marks": ballot_marks(value), "cast_id": cast_id}
        cast = call(stack, "POST", path + "/ballots", json=ballot)
        assert cast.status_code == 200, cast.text
        assert set(cast.json()) == {"receipt", "meeting_id"}
        receipts.append(cast.json()["receipt"])
    during = [
        call(stack, "POST", path + "/receipts", json={"code": code}).json() for code in receipts
    ]
    closed = call(stack, "POST", path + "/close", scrutineer)
    assert closed.status_code == 200, closed.text
    results = until_ok(stack, path + "/results")
    after = [
        call(stack, "POST", path + "/receipts", json={"code": code}).json() for code in receipts
    ]
    return Voted(meeting_id, path, tokens, values, cast_ids, receipts, during, after, results)


def test_nothing_published_for_a_meeting_orders_its_ballots_or_links_one_to_anything(
    stack: Stack, nameko_config: dict[str, Any], receiver: Receiver
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    connection = kombu.Connection(nameko_config["AMQP_URI"])
    suffix = secrets.token_hex(4)
    queues = [
        watch(connection, f"secrecy-events-{suffix}", events_exchange("ballot")),
        watch(connection, f"secrecy-public-{suffix}", public_exchange()),
    ]
    hook = call(stack, "POST", "/api/webhooks", admin,
                json={"url": receiver.url, "event_types": ["#"], "secret": "s" * 20})  # fmt: skip
    assert hook.status_code == 200, hook.text
    voted = hold_meeting(stack, admin)
    meeting_id, path, results = voted.meeting_id, voted.path, voted.results
    tokens, values, cast_ids, receipts = voted.tokens, voted.values, voted.cast_ids, voted.receipts
    during, after = voted.during, voted.after

    # -- everything published for the meeting ----------------------------------------
    published: dict[str, Any] = {
        "detail": until_ok(stack, path),
        "status": until_ok(stack, path + "/status"),
        "board": until_ok(stack, path + "/board"),
        "results": results,
        "ballots": until_ok(stack, path + "/ballots", admin),
        "ballot log": until_ok(stack, "/api/ballot/log?after=0&limit=1000", admin),
        "bundle": until_ok(stack, f"/api/audit/bundle?meeting_id={meeting_id}", admin),
        "notice": until_ok(stack, f"/api/audit/notice?meeting_id={meeting_id}", admin),
        "announcements": until_ok(stack, "/api/announcements"),
    }
    for service in registry.logs():
        published[f"{service} feed"] = until_ok(
            stack, f"/api/{service}/feed?after=0&limit=500", admin
        )
    deadline = time.monotonic() + 30
    while not any(b"ResultsPublished" in r.body for r in receiver.requests):
        assert time.monotonic() < deadline, "the webhook got the results"
        time.sleep(0.3)
    published["webhook deliveries"] = [json.loads(r.body) for r in receiver.requests]
    published["webhook log"] = until_ok(stack, "/api/webhook-deliveries", admin)
    published["messages"] = drain(connection, queues)
    connection.release()
    text = {name: json.dumps(value, ensure_ascii=False) for name, value in published.items()}

    # Property 1: nothing links a ballot to its voter's token, token hash, cast id or receipt.
    stored = [e for commit in stack.ballot_db["events"].find() for e in commit["events"]]
    [issued] = [e["data"] for e in stored if e["type"] == "TokensIssued"]
    hashes = issued["token_hashes"]
    secrets_of_voters = {*tokens, *hashes, *cast_ids, *receipts, issued["salt"]}
    for name, blob in text.items():
        leaked = sorted(s for s in secrets_of_voters if s in blob)
        assert not leaked, f"{name} shows {leaked[:3]}"
        assert "居民" not in blob, f"{name} names a representative"

    # ... and what carries marks carries them only, sorted by content, not by casting.
    expected = canonical_ballots(ballot_marks(value) for value in values)
    assert published["ballots"]["ballots"] == [{"marks": marks} for marks in expected]
    bundle = [json.loads(line) for line in published["bundle"]["bundle"].splitlines()]
    [box] = [line for line in bundle if line["kind"] == "ballots"]
    assert box == {"kind": "ballots", "meeting_id": meeting_id, "ballots": expected}
    cast_order = [ballot_marks(value)[1]["value"] for value in values]
    assert [b[0]["value"] for b in expected] != cast_order, "content order is not casting order"

    # Each ballot, spent token, counted slip or keying leaves sealed: that one exists, no more.
    per_ballot = [
        event
        for source in (published["messages"], published["ballot log"]["events"])
        for event in source
        if event["type"].rsplit(".", 1)[-1] in ("BallotCast", "TokenSpent", "SlipCounted")
    ]
    assert len(per_ballot) >= 2 * 2 * VOTERS
    assert all(event["data"] == {"meeting_id": meeting_id, "sealed": True} for event in per_ballot)
    in_bundle = [line for line in bundle if line.get("type") in ("BallotCast", "TokenSpent")]
    assert len(in_bundle) == 2 * VOTERS and not any("event" in line for line in in_bundle)
    public_types = {
        event["type"].rsplit(".", 1)[-1]
        for event in [*published["ballot feed"]["events"], *published["webhook deliveries"]]
    }
    assert public_types.isdisjoint({"BallotCast", "TokenSpent", "TokensIssued", "SlipCounted"})
    # The hashes a ballot event is known by outside are no key to its marks: no published
    # item that shows marks also shows one of them.
    ballot_hashes = {
        event["hash"]
        for event in published["ballot log"]["events"]
        if "BallotCast" in event["type"]
    }
    for name in ("ballots", "results", "notice"):
        assert not any(h in text[name] for h in ballot_hashes), name

    # Property 2: a voter finds their receipt in the box, then counted; never the marks.
    assert all(
        answer == {"meeting_id": meeting_id, "code": code, "in_ballot_box": True, "counted": False}
        for answer, code in zip(during, receipts, strict=True)
    )
    assert all(answer["counted"] for answer in after)
    assert not any(FIRST in json.dumps(a, ensure_ascii=False) for a in during + after)
    assert hashlib.sha256(canonical_json(expected)).hexdigest() == next(
        line["event"]["data"]["ballots_digest"]
        for line in bundle
        if line.get("type") == "VotingClosed"
    )
