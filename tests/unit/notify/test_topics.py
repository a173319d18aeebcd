import pytest

from services.notify.topics import topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("ballot.MeetingClosed", "ballot.MeetingClosed", True),
        ("ballot.MeetingClosed", "ballot.MeetingOpened", False),
        ("ballot.*", "ballot.MeetingClosed", True),
        ("ballot.*", "pledge.PledgeSigned", False),
        ("*.MeetingClosed", "ballot.MeetingClosed", True),
        ("#", "notify.AnnouncementPublished", True),
        ("ballot.#", "ballot.MeetingClosed", True),
        ("ballot", "ballot.MeetingClosed", False),
        ("ballot.*.*", "ballot.MeetingClosed", False),
    ],
)
def test_webhook_filters_match_like_rabbitmq_topic_bindings(
    pattern: str, key: str, matches: bool
) -> None:
    assert topic_matches(pattern, key) is matches
