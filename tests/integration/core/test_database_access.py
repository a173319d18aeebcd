"""The MongoDB users of qunping.operator.database_access on a SecantusDB that requires them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from qunping.core import registry
from qunping.operator import database_access
from tests.conftest import MongoServer

PREFIX = "qunping_"
Server = tuple[MongoServer, dict[str, str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Users made as compose's init script makes them (twice: no harm), then the server
    restarted requiring them."""
    server = MongoServer(tmp_path_factory.mktemp("auth") / "data")
    server.start()
    passwords = {user.service: secrets.token_urlsafe(12) for user in database_access.USERS}
    client: MongoClient[Any]
    with MongoClient(server.uri) as client:
        for _ in range(2):
            database_access.provision(client.admin, PREFIX, passwords)
    server.stop()
    server.require_auth = True
    server.start()
    yield server, passwords
    server.stop()


def as_user(server: Server, service: str) -> MongoClient[Any]:
    mongo, passwords = server
    return MongoClient(
        f"mongodb://{database_access.USER_PREFIX}{service}:{passwords[service]}"
        f"@127.0.0.1:{mongo.port}/?directConnection=true&authSource=admin"
    )


def refused(action: Any, *args: Any) -> bool:
    try:
        action(*args)
    except OperationFailure as failure:
        return failure.code in (13, 18)  # Unauthorized, AuthenticationFailed
    return False


def test_each_service_writes_its_own_database_and_no_other(server: Server) -> None:
    for user in database_access.USERS:
        with as_user(server, user.service) as client:
            client[f"{PREFIX}{user.writes}"].probe.insert_one({"by": user.service})
            for other in database_access.USERS:
                if other.writes != user.writes:
                    database = client[f"{PREFIX}{other.writes}"]
                    assert refused(database.probe.insert_one, {"x": 1}), (user, other)


def test_the_internet_facing_gateway_cannot_read_or_write_a_log(server: Server) -> None:
    with as_user(server, "gateway") as client:
        for log in registry.logs():
            assert refused(client[f"{PREFIX}{log}"].events.insert_one, {"x": 1})
            assert refused(client[f"{PREFIX}{log}"].events.find_one)


def test_the_audit_reads_every_log_and_changes_none(server: Server) -> None:
    with as_user(server, "ballot") as ballot:
        ballot[f"{PREFIX}ballot"].events.insert_one({"_id": 1})
    with as_user(server, "audit") as client:
        assert client[f"{PREFIX}ballot"].events.find_one({"_id": 1}) == {"_id": 1}
        for log in registry.logs():
            events = client[f"{PREFIX}{log}"].events
            assert refused(events.insert_one, {"x": 1})
            assert refused(events.delete_many, {})


def test_every_service_reads_or_first_records_the_deployment_identity_and_cannot_change_it(
    server: Server,
) -> None:
    with as_user(server, "notify") as client:
        identity = client[f"{PREFIX}deployment"].identity
        identity.insert_one({"_id": "identity", "deployment_id": "0123456789abcdef"})
    with as_user(server, "gateway") as client:
        identity = client[f"{PREFIX}deployment"].identity
        assert identity.find_one() == {"_id": "identity", "deployment_id": "0123456789abcdef"}
        assert refused(identity.update_one, {}, {"$set": {"deployment_id": "x"}})
        assert refused(identity.delete_many, {})


def test_without_credentials_nothing_is_read(server: Server) -> None:
    mongo, _ = server
    anonymous: MongoClient[Any]
    with MongoClient(mongo.uri) as anonymous:
        assert refused(anonymous[f"{PREFIX}ballot"].events.find_one)
