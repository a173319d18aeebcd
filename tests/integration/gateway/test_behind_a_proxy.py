"""The gateway behind a reverse proxy hop (an ingress controller): limits count per client
address, not per proxy, and cookies are Secure when TLS ends at the proxy."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from pymongo import MongoClient

from services.gateway.auth import DISTRICT_ADMIN
from tests.integration.gateway.gateway_stack import DISTRICT, PASSWORD, Stack, start_stack
from tests.integration.gateway.reverse_proxy import reverse_proxy

LIMIT = 3


@pytest.fixture
def proxied(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> Iterator[tuple[Stack, tuple[str, int]]]:
    stack = start_stack(
        container_factory,
        nameko_config,
        mongo_client,
        QUNPING_LOGIN_LIMIT_PER_MINUTE=LIMIT,
        QUNPING_TRUSTED_PROXY_HOPS=1,
    )
    with reverse_proxy(stack.url) as proxy:
        yield stack, proxy


def send(
    proxy: tuple[str, int],
    client: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """A request to the proxy from the loopback address `client`."""
    connection = http.client.HTTPConnection(*proxy, timeout=30, source_address=(client, 0))
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def wrong_login(proxy: tuple[str, int], client: str, **headers: str) -> int:
    body = json.dumps({"username": "nobody", "password": "wrong password"}).encode()
    headers = {"Content-Type": "application/json", **headers}
    return send(proxy, client, "POST", "/api/login", body, headers).status


def test_two_client_addresses_behind_one_proxy_are_limited_separately(
    proxied: tuple[Stack, tuple[str, int]],
) -> None:
    _, proxy = proxied

    first = [wrong_login(proxy, "127.0.0.2") for _ in range(LIMIT + 1)]
    # The proxy appends the address it saw; a client's own X-Forwarded-For is not believed.
    forged = wrong_login(proxy, "127.0.0.2", **{"X-Forwarded-For": "203.0.113.9"})
    second = [wrong_login(proxy, "127.0.0.3") for _ in range(LIMIT + 1)]

    assert first == [401] * LIMIT + [429]
    assert forged == 429
    assert second == [401] * LIMIT + [429]


def test_the_session_cookie_is_secure_when_tls_ends_at_the_proxy(
    proxied: tuple[Stack, tuple[str, int]],
) -> None:
    stack, proxy = proxied
    stack.accounts.create("proxied-admin", PASSWORD, DISTRICT_ADMIN, None, district=DISTRICT)
    form = urlencode({"username": "proxied-admin", "password": PASSWORD}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    answer = send(proxy, "127.0.0.4", "POST", "/login", form, headers)

    assert answer.status == 303
    cookie = answer.getheader("Set-Cookie") or ""
    assert cookie.startswith("qp_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie
