"""The gateway's nameko dependency: its own database (accounts, sessions), the API, the pages."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from qunping.core.dependencies import service_database
from services.gateway.api import Api
from services.gateway.auth import Accounts
from services.gateway.own_routes import own_routes
from services.gateway.pages import Pages
from services.gateway.settings import gateway_settings


class Gateway:
    def __init__(self, api: Api, pages: Pages) -> None:
        self.api = api
        self.pages = pages


class GatewayDependency(DependencyProvider):  # type: ignore[misc]
    """One `Api` and `Pages` per container, so rate-limit counters are shared by workers."""

    def setup(self) -> None:
        config = self.container.config
        self.client, database = service_database(config, self.container.service_name)
        settings = gateway_settings(config)
        self.accounts = Accounts(database, settings.session_minutes)
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
