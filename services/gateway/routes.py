"""The API as a table: one row per endpoint, the one place that says who may call what.

A row names the HTTP method and path, the service and RPC it calls, the request schema
(the service's own marshmallow schema), the roles allowed (none: anyone, e.g. a voter with
a ballot token) and how the community it concerns is found, so an organiser acts only for
their own. Adding a service's endpoints is adding rows here (the service itself is named
in `qunping.core.registry`); `api.py` and `openapi.py` read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema

from qunping.core import registry
from qunping.core.feed import FeedRequest
from services.audit import schemas as audit
from services.ballot import schemas as ballot
from services.gateway import schemas as gateway
from services.gateway.auth import (
    ASSESSOR,
    AUDITOR,
    DISTRICT_ADMIN,
    ORGANISER,
    PLATFORM_ADMIN,
    SCRUTINEER,
)
from services.notify import schemas as notify
from services.pledge import schemas as pledge
from services.tally import schemas as tally

ANYONE: frozenset[str] = frozenset()
ADMIN = frozenset({DISTRICT_ADMIN})
ORGANISERS = frozenset({DISTRICT_ADMIN, ORGANISER})
ASSESSORS = frozenset({DISTRICT_ADMIN, ASSESSOR})
READERS = frozenset({DISTRICT_ADMIN, AUDITOR})
PLEDGE_READERS = frozenset({DISTRICT_ADMIN, ORGANISER, AUDITOR})
SCRUTINY = frozenset({DISTRICT_ADMIN, ORGANISER, SCRUTINEER})
"""Who may ask to open or close voting and key paper; the ballot service's rule then
admits only a scrutineer to open and close, and a pair of accounts to key."""
STAFF = frozenset({DISTRICT_ADMIN, ORGANISER, ASSESSOR, AUDITOR, SCRUTINEER})
PLATFORM = frozenset({PLATFORM_ADMIN})
ACCOUNT_HOLDERS = STAFF | PLATFORM
"""Anyone logged in: their own session, password and name."""
ACCOUNT_READERS = ADMIN | PLATFORM

DISTRICT = "district"
"""Scope: the route concerns no one community (or only district-wide roles may call it)."""
MEETING = "meeting"
"""Scope: the community of the meeting named by `meeting_id`."""
COMMUNITY = "community"
"""Scope: the community named by the `community` field."""
UNIT = "unit"
"""Scope: the community of the resident unit named by `unit_id`."""
PLEDGE = "pledge"
"""Scope: the community of the pledge letter named by `pledge_id`."""

ACTOR = "actor"
"""The field of a staff act's payload naming the account that sent it."""

LOGIN = "login"
CAST = "cast"
"""Rate limits, by name (their sizes are settings)."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    service: str
    rpc: str
    schema: type[Schema]
    roles: frozenset[str]
    summary: str
    scope: str = DISTRICT
    limit: str | None = None
    can_refuse: bool = True
    """Whether the service may answer 409 (a rule forbids it now) or 404 (no such thing)."""
    acts: bool = False
    """A staff act: the gateway sends the login's account as `actor`, which the service
    records with the event (whatever `actor` the client sent is replaced)."""

    @property
    def name(self) -> str:
        return f"{self.service}.{self.rpc}"

    @property
    def is_public(self) -> bool:
        return not self.roles


MEETING_PATH = "/api/meetings/<meeting_id>"
CAMPAIGN_PATH = "/api/campaigns/<campaign_id>"
UNIT_PATH = "/api/units/<unit_id>"
PLEDGE_PATH = "/api/pledges/<pledge_id>"
ACCOUNT_PATH = "/api/accounts/<username>"

# One row per line reads as a table; the formatter would stack every argument.
# fmt: off
ROUTES: tuple[Route, ...] = (
    # -- the gateway's own -----------------------------------------------------------
    Route("POST", "/api/login", "gateway", "login", gateway.LoginInput, ANYONE,
          "Log in: a bearer token that expires", limit=LOGIN, can_refuse=False),
    Route("POST", "/api/logout", "gateway", "logout", gateway.NoInput, ACCOUNT_HOLDERS,
          "End this session", can_refuse=False),
    Route("GET", "/api/me", "gateway", "me", gateway.NoInput, ACCOUNT_HOLDERS,
          "Who this token belongs to", can_refuse=False),
    Route("POST", "/api/districts", "gateway", "create_district", gateway.CreateDistrict,
          PLATFORM, "Create a district (a tenant) and its first admin"),
    Route("GET", "/api/districts", "gateway", "districts", gateway.NoInput, PLATFORM,
          "Every district", can_refuse=False),
    Route("POST", "/api/accounts", "gateway", "create_account", gateway.CreateAccount, ADMIN,
          "Create an account of one's district for an organiser, assessor, auditor or admin"),
    Route("GET", "/api/accounts", "gateway", "accounts", gateway.NoInput, ACCOUNT_READERS,
          "The district's accounts (the platform's admin: every district's), never a "
          "password, whether disabled or locked", can_refuse=False),
    Route("POST", ACCOUNT_PATH + "/disable", "gateway", "disable_account", gateway.AccountRef,
          ADMIN, "Disable an account: its sessions end at once"),
    Route("POST", ACCOUNT_PATH + "/enable", "gateway", "enable_account", gateway.AccountRef,
          ADMIN, "Enable a disabled account again"),
    Route("POST", ACCOUNT_PATH + "/password", "gateway", "reset_password",
          gateway.ResetPassword, ADMIN,
          "Reset an account's password: its sessions end, a lock is lifted"),
    Route("POST", ACCOUNT_PATH + "/unlock", "gateway", "unlock_account", gateway.AccountRef,
          ADMIN, "Lift the lock after repeated failed logins"),
    Route("GET", "/api/account-changes", "gateway", "account_changes", gateway.ChangeQuery,
          ADMIN, "Every change to accounts, with the account that made it", can_refuse=False),
    Route("POST", "/api/me/password", "gateway", "change_password", gateway.ChangePassword,
          ACCOUNT_HOLDERS, "Change one's own password (one's other sessions end)"),
    Route("GET", "/api/sessions", "gateway", "sessions", gateway.SessionQuery,
          ACCOUNT_HOLDERS, "Live sessions: one's own (an admin: every account's of the "
          "district)", can_refuse=False),
    Route("POST", "/api/sessions/<session_id>/revoke", "gateway", "revoke_session",
          gateway.SessionRef, ACCOUNT_HOLDERS,
          "End a session: one's own (an admin: any of the district's)"),
    # -- ballot: campaigns -----------------------------------------------------------
    Route("POST", "/api/campaigns", "ballot", "create_campaign", ballot.CreateCampaign, ADMIN,
          "Create a campaign with its scoring policy"),
    Route("GET", "/api/campaigns", "ballot", "list_campaigns", gateway.NoInput, STAFF,
          "The district's campaigns", can_refuse=False),
    Route("GET", CAMPAIGN_PATH, "ballot", "get_campaign", ballot.CampaignRef, STAFF,
          "A campaign, its policy and superior assessments"),
    Route("GET", CAMPAIGN_PATH + "/meetings", "ballot", "list_meetings", ballot.CampaignRef,
          STAFF, "The meetings of a campaign (turnout only)"),
    Route("POST", CAMPAIGN_PATH + "/assessments", "ballot", "record_assessment",
          ballot.RecordAssessment, ASSESSORS,
          "Record a community's superior assessment (after its results: a correction with "
          "a reason)", acts=True),
    # -- ballot: meetings ------------------------------------------------------------
    Route("POST", "/api/meetings", "ballot", "schedule_meeting", ballot.ScheduleMeeting,
          ORGANISERS, "Schedule a meeting with its subjects (one live meeting per community)",
          scope=COMMUNITY, acts=True),
    Route("GET", MEETING_PATH, "ballot", "meeting_detail", ballot.MeetingRef, ANYONE,
          "A meeting's subjects, policy and reports; never ratings"),
    Route("GET", MEETING_PATH + "/status", "ballot", "meeting_status", ballot.MeetingRef,
          ANYONE, "A meeting's phase and turnout"),
    Route("POST", MEETING_PATH + "/reports", "ballot", "record_report", ballot.RecordReport,
          ORGANISERS, "Record a subject's work report (述职)", scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/check-ins", "ballot", "check_in", ballot.CheckIn,
          ORGANISERS, "Check in a representative (签到)", scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/tokens", "ballot", "issue_tokens", ballot.IssueTokens,
          ORGANISERS, "Issue ballot tokens, one per representative checked in, returned "
          "in clear once", scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/paper-slips", "ballot", "issue_paper_slips",
          ballot.IssueTokens, ORGANISERS,
          "Issue numbered paper ballots, one per representative checked in", scope=MEETING,
          acts=True),
    Route("POST", MEETING_PATH + "/open", "ballot", "open_voting", ballot.MeetingAct,
          SCRUTINY, "Open voting: a scrutineer, attesting the head count (needs quorum)",
          scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/paper-batches", "ballot", "key_paper_batch",
          ballot.KeyPaperBatch, SCRUTINY,
          "This account's keying of a batch of paper ballots (two accounts key each)",
          scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/close", "ballot", "close_voting", ballot.MeetingAct,
          SCRUTINY, "Close voting: a scrutineer; results follow", scope=MEETING, acts=True),
    Route("POST", MEETING_PATH + "/void", "ballot", "void_meeting", ballot.VoidMeeting, ADMIN,
          "Void a meeting with the reason; only then may it be re-run", acts=True),
    Route("POST", MEETING_PATH + "/ballots", "ballot", "cast_ballot", ballot.CastBallot,
          ANYONE, "Cast a ballot with a token and the device's cast id: answers a tracking "
          "code (a retry with the same cast id, the same code)", limit=CAST),
    Route("POST", MEETING_PATH + "/receipts", "ballot", "check_receipt",
          ballot.CheckReceipt, ANYONE,
          "Whether a tracking code (in the body, never the URL) is in the ballot box"),
    Route("GET", MEETING_PATH + "/ballots", "ballot", "meeting_ballots", ballot.MeetingRef,
          READERS, "The ballots' marks, sorted by content, once voting has closed"),
    Route("GET", "/api/ballot/log", "ballot", "read_log", ballot.ReadLog, READERS,
          "The ballot log after a position, ballots sealed", can_refuse=False),
    # -- tally -----------------------------------------------------------------------
    Route("GET", MEETING_PATH + "/board", "tally", "board", tally.MeetingRef, ANYONE,
          "The board: check-ins against quorum, issued, returned"),
    Route("GET", MEETING_PATH + "/results", "tally", "results", tally.MeetingRef, ANYONE,
          "A meeting's results, from its close on"),
    Route("GET", CAMPAIGN_PATH + "/grades", "tally", "grades", tally.CampaignRef, STAFF,
          "The 双评 grades of a campaign"),
    Route("GET", CAMPAIGN_PATH + "/summary", "tally", "summary", tally.CampaignRef, STAFF,
          "A campaign's district summary"),
    # -- notify ----------------------------------------------------------------------
    Route("POST", "/api/webhooks", "notify", "subscribe_webhook", notify.SubscribeWebhook,
          ADMIN, "Subscribe a webhook to public events", can_refuse=False),
    Route("GET", "/api/webhooks", "notify", "webhook_subscriptions", notify.SubscriptionQuery,
          READERS, "The district's live webhook subscriptions", can_refuse=False),
    Route("POST", "/api/webhooks/<subscription_id>/unsubscribe", "notify",
          "unsubscribe_webhook", notify.SubscriptionRef, ADMIN, "End a webhook subscription"),
    Route("GET", "/api/webhook-deliveries", "notify", "webhook_deliveries",
          notify.DeliveryQuery, READERS, "Webhook deliveries", can_refuse=False),
    Route("GET", "/api/webhook-attempts", "notify", "webhook_attempts", notify.AttemptQuery,
          READERS, "Every webhook delivery attempt", can_refuse=False),
    Route("POST", "/api/webhook-deliveries/<delivery_id>/redeliver", "notify", "redeliver",
          notify.DeliveryRef, ADMIN, "Put a dead letter back in its queue"),
    Route("POST", "/api/community-contacts", "notify", "set_community_contacts",
          notify.SetCommunityContacts, ORGANISERS, "Who receives a community's e-mails",
          scope=COMMUNITY, can_refuse=False),
    Route("POST", "/api/district-contacts", "notify", "set_district_contacts",
          notify.SetDistrictContacts, ADMIN, "Who receives the district's alert e-mails",
          can_refuse=False),
    Route("GET", "/api/emails", "notify", "emails", notify.EmailQuery, READERS,
          "E-mails sent or pending", can_refuse=False),
    Route("POST", "/api/announcements", "notify", "publish_announcement",
          notify.PublishAnnouncement, ORGANISERS,
          "Publish a meeting or notice on the board (results come from the tally only)",
          scope=COMMUNITY, acts=True),
    Route("POST", "/api/announcements/<announcement_id>/withdraw", "notify",
          "withdraw_announcement", notify.WithdrawAnnouncement, ADMIN,
          "Withdraw an announcement", acts=True),
    Route("GET", "/api/announcements", "notify", "announcements", notify.BoardQuery, ANYONE,
          "The announcement board, newest first", can_refuse=False),
    # -- pledge: 双诺双述双评 -------------------------------------------------------------
    Route("POST", "/api/units", "pledge", "register_unit", pledge.RegisterUnit, ORGANISERS,
          "Register a resident unit (驻区单位) of a community", scope=COMMUNITY),
    Route("GET", "/api/units", "pledge", "list_units", pledge.ListUnits, PLEDGE_READERS,
          "Resident units (an organiser names their community)", scope=COMMUNITY,
          can_refuse=False),
    Route("GET", UNIT_PATH, "pledge", "get_unit", pledge.UnitRef, PLEDGE_READERS,
          "A resident unit", scope=UNIT),
    Route("POST", "/api/pledges", "pledge", "draft_pledge", pledge.DraftPledge, ORGANISERS,
          "Draft a pledge letter (承诺书) with its items", scope=UNIT),
    Route("GET", "/api/pledges", "pledge", "list_pledges", pledge.ListPledges, PLEDGE_READERS,
          "Pledge letters (an organiser names their community)", scope=COMMUNITY),
    Route("GET", "/api/overdue-items", "pledge", "overdue_items", pledge.ListOverdue,
          PLEDGE_READERS, "Items overdue without a report", scope=COMMUNITY, can_refuse=False),
    Route("GET", PLEDGE_PATH, "pledge", "pledge_detail", pledge.PledgeRef, PLEDGE_READERS,
          "A letter: versions, signatures, reports, evaluation", scope=PLEDGE),
    Route("POST", PLEDGE_PATH + "/amendments", "pledge", "amend_pledge", pledge.AmendPledge,
          ORGANISERS, "Amend a letter: a new version, signed again", scope=PLEDGE),
    Route("POST", PLEDGE_PATH + "/signatures", "pledge", "sign_pledge", pledge.SignPledge,
          ORGANISERS, "One side signs the latest version", scope=PLEDGE),
    Route("POST", PLEDGE_PATH + "/reports", "pledge", "report_item", pledge.ReportItem,
          ORGANISERS, "A side reports on its item (述诺)", scope=PLEDGE),
    Route("POST", PLEDGE_PATH + "/corrections", "pledge", "correct_report", pledge.ReportItem,
          ORGANISERS, "Replace a report; the first stays in the log", scope=PLEDGE),
    Route("POST", PLEDGE_PATH + "/evaluation", "pledge", "start_evaluation",
          pledge.StartEvaluation, ORGANISERS, "Start the evaluation (评诺): a ballot meeting",
          scope=PLEDGE, acts=True),
    Route("POST", PLEDGE_PATH + "/evaluation/rerun", "pledge", "rerun_evaluation",
          pledge.RerunEvaluation, ORGANISERS, "Re-run an evaluation whose meeting was voided",
          scope=PLEDGE, acts=True),
    Route("GET", "/api/pledge-export", "pledge", "export", pledge.Export, READERS,
          "The year-end assessment file (年终考核), CSV or XLSX in base64"),
    # -- audit (read-only) -------------------------------------------------------------
    Route("GET", "/api/keys", "audit", "keys", audit.NoArguments, ANYONE,
          "The public Ed25519 keys each log's checkpoints are signed with", can_refuse=False),
    Route("POST", "/api/audit/verify", "audit", "verify", audit.NoArguments, READERS,
          "Verify every log's chain against outside anchors"),
    Route("POST", "/api/audit/replay", "audit", "replay", audit.Replay, READERS,
          "Replay the ballot log into a scratch database and compare"),
    Route("GET", "/api/audit/bundle", "audit", "export_bundle", audit.ExportBundle, READERS,
          "A meeting's or campaign's bundle and its standalone verifier"),
    Route("GET", "/api/audit/notice", "audit", "notice", audit.MeetingRef, READERS,
          "The printable 公示 notice as HTML"),
    *(
        Route("GET", f"/api/{service}/feed", service, "public_feed", FeedRequest, READERS,
              f"The {service} log's public events after a position", can_refuse=False)
        for service in registry.logs()
    ),
)
# fmt: on
