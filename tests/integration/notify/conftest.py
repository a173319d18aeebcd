"""Running the real notify service against the test run's RabbitMQ and MongoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from services.notify.service import NotifyService
from tests.actors import Acting

FAST_RETRIES = {
    "QUNPING_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "QUNPING_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "QUNPING_WEBHOOK_MAX_ATTEMPTS": "5",
    "QUNPING_WEBHOOK_TIMEOUT_SECONDS": "1",
}
LOCAL_RECEIVERS = {"QUNPING_WEBHOOK_ALLOW": "127.0.0.1/32"}
"""The tests' receivers listen on loopback, which webhooks may reach only when allowed."""


@pytest.fixture
def start_notify(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> Iterator[Callable[..., Any]]:
    """Start notify with config overrides; returns an RPC proxy to it."""
    with ExitStack() as stack:

        def start(service: type = NotifyService, **overrides: str) -> Any:
            config = {**nameko_config, **FAST_RETRIES, **LOCAL_RECEIVERS, **overrides}
            container = container_factory(service, config)
            container.start()
            return Acting(stack.enter_context(ClusterRpcProxy(config)).notify)

        yield start
