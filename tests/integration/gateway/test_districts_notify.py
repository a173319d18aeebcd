"""Districts as tenants in notify: each district's webhooks, deliveries, contacts, alert
addresses, announcements and e-mails are its own; another district's are answered as if
there were none, and an event reaches only the district it concerns (and, about a whole
log, every district)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import kombu
import pytest
import requests
from pymongo import MongoClient

from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE
from qunping.core.envelope import NewEvent, json_bytes, to_cloudevent
from qunping.core.memory_eventlog import InMemoryEventLog
from qunping.operator import infra
from services.gateway.auth import DISTRICT_ADMIN
from services.gateway.routes import ROUTES
from tests.integration.gateway.gateway_stack import PASSWORD, Stack, start_stack
from tests.integration.gateway.test_districts import QINGYUAN, YONGFENG, api, two_districts
from tests.integration.notify.receiver import Receiver, always

GUANGMING = "光明社区"


@pytest.fixture
def stack(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> Stack:
    """The stack with room for two districts' logins; webhooks may reach the tests'
    receivers on loopback, and a failed delivery is dead at once."""
    config = {
        **nameko_config,
        "QUNPING_WEBHOOK_ALLOW": "127.0.0.1/32",
        "QUNPING_WEBHOOK_MAX_ATTEMPTS": "1",
        "QUNPING_WEBHOOK_TIMEOUT_SECONDS": "2",
        "QUNPING_DISTRICT_EMAILS": "ops@platform.cn",
    }
    return start_stack(container_factory, config, mongo_client, QUNPING_LOGIN_LIMIT_PER_MINUTE=100)


@pytest.fixture
def receivers() -> Iterator[Callable[[int], Receiver]]:
    made: list[Receiver] = []

    def make(status: int) -> Receiver:
        made.append(Receiver(infra.free_port(), always(status)).start())
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


def ok(answer: requests.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def received(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.requests]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    """The events' types, but the checkpoints and keys every log signs now and then (they
    reach every district's webhooks, at times the test does not choose)."""
    every_log_signs = {"CheckpointSigned", "SigningKeyAnnounced"}
    types = [event["type"].rpartition(".")[2] for event in events]
    return [kind for kind in types if kind not in every_log_signs]


def subscribe(stack: Stack, admin: str, receiver: Receiver) -> str:
    body = {"url": receiver.url, "event_types": ["#"], "secret": "s" * 20}
    return str(ok(api(stack, "POST", "/api/webhooks", admin, json=body))["subscription_id"])


def campaign(stack: Stack, admin: str) -> str:
    body = {"year": 2011, "batch": "第一批"}
    return str(ok(api(stack, "POST", "/api/campaigns", admin, json=body))["campaign_id"])


def publish(amqp_uri: str, log: str, event_type: str, data: dict[str, Any]) -> str:
    """What another service's relay publishes on `qunping.public` (the contract's form), for
    events the test cannot bring about quickly (a tally's results of a whole meeting)."""
    [event] = InMemoryEventLog(log).append(f"{log}-test", [NewEvent(event_type, data)])
    with kombu.Connection(amqp_uri) as connection:
        connection.Producer().publish(
            json_bytes(to_cloudevent(event)),
            exchange="qunping.public",
            routing_key=f"{log}.{event_type}",
            content_type=CLOUDEVENTS_CONTENT_TYPE,
            content_encoding="utf-8",
        )
    return event.event_id


def announce(stack: Stack, admin: str, kind: str, title: str) -> str:
    body = {"community": GUANGMING, "kind": kind, "title": title, "body": "10月12日上午9:30"}
    return str(ok(api(stack, "POST", "/api/announcements", admin, json=body))["announcement_id"])


def test_every_notify_route_for_another_districts_things_is_refused_and_writes_nothing(
    stack: Stack, receivers: Callable[[int], Receiver]
) -> None:
    qingyuan, yongfeng = two_districts(stack)
    tokens = {DISTRICT_ADMIN: qingyuan}
    for role in ("organiser", "assessor", "auditor", "scrutineer"):
        body = {"username": f"qy-{role}", "password": PASSWORD, "role": role,
                "community": GUANGMING if role == "organiser" else None}  # fmt: skip
        ok(api(stack, "POST", "/api/accounts", qingyuan, json=body))
        tokens[role] = stack.login(f"qy-{role}")
    failing = receivers(500)
    their_subscription = subscribe(stack, yongfeng, failing)
    their_notice = announce(stack, yongfeng, "notice", "永丰县公告")
    [dead] = wait_for(
        lambda: [
            d
            for d in ok(api(stack, "GET", "/api/webhook-deliveries?status=dead", yongfeng))
            if d["routing_key"] == "notify.AnnouncementPublished"
        ],
        "their dead letter",
    )
    heads = stack.log_heads()
    theirs = {"district": YONGFENG}
    requests_for_theirs: dict[str, tuple[str, dict[str, Any]]] = {
        "notify.subscribe_webhook": (
            "/api/webhooks", {**theirs, "url": failing.url, "event_types": ["#"],
                              "secret": "s" * 20}),
        "notify.webhook_subscriptions": (f"/api/webhooks?district={YONGFENG}", {}),
        "notify.unsubscribe_webhook": (f"/api/webhooks/{their_subscription}/unsubscribe", {}),
        "notify.webhook_deliveries": (f"/api/webhook-deliveries?district={YONGFENG}", {}),
        "notify.webhook_attempts": (f"/api/webhook-attempts?district={YONGFENG}", {}),
        "notify.redeliver": (f"/api/webhook-deliveries/{dead['delivery_id']}/redeliver", {}),
        "notify.set_community_contacts": (
            "/api/community-contacts", {**theirs, "community": GUANGMING,
                                        "emails": ["x@taken.cn"]}),
        "notify.set_district_contacts": (
            "/api/district-contacts", {**theirs, "emails": ["x@taken.cn"]}),
        "notify.emails": (f"/api/emails?district={YONGFENG}", {}),
        "notify.publish_announcement": (
            "/api/announcements", {**theirs, "community": GUANGMING, "kind": "notice",
                                   "title": "冒名公告", "body": "正文"}),
        "notify.withdraw_announcement": (
            f"/api/announcements/{their_notice}/withdraw", {"reason": "撤回"}),
    }  # fmt: skip
    # The feed of notify's public events is every log's public contract, not a district's.
    notify_routes = {
        r.name: r
        for r in ROUTES
        if r.service == "notify" and not r.is_public and r.rpc != "public_feed"
    }

    statuses = {}
    for name, route in notify_routes.items():
        path, body = requests_for_theirs[name]
        for role, token in tokens.items():
            answer = api(stack, route.method, path, token, json=body or None)
            statuses[(name, role)] = answer.status_code
            expected = 403 if role not in route.roles or "district" in path + str(body) else 404
            assert answer.status_code == expected, (name, role, answer.text)

    assert set(requests_for_theirs) == set(notify_routes)
    assert len(statuses) == len(notify_routes) * len(tokens)
    assert stack.log_heads() == heads
    their_deliveries = ok(api(stack, "GET", "/api/webhook-deliveries", yongfeng))
    assert {d["delivery_id"]: d["status"] for d in their_deliveries}[dead["delivery_id"]] == "dead"
    [still_theirs] = ok(api(stack, "GET", "/api/webhooks", yongfeng))
    assert still_theirs["subscription_id"] == their_subscription
    board = ok(requests.get(f"{stack.url}/api/announcements", timeout=30))
    assert [n["announcement_id"] for n in board] == [their_notice]
    # The same acts on one's own district's things are done.
    ours = announce(stack, qingyuan, "notice", "青原区公告")
    withdrawn = api(stack, "POST", f"/api/announcements/{ours}/withdraw", qingyuan,
                    json={"reason": "撤回"})  # fmt: skip
    assert withdrawn.status_code == 200, withdrawn.text


def test_an_event_reaches_the_webhooks_and_contacts_of_its_own_district_only(
    stack: Stack,
    receivers: Callable[[int], Receiver],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> None:
    notify_db = mongo_client[f"{nameko_config['QUNPING_DB_PREFIX']}notify"]
    qingyuan, yongfeng = two_districts(stack)
    ours, theirs = receivers(200), receivers(200)
    our_subscription = subscribe(stack, qingyuan, ours)
    subscribe(stack, yongfeng, theirs)
    for admin, short in ((qingyuan, "qy"), (yongfeng, "yf")):
        contacts = {"community": GUANGMING, "emails": [f"sq@{short}.cn"]}
        ok(api(stack, "POST", "/api/community-contacts", admin, json=contacts))
        alerts = {"emails": [f"zzb@{short}.gov.cn"]}
        ok(api(stack, "POST", "/api/district-contacts", admin, json=alerts))
    our_campaign, their_campaign = campaign(stack, qingyuan), campaign(stack, yongfeng)
    # Once each district's webhook has its campaign, notify knows where both belong.
    for receiver, campaign_id in ((ours, our_campaign), (theirs, their_campaign)):
        wait_for(
            lambda r=receiver, c=campaign_id: [
                e for e in received(r) if e["data"].get("campaign_id") == c
            ],
            "the campaign's event",
        )
    announce(stack, qingyuan, "meeting", "青原区测评会")
    amqp = nameko_config["AMQP_URI"]
    results = {"meeting_id": "3f2a9c4100000000", "campaign_id": our_campaign,
               "community": GUANGMING, "policy_hash": "ab" * 32, "results": {}}  # fmt: skip
    publish(amqp, "tally", "ResultsPublished", results)
    alert = {"meeting_id": "3f2a9c4100000000", "campaign_id": our_campaign,
             "community": GUANGMING, "headline": "满意率低于预警线", "details": "-"}  # fmt: skip
    publish(amqp, "tally", "AlertRaised", alert)
    lost = publish(amqp, "tally", "AlertRaised", {**alert, "campaign_id": "never-created"})
    whole_log = {"log": "ballot", "position": 7, "problem": "hash", "detail": "-",
                 "detected_by": "audit"}  # fmt: skip
    tamper = publish(amqp, "tally", "TamperDetected", whole_log)

    # Deliveries keep each subscription's order: once the last event is in, all are.
    for receiver in (ours, theirs):
        wait_for(lambda r=receiver: any(e["id"] == tamper for e in received(r)), "the alert")
    time.sleep(1)
    our_events, their_events = received(ours), received(theirs)
    our_emails = ok(api(stack, "GET", "/api/emails", qingyuan))
    their_emails = ok(api(stack, "GET", "/api/emails", yongfeng))

    assert kinds(our_events) == [
        "CampaignCreated", "AnnouncementPublished", "ResultsPublished", "AlertRaised",
        "TamperDetected",
    ]  # fmt: skip
    assert kinds(their_events) == [
        "CampaignCreated", "TamperDetected",
    ]  # fmt: skip
    assert lost not in {e["id"] for e in our_events + their_events}
    assert sorted((e["rule"], tuple(e["to"])) for e in our_emails) == [
        ("district_alert", ("zzb@qy.gov.cn",)),
        ("meeting_announced", ("sq@qy.cn",)),
        ("meeting_results", ("sq@qy.cn",)),
        ("tamper_detected", ("zzb@qy.gov.cn",)),
    ]
    assert [(e["rule"], e["to"]) for e in their_emails] == [("tamper_detected", ["zzb@yf.gov.cn"])]
    platform_emails = notify_db["emails"].find({"district": None}, sort=[("rule", 1)])
    assert [(e["rule"], e["to"]) for e in platform_emails] == [
        ("district_alert", ["ops@platform.cn"]),
        ("tamper_detected", ["ops@platform.cn"]),
    ], "the platform's operators get the whole log's alert, and the one of no known district"
    subscriptions = ok(api(stack, "GET", "/api/webhooks", qingyuan))
    assert [s["subscription_id"] for s in subscriptions] == [our_subscription]
    deliveries = ok(api(stack, "GET", "/api/webhook-deliveries", qingyuan))
    assert {d["subscription_id"] for d in deliveries} == {our_subscription}
    attempts = ok(api(stack, "GET", "/api/webhook-attempts", qingyuan))
    assert {a["subscription_id"] for a in attempts} == {our_subscription}
    their_board = requests.get(f"{stack.url}/api/announcements?district={YONGFENG}", timeout=30)
    our_board = requests.get(f"{stack.url}/api/announcements?district={QINGYUAN}", timeout=30)
    assert ok(their_board) == [] and [n["title"] for n in ok(our_board)] == ["青原区测评会"]
