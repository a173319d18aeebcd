"""Load, decide, append and retry, on the in-memory event log."""

from dataclasses import dataclass

import pytest

from qunping.core.decide import RETRIES, Decision, decide_and_append
from qunping.core.envelope import NewEvent
from qunping.core.errors import ConcurrencyError, Refused
from qunping.core.eventlog import StreamWrite
from qunping.core.memory_eventlog import InMemoryEventLog


@dataclass
class Counter:
    """A stream `counter-1` and what a command saw of it."""

    version: int


class Command:
    """Adds one to `counter-1` as of the version loaded; counts its loads and decisions."""

    def __init__(self, log: InMemoryEventLog) -> None:
        self.log = log
        self.loads = 0
        self.decisions = 0

    def load(self) -> Counter:
        self.loads += 1
        return Counter(len(self.log.read_stream("counter-1")))

    def decide(self, counter: Counter) -> Decision[int]:
        self.decisions += 1
        return Decision([StreamWrite("counter-1", [added()], counter.version)], counter.version + 1)


def added() -> NewEvent:
    return NewEvent("Added", {})


def test_a_decision_is_appended_and_its_answer_returned_with_the_state_and_the_events() -> None:
    log = InMemoryEventLog("test")
    command = Command(log)

    decided = decide_and_append(log, command.load, command.decide, conflict_stream="counter-1")

    assert decided.state == Counter(0)
    assert decided.answer == 1
    assert [(e.stream, e.version) for e in decided.recorded] == [("counter-1", 1)]
    assert log.head().position == 1


def test_a_decision_refused_for_a_moved_stream_is_loaded_and_decided_again_and_then_appended() -> (
    None
):
    log = InMemoryEventLog("test")
    command = Command(log)

    def raced(counter: Counter) -> Decision[int]:
        if command.decisions == 0:  # another writer appends between this load and the append
            log.append("counter-1", [added()])
        return command.decide(counter)

    decided = decide_and_append(log, command.load, raced, conflict_stream="counter-1")

    assert (command.loads, command.decisions) == (2, 2)
    assert decided.answer == 2
    assert len(log.read_stream("counter-1")) == 2


def test_a_moved_stream_the_decision_only_read_refuses_the_append_and_the_command_decides_again() -> (  # noqa: E501
    None
):
    log = InMemoryEventLog("test")
    command = Command(log)

    def reading_rules(counter: Counter) -> Decision[int]:
        rules = len(log.read_stream("rules-1"))
        if command.decisions == 0:  # the rules change after this decision read them
            log.append("rules-1", [added()])
        written = command.decide(counter)
        return Decision(written.writes, written.answer, {"rules-1": rules})

    decide_and_append(log, command.load, reading_rules, conflict_stream="counter-1")

    assert command.decisions == 2
    assert len(log.read_stream("counter-1")) == 1


def test_after_a_conflict_the_state_is_loaded_from_the_log_when_memory_may_be_stale() -> None:
    log = InMemoryEventLog("test")
    log.append("counter-1", [added()])
    command = Command(log)

    decided = decide_and_append(
        log,
        lambda: Counter(0),  # this process has not seen the other's append
        command.decide,
        conflict_stream="counter-1",
        load_from_log=command.load,
    )

    assert (command.loads, command.decisions) == (1, 2)
    assert decided.answer == 2


def test_after_as_many_conflicts_as_retries_the_command_fails_with_a_concurrency_error_and_appends_nothing() -> (  # noqa: E501
    None
):
    log = InMemoryEventLog("test")
    command = Command(log)

    def always_raced(counter: Counter) -> Decision[int]:
        log.append("counter-1", [added()])
        return command.decide(counter)

    with pytest.raises(ConcurrencyError) as gave_up:
        decide_and_append(log, command.load, always_raced, conflict_stream="counter-1")

    assert (gave_up.value.stream, gave_up.value.expected, gave_up.value.actual) == (
        "counter-1",
        None,
        -1,
    )
    assert command.decisions == RETRIES
    assert len(log.read_stream("counter-1")) == RETRIES  # the other writer's, none of its own


def test_a_refused_command_appends_nothing_and_is_decided_once_when_its_state_is_the_logs() -> None:
    log = InMemoryEventLog("test")
    command = Command(log)

    def refusing(counter: Counter) -> Decision[int]:
        command.decisions += 1
        raise Refused("not now")

    with pytest.raises(Refused, match="not now"):
        decide_and_append(log, command.load, refusing, conflict_stream="counter-1")

    assert command.decisions == 1
    assert log.head().position == 0


def test_a_refusal_decided_on_state_from_memory_is_decided_again_on_state_from_the_log() -> None:
    log = InMemoryEventLog("test")
    log.append("counter-1", [added()])
    command = Command(log)

    def from_memory() -> Counter:
        return Counter(0)  # this process has not seen the other's append

    def refusing_an_empty_counter(counter: Counter) -> Decision[int]:
        if counter.version == 0:
            raise Refused("the counter is empty")
        return command.decide(counter)

    decided = decide_and_append(
        log,
        from_memory,
        refusing_an_empty_counter,
        conflict_stream="counter-1",
        load_from_log=command.load,
    )

    assert decided.answer == 2
    assert len(log.read_stream("counter-1")) == 2


def test_a_refusal_decided_on_state_from_the_log_is_answered_and_nothing_is_appended() -> None:
    log = InMemoryEventLog("test")
    command = Command(log)

    def refusing(counter: Counter) -> Decision[int]:
        command.decisions += 1
        raise Refused("not now")

    with pytest.raises(Refused, match="not now"):
        decide_and_append(
            log, command.load, refusing, conflict_stream="counter-1", load_from_log=command.load
        )

    assert command.decisions == 2
    assert log.head().position == 0


def test_a_decision_with_nothing_to_append_appends_nothing_and_is_answered() -> None:
    log = InMemoryEventLog("test")
    command = Command(log)

    decided = decide_and_append(
        log, command.load, lambda counter: Decision([], "nothing new"), conflict_stream="counter-1"
    )

    assert (decided.answer, decided.recorded) == ("nothing new", [])
    assert log.head().position == 0


def test_answering_keeps_what_a_decision_appends_and_replaces_its_answer() -> None:
    write = StreamWrite("counter-1", [added()], 0)
    decision = Decision([write], None, {"rules-1": 3})

    assert decision.answering("yes") == Decision([write], "yes", {"rules-1": 3})
