"""The registry of services against the services' own code, and the tables that read it."""

from __future__ import annotations

import pytest

from qunping.core import registry
from qunping.core.dependencies import SignsCheckpoints
from qunping.core.schemas import PayloadSchemas
from qunping.operator import broker_access, contract, database_access
from qunping.operator.launcher import service_class
from qunping.operator.resolve import resolve


@pytest.mark.parametrize("name", registry.names())
def test_each_registered_class_is_the_nameko_service_of_that_name(name: str) -> None:
    assert service_class(name).name == name


@pytest.mark.parametrize("name", registry.names())
def test_a_service_owns_a_log_exactly_when_it_signs_checkpoints_and_serves_a_public_feed(
    name: str,
) -> None:
    cls = service_class(name)

    assert issubclass(cls, SignsCheckpoints) == registry.service(name).owns_log
    assert hasattr(cls, "public_feed") == registry.service(name).owns_log


def test_the_contract_documents_every_log_and_no_other_service() -> None:
    assert tuple(contract.REGISTRIES) == registry.logs()
    for payloads in contract.REGISTRIES.values():
        assert any(payloads.is_public(event_type) for (event_type, _), _ in payloads.items())


def test_every_service_has_a_broker_user_and_a_database_user_of_its_own() -> None:
    broker_users = [role.name for role in broker_access.ROLES if role.runs_service]
    database_users = [user.service for user in database_access.USERS]

    assert sorted(broker_users) == sorted(registry.names())
    assert sorted(database_users) == sorted(registry.names())


def test_the_gateway_and_the_operator_may_call_every_service_that_serves_rpc() -> None:
    for caller in ("gateway", broker_access.OPERATOR):
        calls = broker_access.ROLE_BY_NAME[caller].calls
        assert sorted(calls) == sorted(registry.rpc_servers())
    assert "gateway" not in registry.rpc_servers()


def test_a_path_naming_something_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="not a PayloadSchemas"):
        resolve(registry.service("ballot").nameko_class, PayloadSchemas)


def test_an_unknown_service_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        registry.service("ledger")
