"""The projection runner: duplicates, reordering and gaps change nothing; rebuilds agree."""

import threading
from typing import Any

import pytest
from pymongo.database import Database

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.eventlog import LogIntegrityError
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.projection import ProjectionRunner, ReadModels


class TurnoutProjection:
    """Counts ballots per meeting, and remembers the order it saw them in."""

    name = "turnout"
    collections = ("turnout",)

    def __init__(self) -> None:
        self.fail_at: int | None = None

    def apply(self, event: RecordedEvent, models: ReadModels) -> None:
        if event.position == self.fail_at:
            raise RuntimeError("projection bug")
        if event.type != "BallotCast":
            return
        meeting = event.data["meeting"]
        board = models.get("turnout", meeting) or {"returned": 0, "positions": []}
        board["returned"] += 1
        board["positions"].append(event.position)
        models.put("turnout", meeting, board)


@pytest.fixture
def log(database: Database[dict[str, Any]]) -> MongoEventLog:
    log = MongoEventLog(database, "ballot")
    for n in range(1, 41):
        log.append(f"token-{n}", [NewEvent("BallotCast", {"meeting": f"m{n % 2}"})])
        if n % 10 == 0:
            log.append("meeting-m0", [NewEvent("TurnoutNoted", {})])
    return log


def runner_for(
    database: Database[dict[str, Any]], log: MongoEventLog, projection: Any = None
) -> ProjectionRunner:
    return ProjectionRunner(
        database,
        projection or TurnoutProjection(),
        log.read_all,
        source_log="ballot",
        batch_size=7,
    )


def boards(database: Database[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(database["turnout"].find(sort=[("_id", 1)]))


def test_events_delivered_in_order_are_each_applied_once(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    runner = runner_for(database, log)

    for event in log.read_all():
        runner.deliver(event)

    assert [(b["_id"], b["returned"]) for b in boards(database)] == [("m0", 20), ("m1", 20)]
    assert runner.checkpoint() == log.head()


def test_duplicated_and_reordered_deliveries_change_nothing(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    in_order = runner_for(database, log)
    in_order.catch_up()
    expected = boards(database)
    database.drop_collection("turnout")
    database.drop_collection("projection_checkpoints")
    runner = runner_for(database, log)
    events = list(log.read_all())
    shuffled = events[20:30] + events[:5] + events[5:] + events[::-1] + events[3:9]

    applied = sum(runner.deliver(event) for event in shuffled)

    assert applied == len(events)
    assert boards(database) == expected
    for board in boards(database):
        assert board["positions"] == sorted(board["positions"])


def test_a_gap_is_filled_from_the_source_log(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    runner = runner_for(database, log)
    last = list(log.read_all())[-1]

    runner.deliver(last)

    assert sum(b["returned"] for b in boards(database)) == 40
    assert runner.checkpoint().position == last.position


def test_a_failing_batch_writes_neither_models_nor_checkpoint(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    projection = TurnoutProjection()
    projection.fail_at = 12
    runner = runner_for(database, log, projection)

    with pytest.raises(RuntimeError):
        runner.catch_up()

    assert runner.checkpoint().position == 7, "the first batch of 7 committed, the second did not"
    assert sum(b["returned"] for b in boards(database)) == 7
    projection.fail_at = None
    runner.catch_up()
    assert sum(b["returned"] for b in boards(database)) == 40


def test_rebuilding_from_position_0_yields_exactly_the_same_documents(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    runner = runner_for(database, log)
    for event in list(log.read_all())[::3]:
        runner.deliver(event)
    runner.catch_up()
    before = boards(database)

    runner.rebuild()

    assert boards(database) == before


def test_two_runners_at_once_still_apply_each_event_once(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    runners = [runner_for(database, log), runner_for(database, log)]
    events = list(log.read_all())

    def feed(runner: ProjectionRunner) -> None:
        for event in events:
            runner.deliver(event)

    threads = [threading.Thread(target=feed, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for runner in runners:
        runner.catch_up()

    assert sum(b["returned"] for b in boards(database)) == 40


def test_a_source_event_that_does_not_chain_on_is_refused(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    runner = runner_for(database, log)
    log.collection.update_one({"_id": 5}, {"$set": {"events.0.prev_hash": "0" * 64}})

    with pytest.raises(LogIntegrityError):
        runner.catch_up()
    assert runner.checkpoint().position == 0


def gauges(runner: ProjectionRunner) -> dict[str, float]:
    return {reading.name: reading.value for reading in runner.readings()}


def test_a_stuck_projection_reports_its_lag_behind_the_newest_source_event_seen(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    projection = TurnoutProjection()
    projection.fail_at = 12
    runner = runner_for(database, log, projection)
    assert gauges(runner)["qunping_projection_lag_events"] == 0

    with pytest.raises(RuntimeError):
        runner.catch_up()

    stuck = gauges(runner)
    assert stuck["qunping_projection_checkpoint_position"] == 7
    assert stuck["qunping_projection_lag_events"] == 14 - 7, "it read a batch to position 14"
    projection.fail_at = None
    runner.catch_up()
    assert gauges(runner) == {
        "qunping_projection_checkpoint_position": log.head().position,
        "qunping_projection_lag_events": 0,
    }
    assert {r.labels["source_log"] for r in runner.readings()} == {"ballot"}


def edit_in_place(log: MongoEventLog, position: int, meeting: str) -> None:
    """What an insider with write access does: change a stored event, keep its hash."""
    log.collection.update_one({"_id": position}, {"$set": {"events.0.data.meeting": meeting}})


def test_an_event_edited_in_place_stops_the_projection_before_it(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    [target] = [e for e in log.read_all() if e.stream == "token-15"]
    edit_in_place(log, target.position, "m9")
    found: list[Any] = []
    runner = ProjectionRunner(
        database,
        TurnoutProjection(),
        log.read_all,
        source_log="ballot",
        batch_size=7,
        on_tamper=found.append,
    )

    runner.catch_up()

    assert runner.checkpoint().position == target.position - 1, "what preceded it is applied"
    assert [(f.position, f.problem) for f in found] == [(target.position, "altered")]
    assert "m9" not in {board["_id"] for board in boards(database)}
    assert all(target.position not in board["positions"] for board in boards(database))


def test_a_stopped_projection_stays_stopped_across_restarts_until_rebuilt(
    database: Database[dict[str, Any]], log: MongoEventLog
) -> None:
    [target] = [e for e in log.read_all() if e.stream == "token-15"]
    edit_in_place(log, target.position, "m9")
    runner_for(database, log).catch_up()
    restarted = runner_for(database, log)

    assert restarted.catch_up() == 0
    assert [restarted.deliver(event) for event in log.read_all()] == [0] * len(list(log.read_all()))
    halted = restarted.halted()
    assert halted is not None and halted.position == target.position

    edit_in_place(log, target.position, target.data["meeting"])  # the log is restored
    restarted.rebuild()

    assert restarted.halted() is None and restarted.checkpoint() == log.head()
