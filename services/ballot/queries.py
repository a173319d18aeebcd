"""The ballot service's read side: what its queries answer from the store."""

from __future__ import annotations

from typing import Any

from services.ballot.domain import sealed
from services.ballot.judgement import canonical_ballots
from services.ballot.store import BallotStore


def campaigns(store: BallotStore) -> dict[str, Any]:
    """Every campaign of the log, oldest first: what the gateway's pages choose from."""
    return {"campaigns": list(store.directory().campaigns.values())}


def campaign(store: BallotStore, campaign_id: str) -> dict[str, Any]:
    found = store.campaign(campaign_id)
    return {
        "campaign_id": found.campaign_id,
        "district": found.district,
        "year": found.year,
        "batch": found.batch,
        "policy": found.policy,
        "policy_hash": found.policy_hash,
        "assessments": list(found.assessments.values()),
    }


def meetings(store: BallotStore, campaign_id: str) -> dict[str, Any]:
    store.campaign(campaign_id)
    scheduled = store.directory().meetings.get(campaign_id, [])
    return {
        "campaign_id": campaign_id,
        "meetings": [store.meeting(meeting_id).status() for meeting_id in scheduled],
    }


def meeting_detail(store: BallotStore, meeting_id: str) -> dict[str, Any]:
    """Everything public about a meeting: subjects, policy, reports; never ratings."""
    meeting = store.meeting(meeting_id)
    return {
        **meeting.status(),
        "subjects": meeting.subjects,
        "policy": meeting.policy,
        "reports": list(meeting.reports.values()),
    }


def ballots(store: BallotStore, meeting_id: str) -> dict[str, Any]:
    """The ballots, for counting: only once voting has closed (no partial results).

    Like paper ballots tipped out of the box: each ballot is its marks only, in a
    canonical order, and the ballots are sorted by content, the multiset whose digest
    the close records. No position, id, time, hash, channel, token, slip or receipt.
    Each ballot is re-hashed as stored first: one edited in the database since it was
    cast is refused (`Tampered`), so it is never counted.
    """
    meeting = store.meeting(meeting_id)
    meeting.unseal_ballots()
    box = store.read_stream(meeting.stream("ballotbox"), refuse_altered=True)
    marks = [event.data["marks"] for event in box if event.type == "BallotCast"]
    return {
        "meeting_id": meeting.meeting_id,
        "ballots": [{"marks": ballot} for ballot in canonical_ballots(marks)],
    }


def log_page(store: BallotStore, after: int, limit: int, district: str | None) -> dict[str, Any]:
    """The ballot log after a position, ballots sealed: all of it for qunping's own
    consumers; for a district's reader, the events of its campaigns and meetings and those
    of the whole log, with `last_position` read so that paging goes past the others'."""
    events = store.log.read_batch(after, limit)
    last_position = events[-1].position if events else after
    if district is not None:
        directory = store.directory()  # read after the batch: it knows every id in it
        events = [
            event for event in events if directory.district_of(event.data) in (None, district)
        ]
    return {"events": [sealed(event) for event in events], "last_position": last_position}
