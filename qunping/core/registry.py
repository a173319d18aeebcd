"""Every service of qunping: the one list that the launcher, the CLI, the gateway, the
audit, the event contract and the broker and database tables read.

Names and dotted paths only: the core sits beneath the services and imports none of them.
Whoever needs a service's code (the launcher its nameko class, the contract a log's payload
registry) resolves the path itself, from above the services.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Scaling(enum.StrEnum):
    """How many replicas a service may run (the Helm chart's `scaling`)."""

    SINGLE_WRITER = "single-writer"
    """Owns an event log: more replicas would only contend on each append's position; one."""
    SINGLETON = "singleton"
    """Works in one named scratch database, one job at a time: one replica."""
    HORIZONTAL = "horizontal"
    """Stateless, or an idempotent consumer: scales freely."""


@dataclass(frozen=True)
class Service:
    name: str
    nameko_class: str
    """`module:Class` of its nameko service."""
    scaling: Scaling
    payloads: str | None = None
    """`module:attribute` of its event log's payload registry, if it owns an event log."""
    serves_rpc: bool = True
    """Consumes RPC requests (the gateway only makes them)."""
    database: str | None = None
    """The one database it writes, after the prefix; by default the one named after it."""
    reads_every_log: bool = False
    """Reads every log's database (the audit), where the others read none but their own."""

    @property
    def owns_log(self) -> bool:
        """Appends facts to an event log of its own, and so publishes `<name>.events` and
        its public events, serves a public feed and signs checkpoints of its log."""
        return self.payloads is not None

    @property
    def writes(self) -> str:
        return self.database or self.name


SERVICES: tuple[Service, ...] = (
    Service(
        "ballot",
        "services.ballot.service:BallotService",
        Scaling.SINGLE_WRITER,
        payloads="services.ballot.events:payloads",
    ),
    Service(
        "tally",
        "services.tally.service:TallyService",
        Scaling.SINGLE_WRITER,
        payloads="services.tally.events:payloads",
    ),
    Service(
        "notify",
        "services.notify.service:NotifyService",
        Scaling.HORIZONTAL,
        payloads="services.notify.events:payloads",
    ),
    Service(
        "pledge",
        "services.pledge.service:PledgeService",
        Scaling.SINGLE_WRITER,
        payloads="services.pledge.events:payloads",
    ),
    Service(
        "audit",
        "services.audit.service:AuditService",
        Scaling.SINGLETON,
        database="audit_scratch",
        reads_every_log=True,
    ),
    Service(
        "gateway", "services.gateway.service:GatewayService", Scaling.HORIZONTAL, serves_rpc=False
    ),
)
"""In the order `qunping run` starts them and gives them ports (the gateway's is the sixth)."""

# Read from SERVICES on every call, not once: a test may add a service of its own (one that
# only drains, say) and run it through `qunping service NAME` as a container would.


def names() -> tuple[str, ...]:
    return tuple(service.name for service in SERVICES)


def logs() -> tuple[str, ...]:
    """The services that own an event log."""
    return tuple(service.name for service in SERVICES if service.owns_log)


def rpc_servers() -> tuple[str, ...]:
    """The services one may call over RPC."""
    return tuple(service.name for service in SERVICES if service.serves_rpc)


def service(name: str) -> Service:
    """The service called `name`; KeyError if there is none."""
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
