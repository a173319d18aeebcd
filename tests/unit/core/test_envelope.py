"""The envelope: hashes that cover every field, and a CloudEvents form tools can read."""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_structured
from cloudevents.core.formats.json import JSONFormat

from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE
from qunping.core.envelope import (
    GENESIS_HASH,
    NewEvent,
    RecordedEvent,
    canonical_json,
    from_cloudevent,
    json_bytes,
    record,
    to_cloudevent,
)
from qunping.core.errors import InvalidInput

MOMENT = datetime(2011, 10, 12, 9, 30, 15, 123000, tzinfo=UTC)


def recorded(**data: Any) -> RecordedEvent:
    return record(
        "ballot",
        NewEvent("MeetingScheduled", data or {"community": "光明社区"}, causation_id="cause-1"),
        stream="meeting-1",
        version=1,
        position=1,
        prev_hash=GENESIS_HASH,
        recorded_at=MOMENT,
    )


def test_canonical_json_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )
    assert canonical_json({"社区": "光明"}) == '{"社区":"光明"}'.encode()


@pytest.mark.parametrize(
    "field, value",
    [
        ("log", "tally"),
        ("position", 2),
        ("stream", "meeting-2"),
        ("version", 2),
        ("event_id", "another-id"),
        ("type", "MeetingVoided"),
        ("schema_version", 2),
        ("recorded_at", datetime(2011, 10, 12, 9, 30, 16, tzinfo=UTC)),
        ("correlation_id", "another-correlation"),
        ("causation_id", None),
        ("data", {"community": "太平桥社区"}),
        ("prev_hash", "f" * 64),
    ],
)
def test_the_hash_covers_every_field(field: str, value: Any) -> None:
    event = recorded()

    assert replace(event, **{field: value}).computed_hash() != event.hash


def test_a_cloudevent_reads_back_to_the_same_event() -> None:
    event = recorded()

    assert from_cloudevent(to_cloudevent(event)) == event


def test_the_published_form_is_cloudevents_that_the_standard_sdk_reads() -> None:
    event = recorded()
    message = RabbitMQMessage(
        headers={}, content_type=CLOUDEVENTS_CONTENT_TYPE, body=json_bytes(to_cloudevent(event))
    )

    parsed = from_structured(message, JSONFormat())

    assert parsed.get_id() == event.event_id
    assert parsed.get_source() == "/qunping/ballot"
    assert parsed.get_type() == "qunping.ballot.MeetingScheduled"
    assert parsed.get_subject() == "meeting-1"
    assert parsed.get_time() == MOMENT
    assert parsed.get_extension("position") == 1
    assert parsed.get_extension("hash") == event.hash
    assert parsed.get_data() == {"community": "光明社区"}


@pytest.mark.parametrize(
    "change",
    [
        {"extra": "x"},
        {"specversion": "0.3"},
        {"hash": "not-a-hash"},
        {"position": "1"},
        {"position": 0},
        {"source": "/somewhere/else"},
        {"subject": "no category"},
        {"time": "2011-10-12 09:30"},
    ],
)
def test_anything_but_exactly_our_cloudevent_form_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        from_cloudevent({**to_cloudevent(recorded()), **change})

    assert set(refused.value.messages) == set(change)
