"""The gateway with ballot, tally, notify, pledge and audit, running for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient
from pymongo.database import Database

from qunping.core import registry
from qunping.operator import infra
from services.audit.service import AuditService
from services.ballot.service import BallotService
from services.gateway.auth import PLATFORM_ADMIN, Accounts
from services.gateway.service import GatewayService
from services.notify.service import NotifyService
from services.pledge.service import PledgeService
from services.tally.service import TallyService

PASSWORD = "correct horse battery"
DISTRICT = "吉州区"
"""The district of the tests' accounts and campaigns."""
PLEDGE_QUORUM = 3
"""Representatives a pledge evaluation meeting needs: few, to keep the tests fast."""


@dataclass
class Stack:
    url: str
    accounts: Accounts
    ballot_db: Database[dict[str, Any]]
    gateway_db: Database[dict[str, Any]]
    ports: dict[str, int] = field(default_factory=dict)
    """Each service's HTTP port (health, metrics), where the test knows it."""

    def login(self, username: str) -> str:
        answer = requests.post(
            f"{self.url}/api/login", json={"username": username, "password": PASSWORD}, timeout=10
        )
        answer.raise_for_status()
        return str(answer.json()["token"])

    def account(self, username: str, role: str, community: str | None = None) -> str:
        """A new account of `role`, logged in: its bearer token."""
        district = None if role == PLATFORM_ADMIN else DISTRICT
        self.accounts.create(username, PASSWORD, role, community, district=district)
        return self.login(username)

    def ballot_events(self) -> int:
        return self.events_of(self.ballot_db)

    def log_heads(self) -> dict[str, int]:
        """The last position of every log a staff command may write (the tally's grows
        by itself, from the ballot log)."""
        client = self.ballot_db.client
        prefix = self.ballot_db.name.removesuffix("ballot")
        return {
            name: self.events_of(client[f"{prefix}{name}"])
            for name in ("ballot", "notify", "pledge")
        }

    @staticmethod
    def events_of(database: Database[dict[str, Any]]) -> int:
        last = database["events"].find_one(sort=[("_id", -1)])
        return 0 if last is None else int(last["last"])


def start_stack(
    container_factory: Callable[..., Any],
    config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
    **settings: Any,
) -> Stack:
    config = {**config, "QUNPING_PLEDGE_QUORUM": str(PLEDGE_QUORUM)}
    ports = {}
    for service in (BallotService, TallyService, NotifyService, PledgeService, AuditService):
        ports[service.name] = infra.free_port()
        address = f"127.0.0.1:{ports[service.name]}"
        container_factory(service, {**config, "WEB_SERVER_ADDRESS": address}).start()
    port = ports["gateway"] = infra.free_port()
    url = start_gateway(container_factory, config, port, **settings)
    prefix = config["QUNPING_DB_PREFIX"]
    gateway_db = mongo_client[f"{prefix}gateway"]
    return Stack(
        url=url,
        accounts=Accounts(gateway_db, 60),
        ballot_db=mongo_client[f"{prefix}ballot"],
        gateway_db=gateway_db,
        ports=ports,
    )


def start_gateway(
    container_factory: Callable[..., Any],
    config: dict[str, Any],
    port: int | None = None,
    **settings: Any,
) -> str:
    """A gateway (one more replica, if one runs already on `config`): its URL."""
    port = port or infra.free_port()
    gateway = container_factory(
        GatewayService, {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", **settings}
    )
    gateway.start()
    return f"http://127.0.0.1:{port}"


def wait_until_answering(url: str, seconds: float = 60) -> None:
    """The gateway answers, and ballot and tally answer it (404 for a meeting none has)."""
    deadline = time.monotonic() + seconds
    for path in ("/api/meetings/0123456789abcdef/status", "/api/meetings/0123456789abcdef/board"):
        while True:
            try:
                if requests.get(url + path, timeout=5).status_code == 404:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the services did not answer at {url}{path}")
            time.sleep(0.3)


@contextmanager
def stack_processes(
    amqp_uri: str,
    mongo_uri: str,
    mongo_client: MongoClient[dict[str, Any]],
    log_dir: Path,
    **settings: str,
) -> Iterator[Stack]:
    """ballot, tally, notify, pledge, audit and the gateway, each a `qunping service`
    process, in a RabbitMQ vhost of their own: their queues outlive them, and must meet no
    other test."""
    with infra.private_vhost(amqp_uri, "qunping_gateway") as vhost_uri:
        yield from _stack_processes(vhost_uri, mongo_uri, mongo_client, log_dir, settings)


def _stack_processes(
    amqp_uri: str,
    mongo_uri: str,
    mongo_client: MongoClient[dict[str, Any]],
    log_dir: Path,
    settings: dict[str, str],
) -> Iterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    env = {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "MONGO_URI": mongo_uri,
        "QUNPING_DB_PREFIX": prefix,
        "QUNPING_LOG_LEVEL": "WARNING",
        "QUNPING_PLEDGE_QUORUM": str(PLEDGE_QUORUM),
        **settings,
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    ports = {name: infra.free_port() for name in registry.names()}
    processes = []
    for name, port in ports.items():
        with (log_dir / f"{name}.log").open("ab") as log:
            # A test run killed outright takes its services with it.
            process = subprocess.Popen(
                [*infra.dies_with_starter(), sys.executable, "-m", "qunping", "service", name],
                env={**env, "QUNPING_HTTP_PORT": str(port)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            infra.handed_over(process)
            processes.append(process)
    url = f"http://127.0.0.1:{ports['gateway']}"
    try:
        wait_until_answering(url)
        gateway_db = mongo_client[f"{prefix}gateway"]
        ballot_db = mongo_client[f"{prefix}ballot"]
        yield Stack(url, Accounts(gateway_db, 60), ballot_db, gateway_db, ports)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        for name in mongo_client.list_database_names():
            if name.startswith(prefix):
                mongo_client.drop_database(name)
