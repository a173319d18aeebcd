"""nameko dependency providers: a service's database and its event log with outbox relay.

Configuration comes from the container's config (built by `Settings.nameko_config`):
`MONGO_URI`, `QUNPING_DB_PREFIX`, `AMQP_URI`, `QUNPING_SIGNING_KEY_FILE` and
`QUNPING_CHECKPOINT_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from pymongo import MongoClient
from pymongo.database import Database

from qunping.core.checkpoints import Checkpointer, load_or_create_key
from qunping.core.config import settings_from
from qunping.core.envelope import RecordedEvent, to_cloudevent
from qunping.core.metrics import service_metrics
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.relay import OutboxRelay, Outgoing
from qunping.core.schemas import PayloadSchemas, StrictSchema, load
from qunping.core.tamper import ALERT as TAMPER_ALERT

log = logging.getLogger(__name__)

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

    Its `checkpointer` signs the log's head with the deployment's key: every
    `QUNPING_CHECKPOINT_SECONDS` while the log grows, right after each event whose type
    is in `sign_after` (a meeting's close), and on request (`SignsCheckpoints`).
    """

    def __init__(
        self,
        payload_schemas: PayloadSchemas,
        *,
        outgoing: Outgoing = to_cloudevent,
        poll_seconds: float = 1.0,
        sign_after: Collection[str] = (),
    ) -> None:
        self.payload_schemas = payload_schemas
        self.outgoing = outgoing
        self.poll_seconds = poll_seconds
        self.sign_after = frozenset(sign_after)

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
        config = self.container.config
        defaults = settings_from({})
        key_file = config.get("QUNPING_SIGNING_KEY_FILE", defaults.signing_key_file)
        self.checkpointer = Checkpointer(self.log, load_or_create_key(Path(key_file)))
        self.checkpoint_seconds = float(
            config.get("QUNPING_CHECKPOINT_SECONDS", defaults.checkpoint_seconds)
        )
        self._stop, self._wake = threading.Event(), threading.Event()
        self.metrics = service_metrics(self.container)
        self._appended_count = self.metrics.events_appended.labels(name)
        # Exported from the start at 0, so that the alert's `increase()` sees the first.
        self._tamper_alerts = self.metrics.tamper_alerts.labels(name)
        self.log.add_append_listener(self._appended)

    def start(self) -> None:
        self.log.ensure_indexes()
        self.metrics.add_readings(self.relay.readings)
        self._relay_thread = self.container.spawn_managed_thread(self._run_relay)
        self._signer_thread = self.container.spawn_managed_thread(self._run_signer)

    def _appended(self, events: Sequence[RecordedEvent]) -> None:
        self._appended_count.inc(len(events))
        self._tamper_alerts.inc(sum(event.type == TAMPER_ALERT for event in events))
        self._wake.set()
        if any(event.type in self.sign_after for event in events):
            self._sign()

    def _run_relay(self) -> None:
        self.relay.run(self._stop, self._wake, self.poll_seconds)

    def _run_signer(self) -> None:
        while not self._stop.wait(self.checkpoint_seconds):
            self._sign()

    def _sign(self) -> None:
        # What was appended stands whether or not it is signed now; the next signature
        # (the timer's, within the hour) covers it.
        try:
            self.checkpointer.sign()
        except Exception:
            log.exception("signing a checkpoint of log %r failed", self.log.name)

    def stop(self) -> None:
        self.metrics.remove_readings(self.relay.readings)
        self._stop.set()
        self._wake.set()
        self._relay_thread.wait()
        self._signer_thread.wait()
        self.relay.release_lease()
        self.client.close()

    def kill(self) -> None:
        self.metrics.remove_readings(self.relay.readings)
        self._stop.set()
        self._wake.set()
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> MongoEventLog:
        return self.log


class CheckpointerProvider(DependencyProvider):  # type: ignore[misc]
    """The checkpointer of the service's own event log."""

    def get_dependency(self, worker_ctx: Any) -> Checkpointer:
        for extension in self.container.extensions:
            if isinstance(extension, EventLogDependency):
                return extension.checkpointer
        raise LookupError(f"service {self.container.service_name!r} owns no event log")


class SignsCheckpoints:
    """Mix into a service that owns a log: `sign_checkpoint` signs its head on request."""

    checkpointer: Checkpointer = CheckpointerProvider()

    @rpc  # type: ignore[untyped-decorator]
    def sign_checkpoint(self, payload: Any) -> dict[str, Any]:
        """Sign the log's head now; the latest `CheckpointSigned` data either way."""
        load(StrictSchema(), payload)
        recorded = self.checkpointer.sign()
        if recorded is None:
            recorded = self.checkpointer.latest()
        return {"checkpoint": None if recorded is None else recorded.data}
