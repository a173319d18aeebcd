"""Every unit, pledge and evaluation campaign of the pledge log, folded in memory.

A district has hundreds of pledges, not millions, so the whole log is folded once at start
and then only what follows the last position read. Commands decide against the folded
pledge and append with its stream version: another writer's event in between is refused by
the log, and the command is decided again on the refreshed pledge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.errors import ConcurrencyError, NotFound
from qunping.core.eventlog import NO_STREAM, EventLog
from services.pledge.domain import Pledge, Unit

RETRIES = 20
PAGE = 1000


class PledgeBook:
    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.position = 0
        self.units: dict[str, Unit] = {}
        self.pledges: dict[str, Pledge] = {}
        self.campaigns: dict[str, str] = {}
        """Stream `evalcampaign-…` -> the ballot campaign id it recorded."""
        # Reentrant: a decision reads the book while it holds the lock.
        self.lock = threading.RLock()

    def refresh(self) -> None:
        with self.lock:
            while batch := self.log.read_batch(self.position, PAGE):
                for event in batch:
                    self._apply(event)
                    self.position = event.position

    def _apply(self, event: RecordedEvent) -> None:
        key = event.stream.split("-", 1)[1]
        if event.category == "unit":
            self.units.setdefault(key, Unit(key)).apply(event)
        elif event.category == "pledge":
            self.pledges.setdefault(key, Pledge(key)).apply(event)
        elif event.category == "evalcampaign":
            self.campaigns[event.stream] = event.data["campaign_id"]

    def unit(self, unit_id: str) -> Unit:
        self.refresh()
        if unit_id not in self.units:
            raise NotFound(f"unit {unit_id}")
        return self.units[unit_id]

    def pledge(self, pledge_id: str) -> Pledge:
        self.refresh()
        if pledge_id not in self.pledges:
            raise NotFound(f"pledge {pledge_id}")
        return self.pledges[pledge_id]

    def awaiting(self, meeting_id: str) -> str | None:
        """The pledge whose current evaluation waits for this meeting's results."""
        self.refresh()
        return next(
            (p.pledge_id for p in self.pledges.values() if p.awaiting_results == meeting_id), None
        )

    def append_new(self, stream: str, event: NewEvent) -> RecordedEvent:
        with self.lock:
            [recorded] = self.log.append(stream, [event], NO_STREAM)
            self.refresh()
            return recorded

    def decide(
        self, pledge_id: str, decision: Callable[[Pledge], Sequence[NewEvent]]
    ) -> list[RecordedEvent]:
        """Load, decide and append to the pledge's stream; again if it moved meanwhile."""
        with self.lock:
            for _ in range(RETRIES):
                pledge = self.pledge(pledge_id)
                events = decision(pledge)
                if not events:
                    return []
                try:
                    recorded = self.log.append(f"pledge-{pledge_id}", events, pledge.version)
                except ConcurrencyError:
                    continue
                self.refresh()
                return recorded
            raise ConcurrencyError(f"pledge-{pledge_id}", None, -1)
