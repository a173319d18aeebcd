"""Which forwarded headers the gateway believes: as many entries as trusted proxy hops."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from qunping.core.errors import InvalidInput
from services.gateway.dependencies import Gateway
from services.gateway.settings import gateway_settings


class _Api:
    def __init__(self, hops: int) -> None:
        self.settings = gateway_settings({"QUNPING_TRUSTED_PROXY_HOPS": str(hops)}, {})


def as_sent(hops: int, headers: dict[str, str]) -> Request:
    environ = EnvironBuilder(path="/api/me", headers=headers).get_environ()
    environ["REMOTE_ADDR"] = "10.0.0.7"  # the proxy
    api: Any = _Api(hops)
    return Gateway(api, None).as_sent(Request(environ))  # type: ignore[arg-type]


FORWARDED = {"X-Forwarded-For": "198.51.100.1, 192.0.2.5", "X-Forwarded-Proto": "https"}


def test_without_trusted_hops_forwarded_headers_are_ignored() -> None:
    request = as_sent(0, FORWARDED)

    assert request.remote_addr == "10.0.0.7"
    assert request.scheme == "http"


def test_one_hop_believes_the_last_entry_only() -> None:
    request = as_sent(1, FORWARDED)

    assert request.remote_addr == "192.0.2.5"
    assert request.scheme == "https"


def test_two_hops_believe_the_last_two_entries() -> None:
    assert as_sent(2, FORWARDED).remote_addr == "198.51.100.1"


def test_hops_are_a_small_count() -> None:
    with pytest.raises(InvalidInput, match="QUNPING_TRUSTED_PROXY_HOPS"):
        gateway_settings({"QUNPING_TRUSTED_PROXY_HOPS": "-1"}, {})
