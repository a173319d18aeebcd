"""Which district a public event concerns, and whose subscriptions receive it."""

from __future__ import annotations

from typing import Any

from services.notify.districts import (
    CAMPAIGN,
    EVERY_DISTRICT,
    MEETING,
    PLEDGE,
    UNIT,
    UNKNOWN,
    concerns,
    places_named_by,
    reaches,
)

JIZHOU, QINGYUAN = "吉州区", "青原区"


def seen(*events: tuple[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """What notify would have recorded after taking these events."""
    places: dict[tuple[str, str], str] = {}
    for routing_key, data in events:
        for kind, thing_id, belongs_to in places_named_by(routing_key, data):
            places[(kind, thing_id)] = belongs_to
    return places


PLACES = seen(
    ("ballot.CampaignCreated", {"campaign_id": "c1", "district": JIZHOU, "year": 2011}),
    ("ballot.MeetingScheduled", {"meeting_id": "m1", "campaign_id": "c1", "community": "光明社区"}),
    ("pledge.UnitRegistered", {"unit_id": "u1", "district": QINGYUAN, "community": "光明社区"}),
    ("pledge.PledgeDrafted", {"pledge_id": "p1", "unit_id": "u1", "district": QINGYUAN}),
)


def concern_of(routing_key: str, data: dict[str, Any]) -> object:
    return concerns(routing_key, data, lambda kind, thing_id: PLACES.get((kind, thing_id)))


def test_what_campaigns_meetings_units_and_letters_are_created_with_is_remembered() -> None:
    assert PLACES == {
        (CAMPAIGN, "c1"): JIZHOU,
        (MEETING, "m1"): "c1",
        (UNIT, "u1"): QINGYUAN,
        (PLEDGE, "p1"): QINGYUAN,
    }
    assert places_named_by("tally.ResultsPublished", {"meeting_id": "m1"}) == []


def test_an_event_naming_its_district_concerns_that_district() -> None:
    assert concern_of("pledge.ItemOverdue", {"district": QINGYUAN, "pledge_id": "p9"}) == QINGYUAN
    assert concern_of("notify.AnnouncementPublished", {"district": JIZHOU}) == JIZHOU


def test_an_event_naming_a_campaign_or_meeting_concerns_the_campaigns_district() -> None:
    assert concern_of("tally.AlertRaised", {"campaign_id": "c1", "meeting_id": "m1"}) == JIZHOU
    assert concern_of("tally.GradeAssigned", {"campaign_id": "c1"}) == JIZHOU
    assert concern_of("ballot.VotingClosed", {"meeting_id": "m1"}) == JIZHOU


def test_an_event_naming_a_unit_or_letter_concerns_the_units_district() -> None:
    assert concern_of("pledge.ItemReported", {"pledge_id": "p1"}) == QINGYUAN
    assert concern_of("pledge.Anything", {"unit_id": "u1"}) == QINGYUAN


def test_checkpoints_keys_and_tamper_alerts_concern_every_district() -> None:
    for event_type in ("CheckpointSigned", "SigningKeyAnnounced", "TamperDetected"):
        assert concern_of(f"ballot.{event_type}", {"log": "ballot"}) is EVERY_DISTRICT


def test_an_event_whose_district_cannot_be_found_concerns_none() -> None:
    assert concern_of("ballot.VotingClosed", {"meeting_id": "never-seen"}) is UNKNOWN
    assert concern_of("tally.ResultsPublished", {"campaign_id": "c9"}) is UNKNOWN
    assert concern_of("notify.AnnouncementPublished", {"district": None}) is UNKNOWN


def test_a_districts_subscription_receives_its_own_and_deployment_wide_events_only() -> None:
    assert reaches(JIZHOU, JIZHOU)
    assert reaches(JIZHOU, EVERY_DISTRICT)
    assert not reaches(JIZHOU, QINGYUAN)
    assert not reaches(JIZHOU, UNKNOWN)


def test_a_subscription_made_before_districts_keeps_receiving_every_event() -> None:
    assert all(reaches(None, concern) for concern in (JIZHOU, EVERY_DISTRICT, UNKNOWN))
