"""nameko dependency providers: a service's database and its event log with outbox relay.

Configuration comes from the container's config (built by `Settings.nameko_config`):
`MONGO_URI`, `QUNPING_DB_PREFIX` and `AMQP_URI`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.database import Database

from qunping.core.envelope import RecordedEvent, to_cloudevent
from qunping.core.metrics import service_metrics
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.relay import OutboxRelay, Outgoing
from qunping.core.schemas import PayloadSchemas

RELAY_STATE = "relay_state"


def service_database(
    config: dict[str, Any], service: str
) -> tuple[MongoClient[dict[str, Any]], Database[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(config["MONGO_URI"], tz_aware=True)
    return client, client[f"{config.get('QUNPING_DB_PREFIX', 'qunping_')}{service}"]


class MongoDatabase(DependencyProvider):  # type: ignore[misc]
    """The service's own database, `{QUNPING_DB_PREFIX}{service name}`."""

    def setup(self) -> None:
        self.client, self.database = service_database(
            self.container.config, self.container.service_name
        )

    def stop(self) -> None:
        self.client.close()

    def kill(self) -> None:
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> Database[dict[str, Any]]:
        return self.database


class EventLogDependency(DependencyProvider):  # type: ignore[misc]
    """The service's event log (named after the service), published by an outbox relay.

    The relay publishes every event to `{service}.events` and the public ones (as the
    registry marks them) to `qunping.public` too. It runs in a managed thread of the
    container; every append wakes it, so events reach RabbitMQ within milliseconds, and a
    poll catches anything another replica wrote.
    """

    def __init__(
        self,
        payload_schemas: PayloadSchemas,
        *,
        outgoing: Outgoing = to_cloudevent,
        poll_seconds: float = 1.0,
    ) -> None:
        self.payload_schemas = payload_schemas
        self.outgoing = outgoing
        self.poll_seconds = poll_seconds

    def setup(self) -> None:
        name = self.container.service_name
        self.client, self.database = service_database(self.container.config, name)
        self.log = MongoEventLog(self.database, name, payload_schemas=self.payload_schemas)
        self.relay = OutboxRelay(
            self.log,
            self.database[RELAY_STATE],
            self.container.config["AMQP_URI"],
            outgoing=self.outgoing,
            public=self.payload_schemas,
        )
        self._stop, self._wake = threading.Event(), threading.Event()
        self.metrics = service_metrics(self.container)
        self._appended = self.metrics.events_appended.labels(name)
        self.log.add_append_listener(self._on_append)

    def _on_append(self, events: Sequence[RecordedEvent]) -> None:
        self._appended.inc(len(events))
        self._wake.set()

    def start(self) -> None:
        self.log.ensure_indexes()
        self.metrics.add_readings(self.relay.readings)
        self._relay_thread = self.container.spawn_managed_thread(self._run_relay)

    def _run_relay(self) -> None:
        self.relay.run(self._stop, self._wake, self.poll_seconds)

    def stop(self) -> None:
        self.metrics.remove_readings(self.relay.readings)
        self._stop.set()
        self._wake.set()
        self._relay_thread.wait()
        self.relay.release_lease()
        self.client.close()

    def kill(self) -> None:
        self.metrics.remove_readings(self.relay.readings)
        self._stop.set()
        self._wake.set()
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> MongoEventLog:
        return self.log
