"""Two ballot processes on one log, as during a rolling update: neither answers from a stale
view of a meeting the other has moved on."""

from typing import Any

from pymongo.database import Database

from qunping.core.mongo_eventlog import MongoEventLog
from services.ballot.events import payloads
from services.ballot.store import BallotStore
from tests.unit.ballot.test_meeting_rules import Scene, committee


def replica_of(database: Database[dict[str, Any]]) -> BallotStore:
    log = MongoEventLog(database, "ballot", payload_schemas=payloads)
    log.ensure_indexes()
    return BallotStore(log)


def test_a_replica_that_saw_the_meeting_before_it_opened_accepts_a_ballot_after(
    database: Database[dict[str, Any]],
) -> None:
    first = Scene(log=replica_of(database).log)
    second = replica_of(database)
    assert second.meeting(first.meeting_id).phase == "scheduled"  # warm, then stale
    first.check_in(50)
    [token] = first.tokens(1)
    first.open()

    def cast(meeting: Any) -> Any:
        receipt, events = meeting.cast(token, committee("满意"), "1" * 32)
        return meeting.ballots_decision(events).answering(receipt)

    _, receipt = second.decide(first.meeting_id, cast)

    assert receipt in first.store.meeting(first.meeting_id, from_log=True).receipts
    assert first.store.meeting(first.meeting_id, from_log=True).returned == 1
