"""Every unit, pledge and evaluation campaign of the pledge log, folded in memory.

A district has hundreds of pledges, not millions, so the whole log is folded once at start
and then only what follows the last position read. Commands decide against the folded
pledge and append with its stream version: another writer's event in between is refused by
the log, and the command is decided again on the refreshed pledge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qunping.core.decide import Decision, decide_and_append
from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.errors import NotFound
from qunping.core.eventlog import NO_STREAM, EventLog, StreamWrite
from qunping.core.fold import IncrementalFold
from services.pledge.domain import Pledge, Unit


@dataclass
class Ledger:
    """What the pledge log says now: its units, its pledges, its evaluation campaigns."""

    units: dict[str, Unit] = field(default_factory=dict)
    pledges: dict[str, Pledge] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)

    def apply(self, event: RecordedEvent) -> None:
        key = event.stream.split("-", 1)[1]
        if event.category == "unit":
            self.units.setdefault(key, Unit(key)).apply(event)
        elif event.category == "pledge":
            self.pledges.setdefault(key, Pledge(key)).apply(event)
        elif event.category == "evalcampaign":
            self.campaigns[event.stream] = event.data["campaign_id"]


class PledgeBook:
    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._ledger = IncrementalFold(log, Ledger())
        # Reentrant: a saga step holds it around the decisions and appends that take it too.
        self.lock = threading.RLock()

    def refresh(self) -> None:
        self._ledger.current()

    @property
    def units(self) -> dict[str, Unit]:
        """As of the last refresh."""
        return self._ledger.state.units

    @property
    def pledges(self) -> dict[str, Pledge]:
        """As of the last refresh."""
        return self._ledger.state.pledges

    @property
    def campaigns(self) -> dict[str, str]:
        """Stream `evalcampaign-…` -> the ballot campaign id it recorded, as of the last
        refresh."""
        return self._ledger.state.campaigns

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
        stream = f"pledge-{pledge_id}"

        def appending(pledge: Pledge) -> Decision[None]:
            events = decision(pledge)
            return Decision([StreamWrite(stream, events, pledge.version)] if events else [], None)

        with self.lock:
            recorded = decide_and_append(
                self.log, lambda: self.pledge(pledge_id), appending, conflict_stream=stream
            ).recorded
            if recorded:
                self.refresh()
            return recorded
