"""A service that takes a request and does not answer: the gateway answers 504 in time.

nameko's RPC would wait for ever; the gateway bounds every call, so one stuck service
holds neither the voter's phone nor a gateway worker. The stand-in below is a service of
the test's own under ballot's name, on the real broker.
"""

import time
from collections.abc import Callable
from typing import Any

import eventlet
import requests
from nameko.rpc import rpc

from qunping.operator import infra
from services.gateway.service import GatewayService

MEETING = "0" * 16


class StuckBallot:
    name = "ballot"

    @rpc
    def meeting_detail(self, payload: dict[str, Any]) -> dict[str, Any]:
        eventlet.sleep(60)
        return {}


def test_a_service_that_does_not_answer_in_time_is_answered_504_by_the_api_and_the_pages(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    container_factory(StuckBallot, nameko_config).start()
    port = infra.free_port()
    container_factory(
        GatewayService,
        {
            **nameko_config,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "QUNPING_RPC_TIMEOUT_SECONDS": 1,
        },
    ).start()
    url = f"http://127.0.0.1:{port}"

    started = time.monotonic()
    answer = requests.get(f"{url}/api/meetings/{MEETING}", timeout=30)
    waited = time.monotonic() - started
    page = requests.get(f"{url}/board/{MEETING}", timeout=30)

    assert answer.status_code == 504
    assert answer.json() == {
        "error": "ballot did not answer within 1 s; it may still do what was asked, "
        "so look before asking again"
    }
    assert 1 <= waited < 10
    assert page.status_code == 504
    assert "ballot did not answer within 1 s" in page.text
