"""The broker permission table against the services' own code: every call it allows exists,
every queue a service declares is one it may declare, and nothing more is granted."""

from __future__ import annotations

import re

import pytest
from nameko.events import EventHandler
from nameko.rpc import Rpc

from qunping.core import registry
from qunping.operator import broker_access
from qunping.operator.launcher import service_class

SERVICES = [role for role in broker_access.ROLES if role.runs_service]


def entrypoints(name: str) -> list[tuple[str, object]]:
    """(method name, entrypoint) of a service class, as nameko finds them."""
    cls = service_class(name)
    return [
        (method, entrypoint)
        for method, attribute in vars(cls).items()
        for entrypoint in getattr(attribute, "nameko_entrypoints", ())
    ]


def rpc_methods(name: str) -> set[str]:
    return {method for method, e in entrypoints(name) if isinstance(e, Rpc)}


def test_every_call_the_table_allows_is_a_method_of_that_service() -> None:
    for role in broker_access.ROLES:
        for service, methods in role.calls.items():
            if methods != ("*",):
                assert set(methods) <= rpc_methods(service), (role.name, service)


@pytest.mark.parametrize("role", SERVICES, ids=lambda role: role.name)
def test_a_service_may_consume_exactly_the_queues_its_entrypoints_declare(
    role: broker_access.Role,
) -> None:
    access = broker_access.access_of(role)
    handlers = [(m, e) for m, e in entrypoints(role.name) if isinstance(e, EventHandler)]
    queues = [
        f"evt-{handler.source_service}-{handler.event_type}--{role.name}.{method}"
        for method, handler in handlers
    ]
    if rpc_methods(role.name):
        queues.append(f"rpc-{role.name}")
    for queue in queues:
        assert re.match(access.configure, queue) and re.match(access.read, queue), queue
    assert bool(rpc_methods(role.name)) == role.serves_rpc
    assert len(handlers) == len(role.handlers)


def test_no_one_but_the_owner_consumes_or_binds_a_services_requests() -> None:
    for owner in (role for role in SERVICES if role.serves_rpc):
        queue = f"rpc-{owner.name}"
        for role in broker_access.ROLES:
            access = broker_access.access_of(role)
            bind_keys = access.topics[broker_access.RPC_EXCHANGE].read
            may = re.match(access.read, queue) or re.match(bind_keys, f"{owner.name}.*")
            assert bool(may) == (role is owner), (role.name, queue)


def test_only_a_logs_owner_publishes_its_events() -> None:
    for role in broker_access.ROLES:
        access = broker_access.access_of(role)
        for log in registry.logs():
            publishes = re.match(access.write, f"{log}.events") and re.match(
                access.topics[f"{log}.events"].write, "BallotCast"
            )
            assert bool(publishes) == (role.name == log), (role.name, log)
        public = access.topics[broker_access.PUBLIC_EXCHANGE].write
        for log in registry.logs():
            assert bool(re.match(public, f"{log}.MeetingClosed")) == (role.name == log)


def test_a_subscriber_reads_qunping_public_through_its_own_queues_only() -> None:
    access = broker_access.subscriber_access("district-archive")
    assert re.match(access.read, "qunping.public")
    assert re.match(access.configure, "sub-district-archive.events")
    for refused in ("sub-district-archivex.events", "rpc-ballot", "notify.public", "nameko-rpc"):
        assert not re.match(access.configure, refused) and not re.match(access.read, refused)
    assert access.topics[broker_access.PUBLIC_EXCHANGE].write == broker_access.NOTHING
    with pytest.raises(ValueError):
        broker_access.subscriber_access("a.b|.*")


def test_rabbitmqs_password_hash_is_salt_then_sha256_of_salt_and_password() -> None:
    # The value RabbitMQ's own docs give for salt 908DC60A and password "test12".
    assert broker_access.password_hash("test12", bytes.fromhex("908DC60A")) == (
        "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
    )
