"""A log folded into memory, kept current incrementally, on the in-memory event log."""

from dataclasses import dataclass, field

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.fold import IncrementalFold
from qunping.core.memory_eventlog import InMemoryEventLog


@dataclass
class Seen:
    positions: list[int] = field(default_factory=list)

    def apply(self, event: RecordedEvent) -> None:
        self.positions.append(event.position)


def test_the_whole_log_is_folded_on_the_first_look() -> None:
    log = InMemoryEventLog("test")
    log.append("thing-1", [NewEvent("Made", {}), NewEvent("Made", {})])

    fold = IncrementalFold(log, Seen())

    assert fold.current().positions == [1, 2]
    assert fold.position == 2


def test_a_later_look_folds_only_what_the_log_gained_since_the_last_position_folded() -> None:
    log = InMemoryEventLog("test")
    log.append("thing-1", [NewEvent("Made", {})])
    fold = IncrementalFold(log, Seen())
    fold.current()

    log.append("thing-2", [NewEvent("Made", {}), NewEvent("Made", {})])

    assert fold.current().positions == [1, 2, 3]
    assert fold.current().positions == [1, 2, 3]
    assert fold.position == 3
