"""Tampering with a stored log, each way an insider could, and `verify_chain` naming it.

The insider edits the MongoDB documents directly: one document per append, its events in
an array, positions counted from the document's `_id`.
"""

from dataclasses import replace
from typing import Any

import pytest
from pymongo.database import Database

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.eventlog import LogHead
from qunping.core.mongo_eventlog import MongoEventLog, _commit_document
from qunping.core.verify import VerifyReport, verify_chain


@pytest.fixture
def log(database: Database[dict[str, Any]]) -> MongoEventLog:
    log = MongoEventLog(database, "ballot")
    for n in range(1, 21):
        log.append(
            f"token-{n}",
            [NewEvent("BallotCast", {"ratings": [{"item": "社区服务", "value": "满意"}]})],
        )
    return log


def verify(log: MongoEventLog, *anchors: LogHead) -> VerifyReport:
    return verify_chain(log.read_all(), log="ballot", anchors=anchors)


def rewrite(log: MongoEventLog, events: list[RecordedEvent]) -> None:
    """Replace the whole stored log with `events`, one append each, as an insider could."""
    log.collection.delete_many({})
    log.collection.insert_many([_commit_document([event]) for event in events])


def rehashed(event: RecordedEvent, **changes: Any) -> RecordedEvent:
    changed = replace(event, **changes)
    return replace(changed, hash=changed.computed_hash())


def test_an_untouched_log_verifies(log: MongoEventLog) -> None:
    report = verify(log, log.head())

    assert report.ok and report.checked == 20 and report.head == log.head()


def test_an_altered_rating_is_named(log: MongoEventLog) -> None:
    log.collection.update_one({"_id": 7}, {"$set": {"events.0.data.ratings.0.value": "不满意"}})

    broken = verify(log).broken

    assert broken is not None
    assert (broken.position, broken.stream, broken.problem) == (7, "token-7", "altered")


def test_an_altered_and_rehashed_event_breaks_the_link_to_its_successor(log: MongoEventLog) -> None:
    [event] = log.read_batch(6, limit=1)
    forged = rehashed(event, data={"ratings": [{"item": "社区服务", "value": "不满意"}]})
    log.collection.update_one(
        {"_id": 7}, {"$set": {"events.0.data": forged.data, "events.0.hash": forged.hash}}
    )

    broken = verify(log).broken

    assert broken is not None and (broken.position, broken.problem) == (8, "unchained")


def test_a_deleted_ballot_is_named(log: MongoEventLog) -> None:
    log.collection.delete_one({"_id": 12})

    broken = verify(log).broken

    assert broken is not None and (broken.position, broken.problem) == (12, "missing")


def test_a_forged_ballot_inserted_in_the_middle_is_caught(log: MongoEventLog) -> None:
    events = list(log.read_all())
    forged = rehashed(
        events[9], event_id="forged", stream="token-forged", prev_hash=events[9].hash, position=11
    )
    rewrite(
        log, [*events[:10], forged, *(replace(e, position=e.position + 1) for e in events[10:])]
    )

    broken = verify(log).broken

    assert broken is not None and (broken.position, broken.stream) == (12, "token-11")


def test_two_swapped_events_are_caught(log: MongoEventLog) -> None:
    events = list(log.read_all())
    events[4], events[5] = replace(events[5], position=5), replace(events[4], position=6)
    rewrite(log, events)

    broken = verify(log).broken

    assert broken is not None and (broken.position, broken.stream) == (5, "token-6")


def test_a_cut_tail_is_caught_by_an_anchor_from_outside_the_log(log: MongoEventLog) -> None:
    published = log.head()
    log.collection.delete_many({"_id": {"$gt": 17}})

    broken = verify(log, published).broken

    assert broken is not None
    assert (broken.position, broken.problem) == (18, "truncated")


def test_a_chain_rehashed_from_some_point_on_is_caught_by_an_anchor(log: MongoEventLog) -> None:
    published = log.head()
    events = list(log.read_all())
    for index in range(15, 20):
        events[index] = rehashed(
            events[index], data={"ratings": []}, prev_hash=events[index - 1].hash
        )
    rewrite(log, events)

    assert verify(log).ok, (
        "without an anchor a full re-hash is invisible: that is what anchors are for"
    )
    broken = verify(log, published).broken
    assert broken is not None and (broken.position, broken.problem) == (20, "rewritten")
