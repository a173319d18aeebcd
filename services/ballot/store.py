"""Loading campaigns and meetings from the ballot log, kept warm in memory.

A cached meeting is current as long as the log's view agrees on every one of its stream
versions (no I/O to ask); otherwise only the missing events are read. Commands on one
meeting run one at a time in this process; across processes, the log's version checks
refuse a stale decision and the command is decided again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qunping.core.decide import Decision, decide_and_append
from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.errors import NotFound
from qunping.core.eventlog import EventLog, StreamWrite
from qunping.core.fold import IncrementalFold
from qunping.core.tamper import refuse_if_altered
from services.ballot.domain import VOID, Campaign, Meeting, seat_stream, seat_taken
from services.ballot.events import upcasters

R = TypeVar("R")


@dataclass
class Directory:
    """Which campaigns exist and which meetings each schedules, in log order."""

    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    meetings: dict[str, list[str]] = field(default_factory=dict)
    campaign_of: dict[str, str] = field(default_factory=dict)
    """Each meeting's campaign."""

    def apply(self, event: RecordedEvent) -> None:
        if event.type == "CampaignCreated":
            self.campaigns[event.data["campaign_id"]] = {
                key: event.data[key] for key in ("campaign_id", "district", "year", "batch")
            }
        elif event.type == "MeetingScheduled":
            self.meetings.setdefault(event.data["campaign_id"], []).append(event.data["meeting_id"])
            self.campaign_of[event.data["meeting_id"]] = event.data["campaign_id"]

    def district_of(self, data: Mapping[str, Any]) -> str | None:
        """The district an event of this log concerns, by the campaign or meeting it names;
        None for what concerns the whole log (its checkpoints, keys and alerts)."""
        campaign_id = data.get("campaign_id") or self.campaign_of.get(data.get("meeting_id", ""))
        if campaign_id is None:
            return None
        return str(self.campaigns[campaign_id]["district"])


class BallotStore:
    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._meetings: dict[str, Meeting] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._directory = IncrementalFold(log, Directory())
        self.scheduling = threading.Lock()
        """Held from looking for a live meeting to scheduling one, in this process (the
        seat stream orders schedulings across processes)."""

    def directory(self) -> Directory:
        """Kept up by reading only what the log gained since the last call (every process
        reads what the others appended), so listing never rescans the ballots."""
        return self._directory.current()

    def campaign(self, campaign_id: str) -> Campaign:
        campaign = Campaign(campaign_id)
        for event in self.read_stream(f"campaign-{campaign_id}"):
            campaign.apply(event)
        if not campaign.exists:
            raise NotFound(f"campaign {campaign_id}")
        return campaign

    def meeting(self, meeting_id: str, *, from_log: bool = False) -> Meeting:
        """The warm meeting, brought up to what this process knows of the log; `from_log`
        reads every stream from the log itself instead (nothing taken from memory)."""
        fresh = (None if from_log else self._meetings.get(meeting_id)) or Meeting(meeting_id)
        for stream in fresh.streams():
            held = fresh.versions.get(stream, 0)
            if from_log or self.log.known_version(stream) != held:
                fresh.apply_all(self.read_stream(stream, after_version=held))
        if not fresh.exists:
            raise NotFound(f"meeting {meeting_id}")
        self._meetings[meeting_id] = fresh
        return fresh

    def schedule(
        self,
        campaign_id: str,
        community: str,
        pledge_id: str | None,
        decision: Callable[[Meeting | None], NewEvent],
    ) -> NewEvent:
        """Append the meeting `decision` schedules, given the community's live meeting.

        The meeting takes the community's seat in the same append, at the version the seat
        had when the live meeting was looked for: were another process scheduling at the
        same time, one append is refused and decides again, finding the other's meeting.
        """
        seat = seat_stream(campaign_id, community, pledge_id)

        def seat_and_live_meeting() -> tuple[int, Meeting | None]:
            taken = len(self.read_stream(seat))
            return taken, self.live_meeting(campaign_id, community, pledge_id)

        def scheduling(loaded: tuple[int, Meeting | None]) -> Decision[NewEvent]:
            taken, live = loaded
            scheduled = decision(live)
            writes = [
                StreamWrite(f"meeting-{scheduled.data['meeting_id']}", [scheduled], 0),
                StreamWrite(seat, [seat_taken(scheduled)], taken),
            ]
            return Decision(writes, scheduled)

        with self.scheduling:
            return decide_and_append(
                self.log, seat_and_live_meeting, scheduling, conflict_stream=seat
            ).answer

    def live_meeting(
        self, campaign_id: str, community: str, pledge_id: str | None
    ) -> Meeting | None:
        """The campaign's meeting of this community (and pledge letter) that is not void."""
        for meeting_id in self.directory().meetings.get(campaign_id, []):
            meeting = self.meeting(meeting_id)
            same = (meeting.community, meeting.pledge_id) == (community, pledge_id)
            if same and meeting.phase != VOID:
                return meeting
        return None

    def read_stream(
        self, stream: str, after_version: int = 0, *, refuse_altered: bool = False
    ) -> list[RecordedEvent]:
        """A stream's events in today's schema versions (older ones upcast, as read).

        With `refuse_altered`, each is re-hashed as stored (before upcasting) and one whose
        content no longer matches its hash raises `Tampered`."""
        events = self.log.read_stream(stream, after_version)
        if refuse_altered:
            events = [refuse_if_altered(event) for event in events]
        return [upcasters.upcast(e) for e in events]

    @contextmanager
    def deciding(self, meeting_id: str) -> Iterator[None]:
        """One command at a time per meeting in this process."""
        with self._guard:
            lock = self._locks.setdefault(meeting_id, threading.Lock())
        with lock:
            yield

    def decide(
        self, meeting_id: str, decision: Callable[[Meeting], Decision[R]]
    ) -> tuple[Meeting, R]:
        """Load, decide and append; decide again if another process moved a stream first.
        The meeting comes back with what was appended, beside the decision's answer.

        The warm meeting only knows what this process has seen, and another replica (a
        rolling update runs two) may have opened voting or issued tokens since: after a
        conflict, and before a refusal is answered, the meeting is read from the log itself.
        """
        with self.deciding(meeting_id):
            meeting, answer, recorded = decide_and_append(
                self.log,
                lambda: self.meeting(meeting_id),
                decision,
                conflict_stream=f"meeting-{meeting_id}",
                load_from_log=lambda: self.meeting(meeting_id, from_log=True),
            )
            meeting.apply_all(recorded)
            return meeting, answer
