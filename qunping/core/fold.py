"""A service's own log folded into memory, kept current by folding only what follows.

For state small enough to hold whole (a district's pledges, its campaigns, notify's
subscriptions): the log is folded once, and every later look reads only the events after
the last position folded, so every process sees what the others appended.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar

from qunping.core.envelope import RecordedEvent
from qunping.core.eventlog import EventLog


class Folds(Protocol):
    def apply(self, event: RecordedEvent) -> None:
        """Fold one recorded event, in log order, into this state."""


F = TypeVar("F", bound=Folds)


class IncrementalFold(Generic[F]):
    def __init__(self, log: EventLog, state: F) -> None:
        self.log = log
        self.state = state
        self.position = 0
        """The last log position folded into `state`."""
        self._lock = threading.Lock()

    def current(self) -> F:
        """The state as of the log's head now (one read when nothing is new)."""
        with self._lock:
            for event in self.log.read_all(after_position=self.position):
                self.state.apply(event)
                self.position = event.position
            return self.state
