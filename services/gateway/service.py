"""The gateway's nameko entrypoints: the JSON API, its OpenAPI document, and the pages.

Each entrypoint hands the request to `Api` or `Pages`, with a function that calls the
other services over RPC; every rule lives in the route table and the modules it names.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import eventlet
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from qunping.core.health import HealthEndpoints
from services.gateway.api import NoAnswer
from services.gateway.dependencies import Gateway, GatewayDependency
from services.gateway.openapi import openapi_document

# eventlet's access log names each client address and path; on the voting pages that
# would be a record of who cast when (docs/architecture.md#2-secret-ballot), so the gateway
# keeps none.
logging.getLogger("nameko.web.server").setLevel(logging.WARNING)


class GatewayService(HealthEndpoints):
    name = "gateway"
    gateway: Gateway = GatewayDependency()
    ballot = RpcProxy("ballot")
    tally = RpcProxy("tally")
    notify = RpcProxy("notify")
    pledge = RpcProxy("pledge")
    audit = RpcProxy("audit")

    def _call(self, service: str, method: str, payload: Any) -> Any:
        remote = getattr(getattr(self, service), method)
        # nameko's RPC waits for ever; a request must not, nor hold a worker that long.
        seconds = self.gateway.api.settings.timeout_for(service)
        with eventlet.Timeout(seconds, NoAnswer(service, seconds)):
            return remote(payload)

    @http("GET,POST", "/api/<path:rest>")
    def api(self, request: Request, rest: str) -> Response:
        return self.gateway.api.handle(self.gateway.as_sent(request), self._call)

    @http("GET", "/openapi.json")
    def openapi(self, request: Request) -> Response:
        return Response(
            json.dumps(openapi_document(), ensure_ascii=False), content_type="application/json"
        )

    @http("GET", "/")
    def home(self, request: Request) -> Response:
        return self.gateway.pages.handle(self.gateway.as_sent(request), self._call)

    @http("GET,POST", "/<path:rest>")
    def pages(self, request: Request, rest: str) -> Response:
        return self.gateway.pages.handle(self.gateway.as_sent(request), self._call)
