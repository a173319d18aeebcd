"""The catch-up feed over the in-memory log: paging, skipping internal events, bad input."""

import pytest

from qunping.core.envelope import NewEvent
from qunping.core.errors import InvalidInput
from qunping.core.feed import public_feed
from qunping.core.memory_eventlog import InMemoryEventLog
from tests.ballot_like import SECRET_RATING, ballot_cast, meeting_scheduled, payloads


@pytest.fixture
def log() -> InMemoryEventLog:
    log = InMemoryEventLog("ballot", payload_schemas=payloads)
    for n in range(1, 11):
        log.append(f"meeting-{n}", [NewEvent("MeetingScheduled", meeting_scheduled(n))])
        log.append(f"meeting-{n}", [NewEvent("BallotCast", ballot_cast(n))])
    return log


def test_pages_of_public_events_join_up_to_the_whole_public_log(log: InMemoryEventLog) -> None:
    seen: list[int] = []
    after = 0
    while True:
        page = public_feed(log, payloads, {"after": after, "limit": 3})
        seen += [event["position"] for event in page["events"]]
        after = page["next_after"]
        if after >= page["head"]:
            break

    assert seen == list(range(1, 21, 2))


def test_the_feed_never_shows_an_internal_event(log: InMemoryEventLog) -> None:
    page = public_feed(log, payloads, {"after": 0, "limit": 500})

    assert {event["type"] for event in page["events"]} == {"qunping.ballot.MeetingScheduled"}
    assert SECRET_RATING not in str(page)
    assert page["next_after"] == page["head"] == 20


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"after": -1}, "after"),
        ({"after": "0"}, "after"),
        ({"after": 0, "limit": 0}, "limit"),
        ({"after": 0, "limit": 501}, "limit"),
        ({"after": 0, "$where": "1"}, "$where"),
        ({}, "after"),
    ],
)
def test_bad_feed_requests_are_refused_field_by_field(
    log: InMemoryEventLog, request_: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        public_feed(log, payloads, request_)

    assert field in refused.value.messages


def test_a_position_past_the_head_gives_an_empty_page_at_its_end(log: InMemoryEventLog) -> None:
    page = public_feed(log, payloads, {"after": 99})

    assert page == {"events": [], "next_after": 99, "head": 20}
