"""Load, decide, append: a command decided on state read from an event log, and retried.

A decision is made on state read at some stream versions. Its append carries those
versions (the streams it writes, and the further streams it read, which must not move), so
if another writer moved one meanwhile the log refuses it: the state is loaded again and the
command decided again, up to `RETRIES` times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from qunping.core.envelope import RecordedEvent
from qunping.core.errors import ConcurrencyError, Refused
from qunping.core.eventlog import EventLog, StreamWrite

RETRIES = 20
"""How many times a command is decided, each append refused for a moved stream, before it
gives up."""

S = TypeVar("S")
R = TypeVar("R")
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Decision(Generic[R]):
    """What a command decided: the events to append, to each stream at the version it was
    decided on (no writes: nothing to append); what the caller is answered; and the further
    streams the decision read, at the versions read, which must not have moved."""

    writes: Sequence[StreamWrite]
    answer: R
    unchanged: Mapping[str, int] = field(default_factory=dict)

    def answering(self, answer: A) -> Decision[A]:
        return Decision(self.writes, answer, self.unchanged)


class Decided(NamedTuple, Generic[S, R]):
    """The state a command was decided on, its answer, and the events it appended."""

    state: S
    answer: R
    recorded: list[RecordedEvent]


def decide_and_append(
    log: EventLog,
    load: Callable[[], S],
    decide: Callable[[S], Decision[R]],
    *,
    conflict_stream: str,
    load_from_log: Callable[[], S] | None = None,
) -> Decided[S, R]:
    """Load the state, decide, append what was decided atomically; again on a conflict.

    `load_from_log`, where `load` may answer from memory, reads the state from the log
    itself: it loads after a conflict, and a refusal decided on `load`'s state is decided
    once more on it before it is answered, since another process may have moved the
    state on since this one saw it. An acceptance needs no such check: the append's
    version checks refuse a stale one. After `RETRIES` conflicts, `ConcurrencyError`
    naming `conflict_stream`. The recorded events are not applied to the state.
    """
    loading = load
    for _ in range(RETRIES):
        state = loading()
        try:
            decision = decide(state)
            recorded = (
                log.append_batch(decision.writes, unchanged=decision.unchanged)
                if decision.writes
                else []
            )
        except ConcurrencyError:
            pass
        except Refused:
            if load_from_log is None or loading is load_from_log:
                raise
        else:
            return Decided(state, decision.answer, recorded)
        loading = load_from_log or load
    raise ConcurrencyError(conflict_stream, None, -1)
