"""The ballot service's nameko entrypoints: validate, load, decide, append, return.

Every command is validated by its schema in `schemas.py` (unknown fields refused, per-field
messages, nothing written); every rule lives in `domain.py`.
"""

from __future__ import annotations

import secrets
from typing import Any

from nameko.rpc import rpc

from qunping.core.decide import Decision
from qunping.core.dependencies import EventLogDependency, SignsCheckpoints
from qunping.core.envelope import RecordedEvent, to_cloudevent
from qunping.core.errors import Refused
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import StrictSchema, load
from services.ballot import domain, schemas
from services.ballot.domain import CLOSED, VOID, Meeting
from services.ballot.events import payloads
from services.ballot.judgement import canonical_ballots
from services.ballot.policy import merged_with_defaults
from services.ballot.store import BallotStore

SEALED = ("BallotCast", "TokenSpent", "SlipCounted", "PaperBallotKeyed", "RepresentativeCheckedIn")
"""Events whose data never leaves the ballot service: a ballot's marks, a spent token's
hash and receipt, a counted slip's number, a clerk's keying of one slip, a
representative's name. Consumers count them; none needs more."""


def sealed(event: RecordedEvent) -> dict[str, Any]:
    """How events leave on RabbitMQ and by `read_log`: of a ballot, a spent token, a
    counted slip or a keying only that there was one, for which meeting."""
    cloudevent = to_cloudevent(event)
    if event.type in SEALED:
        cloudevent["data"] = {"meeting_id": event.data["meeting_id"], "sealed": True}
    elif event.type == "TokensIssued":  # how many, never the hashes that spent tokens name
        cloudevent["data"] = {
            "meeting_id": event.data["meeting_id"],
            "count": len(event.data["token_hashes"]),
            "sealed": True,
        }
    return cloudevent


class BallotStoreDependency(EventLogDependency):
    """The ballot log, its relay, and one warm `BallotStore` shared by every worker."""

    def setup(self) -> None:
        super().setup()
        self.store = BallotStore(self.log)

    def get_dependency(self, worker_ctx: Any) -> BallotStore:  # type: ignore[override]
        return self.store


class BallotService(HealthEndpoints, SignsCheckpoints):
    name = "ballot"
    # A meeting's close (or voiding) is signed at once: its ballots are then vouched for.
    store: BallotStore = BallotStoreDependency(
        payloads, outgoing=sealed, sign_after={"VotingClosed", "MeetingVoided"}
    )

    # -- campaigns -------------------------------------------------------------------

    @rpc
    def create_campaign(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.CreateCampaign(), payload)
        policy = merged_with_defaults(command["policy"])
        event = domain.create_campaign(
            command["district"], command["year"], command["batch"], policy
        )
        self.store.log.append(f"campaign-{event.data['campaign_id']}", [event], 0)
        return {"campaign_id": event.data["campaign_id"], "policy_hash": event.data["policy_hash"]}

    @rpc
    def list_campaigns(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Every campaign of the log, oldest first: what the gateway's pages choose from."""
        load(StrictSchema(), payload)
        return {"campaigns": list(self.store.directory().campaigns.values())}

    @rpc
    def get_campaign(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign = self.store.campaign(load(schemas.CampaignRef(), payload)["campaign_id"])
        return {
            "campaign_id": campaign.campaign_id,
            "district": campaign.district,
            "year": campaign.year,
            "batch": campaign.batch,
            "policy": campaign.policy,
            "policy_hash": campaign.policy_hash,
            "assessments": list(campaign.assessments.values()),
        }

    @rpc
    def record_assessment(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.RecordAssessment(), payload)
        campaign = self.store.campaign(command["campaign_id"])
        live = self.store.live_meeting(campaign.campaign_id, command["community"], None)
        event = campaign.record_assessment(
            command["community"],
            command["score"],
            command["assessor"],
            command["basis"],
            actor=command["actor"],
            results_exist=live is not None and live.phase == CLOSED,
            reason=command["reason"],
        )
        self.store.log.append(f"campaign-{campaign.campaign_id}", [event], campaign.version)
        return {"campaign_id": campaign.campaign_id, "community": command["community"]}

    # -- meetings --------------------------------------------------------------------

    @rpc
    def schedule_meeting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.ScheduleMeeting(), payload)
        campaign = self.store.campaign(command["campaign_id"])
        rerun_of = self.store.meeting(command["rerun_of"]) if command["rerun_of"] else None
        details = {**command, "starts_at": command["starts_at"].isoformat()}
        event = self.store.schedule(
            campaign.campaign_id,
            command["community"],
            command["pledge_id"],
            lambda live: domain.schedule_meeting(
                campaign, details, command["subjects"], rerun_of, live=live, actor=command["actor"]
            ),
        )
        return {"meeting_id": event.data["meeting_id"], "subjects": event.data["subjects"]}

    @rpc
    def meeting_status(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.store.meeting(load(schemas.MeetingRef(), payload)["meeting_id"]).status()

    @rpc
    def meeting_detail(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Everything public about a meeting: subjects, policy, reports; never ratings."""
        meeting = self.store.meeting(load(schemas.MeetingRef(), payload)["meeting_id"])
        return {
            **meeting.status(),
            "subjects": meeting.subjects,
            "policy": meeting.policy,
            "reports": list(meeting.reports.values()),
        }

    @rpc
    def record_report(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.RecordReport(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.record_report(
                command["subject_id"], command["text"], command["attachment"], command["actor"]
            )
            return meeting.decision("meeting", [event])

        self.store.decide(command["meeting_id"], decide)
        return {"subject_id": command["subject_id"]}

    @rpc
    def check_in(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.CheckIn(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.check_in(
                command["name"], command["category"], command["identifier"], command["actor"]
            )
            return meeting.decision("roster", [event], "meeting")

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return {"checked_in": len(meeting.roster)}

    @rpc
    def issue_tokens(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Tokens in clear, returned once for printing; the log keeps salted hashes only."""
        command = load(schemas.IssueTokens(), payload)

        def decide(meeting: Meeting) -> Decision[list[str]]:
            event, tokens = meeting.issue_tokens(command["count"], command["actor"])
            return meeting.decision("tokens", [event], "meeting", "roster").answering(tokens)

        meeting, tokens = self.store.decide(command["meeting_id"], decide)
        return {"tokens": tokens, "issued": meeting.issued}

    @rpc
    def issue_paper_slips(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.IssueTokens(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.issue_paper_slips(command["count"], command["actor"])
            return meeting.decision("tokens", [event], "meeting", "roster")

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return {"issued": meeting.issued}

    @rpc
    def open_voting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.MeetingAct(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.open_voting(command["actor"])
            return meeting.decision("meeting", [event], "roster", "tokens")

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return meeting.status()

    @rpc
    def cast_ballot(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.CastBallot(), payload)

        cast_id = command["cast_id"] or secrets.token_hex(16)

        def decide(meeting: Meeting) -> Decision[str]:
            receipt, events = meeting.cast(command["token"], command["marks"], cast_id)
            return meeting.ballots_decision(events).answering(receipt)

        meeting, receipt = self.store.decide(command["meeting_id"], decide)
        return {"receipt": receipt, "meeting_id": meeting.meeting_id}

    @rpc
    def key_paper_batch(self, payload: dict[str, Any]) -> dict[str, Any]:
        """One clerk's keying of a batch; slips two clerks keyed alike are counted."""
        command = load(schemas.KeyPaperBatch(), payload)

        def decide(meeting: Meeting) -> Decision[tuple[int, list[int]]]:
            events, mismatched = meeting.key_paper(
                command["batch"], command["actor"], command["entries"]
            )
            return meeting.ballots_decision(events).answering((meeting.returned, mismatched))

        meeting, (before, mismatched) = self.store.decide(command["meeting_id"], decide)
        return {"accepted": meeting.returned - before, "mismatched": mismatched}

    @rpc
    def close_voting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.MeetingAct(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            return meeting.decision(
                "meeting",
                meeting.close_voting(command["actor"]),
                "ballotbox",
                "tokens",
                "paper",
                "roster",
            )

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return meeting.status()

    @rpc
    def void_meeting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.VoidMeeting(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.void(command["reason"], command["actor"])
            return meeting.decision("meeting", [event])

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return meeting.status()

    @rpc
    def check_receipt(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Whether a ballot with this tracking code is in the meeting's ballot box (and so,
        from the close on, counted): that one is, never which marks it had."""
        query = load(schemas.CheckReceipt(), payload)
        meeting = self.store.meeting(query["meeting_id"])
        in_box = query["code"] in meeting.receipts
        return {
            "meeting_id": meeting.meeting_id,
            "code": query["code"],
            "in_ballot_box": in_box,
            "counted": in_box and meeting.phase == CLOSED,
        }

    @rpc
    def meeting_ballots(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballots, for counting: only once voting has closed (no partial results).

        Like paper ballots tipped out of the box: each ballot is its marks only, in a
        canonical order, and the ballots are sorted by content, the multiset whose digest
        the close records. No position, id, time, hash, channel, token, slip or receipt.
        Each ballot is re-hashed as stored first: one edited in the database since it was
        cast is refused (`Tampered`), so it is never counted.
        """
        meeting = self.store.meeting(load(schemas.MeetingRef(), payload)["meeting_id"])
        if meeting.phase not in (CLOSED, VOID):
            raise Refused("ballots are sealed until voting closes", {"phase": meeting.phase})
        box = self.store.read_stream(meeting.stream("ballotbox"), refuse_altered=True)
        ballots = [event.data["marks"] for event in box if event.type == "BallotCast"]
        return {
            "meeting_id": meeting.meeting_id,
            "ballots": [{"marks": marks} for marks in canonical_ballots(ballots)],
        }

    @rpc
    def public_feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballot log's public events after a position: outside systems backfill here."""
        return public_feed(self.store.log, payloads, payload)

    @rpc
    def read_log(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballot log after a position, ballots sealed: all of it for qunping's own
        consumers; for a district's reader, the events of its campaigns and meetings and those
        of the whole log, with `last_position` read so that paging goes past the others'."""
        query = load(schemas.ReadLog(), payload)
        events = self.store.log.read_batch(query["after"], query["limit"])
        last_position = events[-1].position if events else query["after"]
        if query.get("district") is not None:
            directory = self.store.directory()  # read after the batch: it knows every id in it
            events = [
                event
                for event in events
                if directory.district_of(event.data) in (None, query["district"])
            ]
        return {"events": [sealed(event) for event in events], "last_position": last_position}

    @rpc
    def list_meetings(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = load(schemas.CampaignRef(), payload)["campaign_id"]
        self.store.campaign(campaign_id)
        scheduled = self.store.directory().meetings.get(campaign_id, [])
        meetings = [self.store.meeting(meeting_id).status() for meeting_id in scheduled]
        return {"campaign_id": campaign_id, "meetings": meetings}
