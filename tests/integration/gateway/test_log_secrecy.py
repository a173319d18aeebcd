"""Every log line of every service, logging as configured for QUNPING_LOG_LEVEL=DEBUG and
QUNPING_LOG_FORMAT=json, while a voter casts a ballot and looks up the receipt: none holds
the token, the receipt, a mark, the voter's address or user agent, and the gateway's
request and ballot's RPC calls share a correlation id."""

from __future__ import annotations

import http.client
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest

from qunping.core.logs import NO_CORRELATION, OWN_LOGGERS, logging_config
from services.gateway.auth import DISTRICT_ADMIN
from tests.integration.gateway.gateway_stack import Stack
from tests.integration.gateway.test_api import open_meeting

VOTER_ADDRESS = "127.0.0.77"
"""A loopback address of the voter's own, so that it can be searched for."""
USER_AGENT = "Mozilla/5.0 (Linux; Android 14; VoterPhone-q7x3)"


class Lines(logging.Handler):
    """Keeps what a service's console handler would write."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """The services' logging configuration, its console handler writing to a list."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    lines = Lines()
    config = logging_config("DEBUG", "json", "under-test")
    config["handlers"]["console"] = {**config["handlers"]["console"], "()": lambda: lines}
    del config["handlers"]["console"]["class"]
    logging.config.dictConfig(config)
    yield lines
    root.removeHandler(lines)
    root.setLevel(level)
    for handler in handlers:
        root.addHandler(handler)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def voter_request(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A request from the voter's phone: its own address, a browser's user agent."""
    port = int(stack.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(VOTER_ADDRESS, 0)
    )
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    connection.request(method, path, None if body is None else json.dumps(body), headers)
    answer = connection.getresponse()
    status, text = answer.status, answer.read().decode()
    connection.close()
    return status, json.loads(text) if text.startswith("{") else text


def test_no_log_line_of_a_cast_holds_token_receipt_mark_address_or_user_agent(
    stack: Stack, log_lines: Lines
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    meeting_id, tokens, _ = open_meeting(stack, admin, 2)
    path = f"/api/meetings/{meeting_id}"
    cast_path_starts = len(log_lines.lines)

    marks = [{"subject": "committee-1", "dimension": "社区服务", "value": "不满意"}]
    status, cast = voter_request(
        stack, "POST", f"{path}/ballots", {"token": tokens[0], "marks": marks}
    )
    assert status == 200, cast
    again, _ = voter_request(stack, "POST", f"{path}/ballots", {"token": tokens[0], "marks": marks})
    assert again == 409
    receipt = cast["receipt"]
    status, found = voter_request(stack, "POST", f"{path}/receipts", {"code": receipt})
    assert (status, found["in_ballot_box"]) == (200, True)
    status, _ = voter_request(stack, "GET", f"/receipt/{meeting_id}")
    assert status == 200

    lines = log_lines.lines[cast_path_starts:]
    secrets = {
        "token": tokens[0],
        "receipt": receipt,
        "mark": "满意",
        "address": VOTER_ADDRESS,
        "user agent": "VoterPhone",
    }
    for line in lines:
        leaked = [what for what, secret in secrets.items() if secret in line]
        assert leaked == [], f"{leaked} in {line}"

    records = [json.loads(line) for line in lines]
    assert {"time", "service", "level", "logger", "message", "correlation_id"} <= set(records[0])

    def correlations(worker: str) -> list[str]:
        return [
            record["correlation_id"]
            for record in records
            if record["message"].startswith(f"{worker}: ")
            and record["correlation_id"] != NO_CORRELATION
        ]

    casts = correlations("ballot.cast_ballot")
    assert len(casts) == 2, "both casts were logged, each with its correlation id"
    assert set(casts) <= set(correlations("gateway.api")), "each is its request's"
