"""Upcasters: old events read in today's shape, the stored event and its hash untouched."""

from datetime import UTC, datetime

import pytest

from qunping.core.envelope import NewEvent, RecordedEvent, record
from qunping.core.upcasting import Upcasters


def recorded(version: int, data: dict[str, object]) -> RecordedEvent:
    return record(
        "ballot",
        NewEvent("Rated", data, schema_version=version),
        stream="box-1",
        version=1,
        position=1,
        prev_hash="0" * 64,
        recorded_at=datetime(2011, 10, 12, tzinfo=UTC),
    )


def chain() -> Upcasters:
    upcasters = Upcasters()
    upcasters.register("Rated", 1)(lambda data: {"value": data["v"]})
    upcasters.register("Rated", 2)(lambda data: {**data, "scale": "satisfaction"})
    return upcasters


def test_an_old_event_is_read_through_every_step_up_to_today() -> None:
    event = recorded(1, {"v": "满意"})

    upcast = chain().upcast(event)

    assert (upcast.schema_version, upcast.data) == (3, {"value": "满意", "scale": "satisfaction"})
    assert upcast.hash == event.hash and event.data == {"v": "满意"}
    assert event.computed_hash() == event.hash, "the stored event still verifies"


def test_a_current_event_is_returned_as_it_is() -> None:
    event = recorded(3, {"value": "满意", "scale": "satisfaction"})

    assert chain().upcast(event) is event


def test_a_step_is_registered_once() -> None:
    upcasters = chain()

    with pytest.raises(ValueError, match="Rated v1 has an upcaster already"):
        upcasters.register("Rated", 1)(dict)


def test_a_mapping_shaped_v1_ballot_is_read_as_a_list_of_marks() -> None:
    from services.ballot.events import ballot_marks_as_a_list

    data = {"meeting_id": "0" * 16, "token_hash": "h", "marks": {"committee.卫生": "满意"}}

    assert ballot_marks_as_a_list(data)["marks"] == [
        {"subject": "committee", "dimension": "卫生", "value": "满意"}
    ]


def test_a_list_shaped_v1_ballot_of_a_development_build_is_read_as_it_is() -> None:
    from services.ballot.events import ballot_marks_as_a_list

    data = {
        "meeting_id": "0" * 16,
        "channel": "token",
        "token_hash": "h",
        "slip": None,
        "marks": [{"subject": "committee", "dimension": "卫生", "value": "满意"}],
    }

    assert ballot_marks_as_a_list(data) == data
