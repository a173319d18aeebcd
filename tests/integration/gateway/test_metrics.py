"""Every service's /metrics over real HTTP, scraped before and after a cast, a close and a
webhook delivery that fails until it is dead-lettered: the counters and lags move as they
should, and no label carries an id, token, receipt, name or address."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from qunping.core import registry
from services.gateway.auth import DISTRICT_ADMIN
from services.gateway.routes import ROUTES
from tests.deploy.manifests import KUBE_STATE_METRICS, MONITORING, alert_rules, metric_names, render
from tests.integration.gateway.gateway_stack import Stack
from tests.integration.gateway.test_api import call, open_meeting

Series = tuple[str, frozenset[tuple[str, str]]]
Scrape = dict[Series, float]

GIVES_UP_FAST = {
    "QUNPING_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "QUNPING_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "QUNPING_WEBHOOK_MAX_ATTEMPTS": "2",
    "QUNPING_WEBHOOK_TIMEOUT_SECONDS": "1",
}
SETTLING = ("qunping_relay", "qunping_eventlog", "qunping_projection", "qunping_webhook")
CAST_ROUTE = next(route.path for route in ROUTES if route.rpc == "cast_ballot")


@pytest.fixture
def services_config() -> dict[str, str]:
    # The refusing receiver listens on loopback, which webhooks reach only where allowed.
    return {**GIVES_UP_FAST, "QUNPING_WEBHOOK_ALLOW": "127.0.0.1/32"}


def scrape(stack: Stack, service: str) -> Scrape:
    answer = requests.get(f"http://127.0.0.1:{stack.ports[service]}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(scraped: Scrape, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def eventually(service: str, stack: Stack, condition: Callable[[Scrape], bool]) -> Scrape:
    deadline = time.monotonic() + 60
    while True:
        scraped = scrape(stack, service)
        if condition(scraped):
            return scraped
        if time.monotonic() > deadline:
            gauges = {
                f"{name}{dict(labels)}": number
                for (name, labels), number in scraped.items()
                if name.startswith(SETTLING)
            }
            raise AssertionError(f"{service}'s metrics never settled: {gauges}")
        time.sleep(0.2)


def head(scraped: Scrape, log: str) -> float:
    return value(scraped, "qunping_eventlog_head_position", log=log)


def relayed(log: str) -> Callable[[Scrape], bool]:
    """The broker confirmed everything the log holds."""

    def check(scraped: Scrape) -> bool:
        lag = value(scraped, "qunping_relay_lag_events", log=log)
        published = value(scraped, "qunping_relay_published_position", log=log)
        return lag == 0 and published == head(scraped, log) > 0

    return check


def projected_to(position: float) -> Callable[[Scrape], bool]:
    labels = {"projection": "tally", "source_log": "ballot"}

    def check(scraped: Scrape) -> bool:
        checkpoint = value(scraped, "qunping_projection_checkpoint_position", **labels)
        return (
            checkpoint == position
            and value(scraped, "qunping_projection_lag_events", **labels) == 0
        )

    return check


@pytest.fixture
def refusing() -> Iterator[str]:
    """A URL whose port is bound and never listened on: it refuses every connection, and no
    other process can start answering there meanwhile (as on a port merely found free)."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}/hook"


def test_metrics_move_with_a_cast_a_close_and_a_dead_lettered_webhook(
    stack: Stack, refusing: str
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    meeting_id, tokens, scrutineer = open_meeting(stack, admin, 2)
    path = f"/api/meetings/{meeting_id}"
    subscribed = call(stack, "POST", "/api/webhooks", admin, json={
        "url": refusing, "event_types": ["ballot.VotingClosed"], "secret": "s" * 16,
    })  # fmt: skip
    assert subscribed.status_code == 200
    before = {service: scrape(stack, service) for service in registry.names()}
    assert relayed("ballot")(eventually("ballot", stack, relayed("ballot")))

    marks = [{"subject": "committee-1", "dimension": "社区服务", "value": "满意"}]
    cast = call(stack, "POST", f"{path}/ballots", json={"token": tokens[0], "marks": marks})
    again = call(stack, "POST", f"{path}/ballots", json={"token": tokens[0], "marks": marks})
    assert (cast.status_code, again.status_code) == (200, 409)

    ballot = eventually("ballot", stack, relayed("ballot"))
    cast_calls = value(ballot, "qunping_rpc_calls_total", method="cast_ballot", outcome="ok")
    assert (
        cast_calls
        == value(before["ballot"], "qunping_rpc_calls_total", method="cast_ballot", outcome="ok")
        + 1
    )
    assert value(ballot, "qunping_rpc_calls_total", method="cast_ballot", outcome="Refused") == 1
    for outcome in ("ok", "Refused"):
        timed = value(
            ballot, "qunping_rpc_duration_seconds_count", method="cast_ballot", outcome=outcome
        )
        assert timed == value(
            ballot, "qunping_rpc_calls_total", method="cast_ballot", outcome=outcome
        )
    appended = value(ballot, "qunping_events_appended_total", log="ballot")
    assert (
        appended - value(before["ballot"], "qunping_events_appended_total", log="ballot")
        == (head(ballot, "ballot") - head(before["ballot"], "ballot"))
        >= 1
    )
    gateway = scrape(stack, "gateway")
    for status in ("200", "409"):
        labels = {"route": CAST_ROUTE, "method": "POST", "status": status}
        assert value(gateway, "qunping_http_requests_total", **labels) == 1, status
    tally = eventually("tally", stack, projected_to(head(ballot, "ballot")))
    handled = value(tally, "qunping_events_handled_total", handler="on_ballot_event", outcome="ok")
    assert handled > value(
        before["tally"], "qunping_events_handled_total", handler="on_ballot_event", outcome="ok"
    )

    assert call(stack, "POST", f"{path}/close", scrutineer).status_code == 200

    ballot = eventually("ballot", stack, relayed("ballot"))
    tally = eventually("tally", stack, projected_to(head(ballot, "ballot")))
    tally = eventually("tally", stack, relayed("tally"))
    assert head(tally, "tally") > head(before["tally"], "tally"), "the results were published"
    notify = eventually(
        "notify", stack,
        lambda s: value(s, "qunping_webhook_deliveries", status="dead") == 1
        and value(s, "qunping_webhook_deliveries", status="pending") == 0,
    )  # fmt: skip
    assert value(notify, "qunping_webhook_attempts_total", outcome="retry") == 1
    assert value(notify, "qunping_webhook_attempts_total", outcome="dead") == 1
    assert value(notify, "qunping_webhook_attempts_total", outcome="delivered") == 0

    after = {service: scrape(stack, service) for service in registry.names()}
    secrets = [meeting_id, *tokens, cast.json()["receipt"], "居民", "127.0.0.1", "admin"]
    for service, scraped in after.items():
        assert ("process_start_time_seconds", frozenset()) in scraped, service
        for _, labels in scraped:
            for _, label_value in labels:
                assert not any(secret in label_value for secret in secrets), (service, labels)


def test_every_metric_an_alert_of_the_chart_names_is_one_the_services_export(
    stack: Stack,
) -> None:
    exported = {name for service in registry.names() for name, _ in scrape(stack, service)}
    rules = alert_rules(render({"metrics": MONITORING}))

    named = set().union(*(metric_names(rule["expr"]) for rule in rules))
    assert len(rules) >= 5
    assert named - KUBE_STATE_METRICS <= exported
    assert named - KUBE_STATE_METRICS, "the alerts read qunping's own metrics"
