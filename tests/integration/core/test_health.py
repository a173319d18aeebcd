"""`/livez` and `/readyz` of a real nameko service, over real HTTP, against the real broker
and MongoDB wire server, and against closed ports standing for an outage."""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from qunping.core.health import HealthEndpoints
from qunping.operator import infra


class ProbedService(HealthEndpoints):
    name = "probed"


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def started_service(container_factory: Callable[..., Any], config: dict[str, Any]) -> int:
    port = infra.free_port()
    container = container_factory(
        ProbedService, {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    )
    container.start()
    return port


def test_a_service_with_its_broker_and_database_up_is_alive_and_ready(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    port = started_service(container_factory, nameko_config)

    assert get(port, "/livez") == (200, {"status": "alive"})
    assert get(port, "/readyz") == (200, {"status": "ready", "checked": ["mongodb", "amqp"]})


def test_readiness_is_503_naming_mongodb_when_mongodb_is_unreachable_but_liveness_holds(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    unreachable = f"mongodb://127.0.0.1:{infra.free_port()}/?directConnection=true"
    port = started_service(container_factory, {**nameko_config, "MONGO_URI": unreachable})

    status, body = get(port, "/readyz")

    assert status == 503
    assert body["status"] == "not ready"
    assert set(body["failed"]) == {"mongodb"}
    assert get(port, "/livez") == (200, {"status": "alive"})


def test_readiness_is_503_naming_both_when_broker_and_database_are_unreachable(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    # A service with only HTTP entrypoints needs no broker to start, so this can be shown.
    outage = {
        "MONGO_URI": f"mongodb://127.0.0.1:{infra.free_port()}/?directConnection=true",
        "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{infra.free_port()}/",
    }
    port = started_service(container_factory, {**nameko_config, **outage})

    status, body = get(port, "/readyz")

    assert status == 503
    assert set(body["failed"]) == {"mongodb", "amqp"}
