"""The gateway with ballot, tally and notify, running for real in this process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from pymongo import MongoClient
from pymongo.database import Database

from qunping import infra
from services.ballot.service import BallotService
from services.gateway.auth import Accounts
from services.gateway.service import GatewayService
from services.notify.service import NotifyService
from services.tally.service import TallyService

PASSWORD = "correct horse battery"


@dataclass
class Stack:
    url: str
    accounts: Accounts
    ballot_db: Database[dict[str, Any]]
    gateway_db: Database[dict[str, Any]]

    def login(self, username: str) -> str:
        answer = requests.post(
            f"{self.url}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def account(self, username: str, role: str, community: str | None = None) -> str:
        """A new account of `role`, logged in: its bearer token."""
        self.accounts.create(username, PASSWORD, role, community)
        return self.login(username)

    def ballot_events(self) -> int:
        last = self.ballot_db["events"].find_one(sort=[("_id", -1)])
        return 0 if last is None else int(last["last"])


def start_stack(
    container_factory: Callable[..., Any],
    config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
    **settings: Any,
) -> Stack:
    for service in (BallotService, TallyService, NotifyService):
        container_factory(service, config).start()
    port = infra.free_port()
    gateway = container_factory(
        GatewayService, {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", **settings}
    )
    gateway.start()
    prefix = config["QUNPING_DB_PREFIX"]
    gateway_db = mongo_client[f"{prefix}gateway"]
    return Stack(
        url=f"http://127.0.0.1:{port}",
        accounts=Accounts(gateway_db, 60),
        ballot_db=mongo_client[f"{prefix}ballot"],
        gateway_db=gateway_db,
    )
