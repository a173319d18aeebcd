"""notify's read side: its own log folded (`NotifyState`), kept current by reading only
what follows the last event seen.

Queries answer from it (the board, a district's subscriptions), commands are decided on it,
and the dispatch finds each event's subscribers and recipients in it.
"""

from __future__ import annotations

import threading

from qunping.core.eventlog import EventLog
from services.notify.domain import NotifyState


class NotifyView:
    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._state = NotifyState()
        self._lock = threading.Lock()

    def current(self) -> NotifyState:
        """The state as of the log's head now (one read when nothing is new)."""
        with self._lock:
            for event in self._log.read_all(self._state.position):
                self._state.apply(event)
            return self._state
