"""notify's nameko dependency: its outbox, the view of its log, the intake and dispatcher."""

from __future__ import annotations

import threading
from typing import Any

from nameko.extensions import DependencyProvider

from qunping.core.dependencies import service_database
from qunping.core.eventlog import EventLog
from qunping.core.fold import IncrementalFold
from qunping.core.metrics import service_metrics
from qunping.core.mongo_eventlog import MongoEventLog
from services.notify.dispatch import Dispatcher, PublicEventIntake
from services.notify.domain import NotifyState
from services.notify.egress import Resolver, system_resolver
from services.notify.outbox import Outbox
from services.notify.places import Places
from services.notify.settings import NotifySettings, notify_settings


class Notifier:
    """What notify's entrypoints use: the outbox, the view of the log, the dispatcher."""

    def __init__(
        self, outbox: Outbox, view: IncrementalFold[NotifyState], dispatcher: Dispatcher
    ) -> None:
        self.outbox = outbox
        self.view = view
        self.dispatcher = dispatcher


class NotifierDependency(DependencyProvider):  # type: ignore[misc]
    """Runs the intake of `qunping.public` and the dispatcher in managed threads.

    It reads the service's log through its own `MongoEventLog` on the same database as the
    service's `EventLogDependency` (the log is only read here, never written).
    """

    def __init__(self, poll_seconds: float = 1.0, resolve: Resolver = system_resolver) -> None:
        self.poll_seconds = poll_seconds
        self.resolve = resolve

    def setup(self) -> None:
        config = self.container.config
        name = self.container.service_name
        self.settings: NotifySettings = notify_settings(config)
        self.client, database = service_database(config, name)
        log: EventLog = MongoEventLog(database, name)
        self.outbox = Outbox(database)
        self.view = IncrementalFold(log, NotifyState())
        self.metrics = service_metrics(self.container)
        self.dispatcher = Dispatcher(
            self.outbox,
            self.view,
            self.settings,
            self._spawn,
            metrics=self.metrics,
            resolve=self.resolve,
        )
        self.intake = PublicEventIntake(
            config["AMQP_URI"], self.outbox, Places(database), self.view, self.settings
        )
        self._stop = threading.Event()
        # Declared before any relay of this container starts, so that not even notify's
        # own first announcements are published before its queue exists.
        self.intake.declare()

    def _spawn(self, work: Any) -> None:
        self.container.spawn_managed_thread(work)

    def start(self) -> None:
        self.outbox.ensure_indexes()
        self.metrics.add_readings(self.outbox.readings)
        self._threads = [
            self.container.spawn_managed_thread(
                lambda: self.intake.run(self._stop, self.dispatcher.wake.set)
            ),
            self.container.spawn_managed_thread(
                lambda: self.dispatcher.run(self._stop, self.poll_seconds)
            ),
        ]

    def stop(self) -> None:
        self.metrics.remove_readings(self.outbox.readings)
        self._stop.set()
        self.dispatcher.wake.set()
        for thread in self._threads:
            thread.wait()
        self.client.close()

    def kill(self) -> None:
        self.metrics.remove_readings(self.outbox.readings)
        self._stop.set()
        self.dispatcher.wake.set()
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> Notifier:
        return Notifier(self.outbox, self.view, self.dispatcher)
