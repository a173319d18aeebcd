"""The ballot service's nameko entrypoints: validate, load, decide, append, return.

Every command is validated by its schema in `schemas.py` (unknown fields refused, per-field
messages, nothing written); every rule lives in `domain.py`.
"""

from __future__ import annotations

import secrets
from typing import Any

from nameko.rpc import rpc

from qunping.core.decide import Decision
from qunping.core.dependencies import SignsCheckpoints
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import StrictSchema, load
from services.ballot import domain, queries, schemas
from services.ballot.dependencies import BallotStoreDependency
from services.ballot.domain import CLOSED, Meeting, sealed
from services.ballot.events import payloads
from services.ballot.policy import merged_with_defaults
from services.ballot.store import BallotStore


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
        load(StrictSchema(), payload)
        return queries.campaigns(self.store)

    @rpc
    def get_campaign(self, payload: dict[str, Any]) -> dict[str, Any]:
        return queries.campaign(self.store, load(schemas.CampaignRef(), payload)["campaign_id"])

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
        return queries.meeting_detail(self.store, load(schemas.MeetingRef(), payload)["meeting_id"])

    @rpc
    def record_report(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.RecordReport(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.record_report(
                command["subject_id"], command["text"], command["attachment"], command["actor"]
            )
            return meeting.act("record_report", [event])

        self.store.decide(command["meeting_id"], decide)
        return {"subject_id": command["subject_id"]}

    @rpc
    def check_in(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.CheckIn(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.check_in(
                command["name"], command["category"], command["identifier"], command["actor"]
            )
            return meeting.act("check_in", [event])

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return {"checked_in": len(meeting.roster)}

    @rpc
    def issue_tokens(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Tokens in clear, returned once for printing; the log keeps salted hashes only."""
        command = load(schemas.IssueTokens(), payload)

        def decide(meeting: Meeting) -> Decision[list[str]]:
            event, tokens = meeting.issue_tokens(command["count"], command["actor"])
            return meeting.act("issue_tokens", [event]).answering(tokens)

        meeting, tokens = self.store.decide(command["meeting_id"], decide)
        return {"tokens": tokens, "issued": meeting.issued}

    @rpc
    def issue_paper_slips(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.IssueTokens(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.issue_paper_slips(command["count"], command["actor"])
            return meeting.act("issue_paper_slips", [event])

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return {"issued": meeting.issued}

    @rpc
    def open_voting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.MeetingAct(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.open_voting(command["actor"])
            return meeting.act("open_voting", [event])

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
            return meeting.act("close_voting", meeting.close_voting(command["actor"]))

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return meeting.status()

    @rpc
    def void_meeting(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.VoidMeeting(), payload)

        def decide(meeting: Meeting) -> Decision[None]:
            event = meeting.void(command["reason"], command["actor"])
            return meeting.act("void", [event])

        meeting, _ = self.store.decide(command["meeting_id"], decide)
        return meeting.status()

    @rpc
    def check_receipt(self, payload: dict[str, Any]) -> dict[str, Any]:
        query = load(schemas.CheckReceipt(), payload)
        return self.store.meeting(query["meeting_id"]).receipt_status(query["code"])

    @rpc
    def meeting_ballots(self, payload: dict[str, Any]) -> dict[str, Any]:
        return queries.ballots(self.store, load(schemas.MeetingRef(), payload)["meeting_id"])

    @rpc
    def public_feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballot log's public events after a position: outside systems backfill here."""
        return public_feed(self.store.log, payloads, payload)

    @rpc
    def read_log(self, payload: dict[str, Any]) -> dict[str, Any]:
        query = load(schemas.ReadLog(), payload)
        return queries.log_page(self.store, query["after"], query["limit"], query.get("district"))

    @rpc
    def list_meetings(self, payload: dict[str, Any]) -> dict[str, Any]:
        return queries.meetings(self.store, load(schemas.CampaignRef(), payload)["campaign_id"])
