"""The event log contract: one suite every backend must pass (in-memory and MongoDB).

A backend's test class inherits `EventLogContract` and provides the `make_log` fixture.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import fields

from qunping.core.envelope import GENESIS_HASH, NewEvent, RecordedEvent
from qunping.core.errors import ConcurrencyError, InvalidEvent, Refused
from qunping.core.eventlog import ANY_VERSION, NO_STREAM, EventLog, StreamWrite
from qunping.core.schemas import PayloadSchemas, StrictSchema
from qunping.core.verify import verify_chain

MakeLog = Callable[..., EventLog]

payloads = PayloadSchemas()


@payloads.register("RatingGiven")
class RatingGiven(StrictSchema):
    subject = fields.String(required=True)
    value = fields.Integer(required=True, strict=True)


def rating(subject: str = "committee", value: int = 1, **options: Any) -> NewEvent:
    return NewEvent("RatingGiven", {"subject": subject, "value": value}, **options)


def everything(log: EventLog) -> list[RecordedEvent]:
    return list(log.read_all())


class EventLogContract:
    @pytest.fixture
    def make_log(self) -> MakeLog:
        raise NotImplementedError("each backend's test class provides make_log")

    @pytest.fixture
    def log(self, make_log: MakeLog) -> EventLog:
        return make_log("ballot")

    # -- appending -------------------------------------------------------------------

    def test_first_event_of_a_new_stream_has_version_1_and_position_1(self, log: EventLog) -> None:
        [event] = log.append("meeting-1", [rating()], NO_STREAM)

        assert (event.stream, event.version, event.position) == ("meeting-1", 1, 1)
        assert event.prev_hash == GENESIS_HASH
        assert event.log == "ballot"

    def test_positions_are_consecutive_across_streams(self, log: EventLog) -> None:
        log.append("meeting-1", [rating(), rating()], NO_STREAM)
        log.append("meeting-2", [rating()], NO_STREAM)
        log.append("meeting-1", [rating()], 2)

        assert [(e.position, e.stream, e.version) for e in everything(log)] == [
            (1, "meeting-1", 1),
            (2, "meeting-1", 2),
            (3, "meeting-2", 1),
            (4, "meeting-1", 3),
        ]

    def test_append_with_a_stale_expected_version_is_refused_and_writes_nothing(
        self, log: EventLog
    ) -> None:
        log.append("meeting-1", [rating(), rating()], NO_STREAM)

        with pytest.raises(ConcurrencyError) as refused:
            log.append("meeting-1", [rating()], 1)

        assert (refused.value.expected, refused.value.actual) == (1, 2)
        assert len(everything(log)) == 2

    def test_append_expecting_no_stream_is_refused_when_the_stream_exists(
        self, log: EventLog
    ) -> None:
        log.append("meeting-1", [rating()], NO_STREAM)

        with pytest.raises(ConcurrencyError):
            log.append("meeting-1", [rating()], NO_STREAM)
        assert len(everything(log)) == 1

    def test_append_expecting_a_version_the_stream_never_reached_is_refused(
        self, log: EventLog
    ) -> None:
        log.append("meeting-1", [rating()], NO_STREAM)

        with pytest.raises(ConcurrencyError):
            log.append("meeting-1", [rating()], 5)
        assert [e.version for e in log.read_stream("meeting-1")] == [1]

    def test_any_version_appends_after_whatever_is_there(self, log: EventLog) -> None:
        log.append("meeting-1", [rating()], NO_STREAM)

        [event] = log.append("meeting-1", [rating()], ANY_VERSION)

        assert event.version == 2

    def test_append_retried_with_the_same_event_ids_does_not_duplicate(self, log: EventLog) -> None:
        events = [rating(value=1), rating(value=2)]
        first = log.append("meeting-1", events, NO_STREAM)

        again = log.append("meeting-1", events, NO_STREAM)
        once_more = log.append("meeting-1", events, ANY_VERSION)

        assert again == first == once_more
        assert len(everything(log)) == 2

    def test_an_event_id_reused_for_another_stream_is_refused(self, log: EventLog) -> None:
        event = rating()
        log.append("meeting-1", [event], NO_STREAM)

        with pytest.raises(Refused):
            log.append("meeting-2", [event], NO_STREAM)
        assert len(everything(log)) == 1

    def test_a_batch_over_several_streams_is_all_or_nothing(self, log: EventLog) -> None:
        log.append("meeting-2", [rating()], NO_STREAM)

        with pytest.raises(ConcurrencyError):
            log.append_batch(
                [
                    StreamWrite("meeting-1", [rating()], NO_STREAM),
                    StreamWrite("meeting-2", [rating()], NO_STREAM),
                ]
            )

        assert log.read_stream("meeting-1") == []
        assert len(everything(log)) == 1

    def test_a_batch_over_several_streams_is_placed_in_order(self, log: EventLog) -> None:
        recorded = log.append_batch(
            [
                StreamWrite("token-a", [rating()], NO_STREAM),
                StreamWrite("token-b", [rating(), rating()], NO_STREAM),
            ]
        )

        assert [(e.position, e.stream, e.version) for e in recorded] == [
            (1, "token-a", 1),
            (2, "token-b", 1),
            (3, "token-b", 2),
        ]

    def test_a_stream_the_decision_read_must_not_have_moved(self, log: EventLog) -> None:
        log.append("meeting-1", [rating()], NO_STREAM)
        log.append("meeting-1", [rating()], 1)

        with pytest.raises(ConcurrencyError) as refused:
            log.append("token-a", [rating()], NO_STREAM, unchanged={"meeting-1": 1})

        assert refused.value.stream == "meeting-1"
        assert log.read_stream("token-a") == []
        log.append("token-a", [rating()], NO_STREAM, unchanged={"meeting-1": 2})
        assert len(log.read_stream("token-a")) == 1

    # -- refusing bad events ---------------------------------------------------------

    def test_data_its_schema_refuses_is_not_recorded(self, make_log: MakeLog) -> None:
        log = make_log("ballot", payload_schemas=payloads)

        with pytest.raises(InvalidEvent) as refused:
            log.append("meeting-1", [NewEvent("RatingGiven", {"subject": "x", "value": "high"})])

        assert "value" in refused.value.messages
        assert everything(log) == []

    def test_unknown_fields_in_data_are_refused(self, make_log: MakeLog) -> None:
        log = make_log("ballot", payload_schemas=payloads)

        with pytest.raises(InvalidEvent) as refused:
            log.append(
                "meeting-1", [NewEvent("RatingGiven", {"subject": "x", "value": 1, "$where": 1})]
            )

        assert "$where" in refused.value.messages
        assert everything(log) == []

    def test_an_event_type_without_a_schema_is_refused(self, make_log: MakeLog) -> None:
        log = make_log("ballot", payload_schemas=payloads)

        with pytest.raises(InvalidEvent):
            log.append("meeting-1", [NewEvent("Unregistered", {})])
        assert everything(log) == []

    def test_data_that_is_not_json_is_refused(self, log: EventLog) -> None:
        with pytest.raises(InvalidEvent):
            log.append("meeting-1", [NewEvent("RatingGiven", {"when": datetime.now(UTC)})])
        with pytest.raises(InvalidEvent):
            log.append("meeting-1", [NewEvent("RatingGiven", {"ratio": float("nan")})])
        assert everything(log) == []

    @pytest.mark.parametrize(
        "stream", ["meeting", "Meeting-1", "meeting-", "m eeting-1", "x" * 40 + "-1"]
    )
    def test_a_malformed_stream_name_is_refused(self, log: EventLog, stream: str) -> None:
        with pytest.raises(ValueError):
            log.append(stream, [rating()])
        assert everything(log) == []

    # -- reading ---------------------------------------------------------------------

    def test_a_stream_reads_back_after_a_version(self, log: EventLog) -> None:
        log.append("meeting-1", [rating(value=v) for v in range(1, 6)], NO_STREAM)
        log.append("meeting-2", [rating()], NO_STREAM)

        events = log.read_stream("meeting-1", after_version=3)

        assert [(e.version, e.data["value"]) for e in events] == [(4, 4), (5, 5)]
        assert log.read_stream("meeting-9") == []

    def test_everything_after_a_position_reads_in_order_across_batches(self, log: EventLog) -> None:
        for n in range(25):
            log.append(f"meeting-{n % 4}", [rating(value=n)])

        after_7 = list(log.read_all(after_position=7, batch_size=4))

        assert [e.position for e in after_7] == list(range(8, 26))
        assert [e.data["value"] for e in after_7] == list(range(7, 25))

    def test_the_log_reads_as_of_a_position(self, log: EventLog) -> None:
        for n in range(10):
            log.append("meeting-1", [rating(value=n)])

        as_of_6 = list(log.read_all(until_position=6, batch_size=4))

        assert [e.position for e in as_of_6] == [1, 2, 3, 4, 5, 6]
        assert [e.position for e in log.read_batch(4, limit=3)] == [5, 6, 7]

    def test_head_is_the_last_position_and_its_hash(self, log: EventLog) -> None:
        assert (log.head().position, log.head().hash) == (0, GENESIS_HASH)

        *_, last = log.append("meeting-1", [rating(), rating()])

        assert (log.head().position, log.head().hash) == (2, last.hash)

    def test_an_append_is_found_by_its_first_event_id(self, log: EventLog) -> None:
        log.append("meeting-0", [rating()])
        recorded = log.append("meeting-1", [rating(), rating()])

        assert log.find_append(recorded[0].event_id) == recorded
        assert log.find_append(recorded[1].event_id) == []
        assert log.find_append("no-such-id") == []

    def test_an_append_may_not_exceed_the_size_limit(self, log: EventLog) -> None:
        with pytest.raises(ValueError):
            log.append("meeting-1", [rating() for _ in range(1001)])
        assert everything(log) == []

    # -- the envelope and the chain --------------------------------------------------

    def test_every_event_carries_its_envelope(self, log: EventLog) -> None:
        cause = rating()
        log.append("meeting-1", [cause])
        [event] = log.append(
            "meeting-1",
            [rating(correlation_id="corr-1", causation_id=cause.event_id)],
        )

        assert event.type == "RatingGiven" and event.schema_version == 1
        assert event.correlation_id == "corr-1" and event.causation_id == cause.event_id
        assert event.recorded_at.tzinfo is not None
        assert event.hash == event.computed_hash()

    def test_an_event_without_a_correlation_id_correlates_to_itself(self, log: EventLog) -> None:
        [event] = log.append("meeting-1", [rating()])

        assert event.correlation_id == event.event_id and event.causation_id is None

    def test_a_day_precision_event_records_only_the_day(self, log: EventLog) -> None:
        [event] = log.append("token-a", [rating(day_precision=True)])

        moment = event.recorded_at.astimezone(UTC)
        assert (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)

    def test_each_event_is_chained_to_its_predecessor(self, log: EventLog) -> None:
        for n in range(5):
            log.append(f"meeting-{n % 2}", [rating(value=n)])

        events = everything(log)

        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert verify_chain(events, log="ballot").ok

    def test_reading_back_returns_exactly_what_was_recorded(self, log: EventLog) -> None:
        recorded = log.append(
            "meeting-1", [NewEvent("RatingGiven", {"名称": "光明社区", "n": [1, {"x": None}]})]
        )

        assert everything(log) == recorded
        assert log.read_stream("meeting-1") == recorded

    # -- observing and concurrency ---------------------------------------------------

    def test_append_listeners_see_each_append(self, log: EventLog) -> None:
        seen: list[list[int]] = []
        log.add_append_listener(lambda events: seen.append([e.position for e in events]))

        log.append("meeting-1", [rating(), rating()])
        log.append("meeting-2", [rating()])

        assert seen == [[1, 2], [3]]

    def test_concurrent_writers_on_one_stream_never_share_a_version(self, log: EventLog) -> None:
        successes: list[int] = []
        lock = threading.Lock()

        def writer() -> None:
            for _ in range(10):
                while True:
                    version = len(log.read_stream("meeting-1"))
                    try:
                        [event] = log.append("meeting-1", [rating()], version)
                    except ConcurrencyError:
                        continue
                    with lock:
                        successes.append(event.version)
                    break

        threads = [threading.Thread(target=writer) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(successes) == list(range(1, 61))
        assert [e.position for e in everything(log)] == list(range(1, 61))
        assert verify_chain(everything(log), log="ballot").ok
