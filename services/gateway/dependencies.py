"""The gateway's nameko dependency: its own database (accounts, sessions), the API, the pages."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request

from qunping.core.dependencies import service_database
from services.gateway.api import Api
from services.gateway.auth import Accounts
from services.gateway.own_routes import own_routes
from services.gateway.pages import Pages
from services.gateway.settings import gateway_settings


def _nothing(environ: Any, start_response: Any) -> Any:
    """The app ProxyFix wraps: the gateway wants only the environ it rewrote."""
    return ()


def _unused_start_response(*args: Any) -> Any:
    raise AssertionError("the wrapped app answers nothing")


class Gateway:
    def __init__(self, api: Api, pages: Pages) -> None:
        self.api = api
        self.pages = pages
        hops = api.settings.trusted_proxy_hops
        # werkzeug's ProxyFix, applied to one request's environ: the client address, scheme
        # and host become those the `hops` trusted proxies nearest the gateway saw.
        self._proxy_fix = (
            ProxyFix(_nothing, x_for=hops, x_proto=hops, x_host=hops) if hops else None
        )

    def as_sent(self, request: Request) -> Request:
        """The request as its client sent it: address, scheme and host from behind the
        trusted proxies (rate limits count per client, cookies are Secure behind TLS)."""
        if self._proxy_fix is None:
            return request
        # ProxyFix rewrites the environ in place (keeping the original beside it); a new
        # Request reads it afresh, with nothing cached from before.
        self._proxy_fix(request.environ, _unused_start_response)
        return Request(request.environ)


class GatewayDependency(DependencyProvider):  # type: ignore[misc]
    """One `Api` and `Pages` per container, so rate-limit counters are shared by workers."""

    def setup(self) -> None:
        config = self.container.config
        self.client, database = service_database(config, self.container.service_name)
        settings = gateway_settings(config)
        self.accounts = Accounts(
            database,
            settings.session_minutes,
            settings.lockout_failures,
            settings.lockout_minutes,
        )
        api = Api(self.accounts, settings, own_routes(self.accounts))
        self.gateway = Gateway(api, Pages(api))

    def start(self) -> None:
        self.accounts.ensure_indexes()

    def stop(self) -> None:
        self.client.close()

    def kill(self) -> None:
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> Gateway:
        return self.gateway
