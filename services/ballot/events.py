"""Every event the ballot log records, with its schema. Public ones are the outside contract.

Streams: `campaign-{id}` (the campaign, its superior assessments), `meeting-{id}` (schedule,
reports, opening, closing), `roster-{id}` (check-ins), `tokens-{id}` (salted token hashes,
paper slips, spent tokens and their receipts), `ballotbox-{id}` (ballots as cast, marks
only), `paper-{id}` (clerks' keyings, slips counted). The roster and the ballot box share
no key: nothing links a representative to a ballot, nor a ballot to a token or receipt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import fields, validate

from qunping.core.roles import recorded_actor_field
from qunping.core.schemas import Pattern, PayloadSchemas, StrictSchema
from qunping.core.tamper import register_tamper_events
from qunping.core.upcasting import Upcasters

payloads = register_tamper_events(PayloadSchemas())
"""Also the alert and the signed checkpoints every log that owns facts carries."""
upcasters = Upcasters()
"""How events recorded in an older schema version are read today (see `BallotCastV1`).

Version 2 of every event a staff command produces records the acting account (`actor`:
username, role, community); version 1 events read as acting account None. A ballot names
no one in any version.
"""

ID = Pattern(r"^[0-9a-f]{16}$")
SHORT_TEXT = validate.Length(min=1, max=100)


def identifier() -> fields.String:
    return fields.String(required=True, validate=ID)


class SubjectSchema(StrictSchema):
    id = fields.String(required=True, validate=Pattern(r"^[a-z_]+-\d{1,2}$"))
    kind = fields.String(required=True)
    name = fields.String(required=True, validate=SHORT_TEXT)


class MarkSchema(StrictSchema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=24))
    dimension = fields.String(required=True, validate=validate.Length(min=1, max=20))
    value = fields.String(required=True, validate=validate.Length(min=0, max=16))


@payloads.register("CampaignCreated", public=True)
class CampaignCreated(StrictSchema):
    campaign_id = identifier()
    district = fields.String(required=True, validate=SHORT_TEXT)
    year = fields.Integer(required=True, strict=True)
    batch = fields.String(required=True, validate=SHORT_TEXT)
    policy = fields.Dict(required=True)
    policy_hash = fields.String(required=True)


@payloads.register("AssessmentRecorded", public=True)
class AssessmentRecordedV1(StrictSchema):
    campaign_id = identifier()
    community = fields.String(required=True, validate=SHORT_TEXT)
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100))
    assessor = fields.String(required=True, validate=SHORT_TEXT)
    basis = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CorrectionSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    corrects_score = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=100)
    )


@payloads.register("AssessmentRecorded", 2, public=True)
class AssessmentRecorded(AssessmentRecordedV1):
    """`correction`: set when the community's results existed already, so this assessment
    corrects the earlier one (which stays in the log), with the reason."""

    correction = fields.Nested(CorrectionSchema, required=True, allow_none=True)
    actor = recorded_actor_field()


@payloads.register("MeetingScheduled", public=True)
class MeetingScheduledV1(StrictSchema):
    meeting_id = identifier()
    campaign_id = identifier()
    community = fields.String(required=True, validate=SHORT_TEXT)
    street = fields.String(required=True, validate=SHORT_TEXT)
    starts_at = fields.String(required=True)
    place = fields.String(required=True, validate=SHORT_TEXT)
    expected_participants = fields.Integer(required=True, strict=True)
    subjects = fields.List(fields.Nested(SubjectSchema), required=True)
    policy = fields.Dict(required=True)
    policy_hash = fields.String(required=True)
    rerun_of = fields.String(required=True, allow_none=True, validate=ID)


@payloads.register("MeetingScheduled", 2, public=True)
class MeetingScheduled(MeetingScheduledV1):
    """`pledge_id`: the pledge letter a 双诺双述双评 evaluation meeting rates, else None."""

    pledge_id = fields.String(required=True, allow_none=True, validate=SHORT_TEXT)
    actor = recorded_actor_field()


@payloads.register("MeetingSeatTaken")
class MeetingSeatTaken(StrictSchema):
    """A meeting scheduled takes its community's (and letter's) seat in the campaign, in
    stream `seat-{hash of campaign, community, letter}`: two schedulings at once, in any
    processes, cannot both take it at the same version."""

    meeting_id = identifier()
    campaign_id = identifier()


@payloads.register("WorkReportRecorded", public=True)
class WorkReportRecordedV1(StrictSchema):
    meeting_id = identifier()
    subject_id = fields.String(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    attachment = fields.String(required=True, allow_none=True, validate=validate.Length(max=500))


@payloads.register("WorkReportRecorded", 2, public=True)
class WorkReportRecorded(WorkReportRecordedV1):
    actor = recorded_actor_field()


@payloads.register("RepresentativeCheckedIn")
class RepresentativeCheckedInV1(StrictSchema):
    meeting_id = identifier()
    name = fields.String(required=True, validate=SHORT_TEXT)
    category = fields.String(required=True)
    identifier = fields.String(required=True, validate=validate.Length(max=40))


@payloads.register("RepresentativeCheckedIn", 2)
class RepresentativeCheckedIn(RepresentativeCheckedInV1):
    actor = recorded_actor_field()


@payloads.register("TokensIssued")
class TokensIssuedV1(StrictSchema):
    meeting_id = identifier()
    salt = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{32}$"))
    token_hashes = fields.List(fields.String(validate=Pattern(r"^[0-9a-f]{64}$")), required=True)


@payloads.register("TokensIssued", 2)
class TokensIssued(TokensIssuedV1):
    actor = recorded_actor_field()


@payloads.register("PaperSlipsIssued", public=True)
class PaperSlipsIssuedV1(StrictSchema):
    meeting_id = identifier()
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


@payloads.register("PaperSlipsIssued", 2, public=True)
class PaperSlipsIssued(PaperSlipsIssuedV1):
    """Slips `first` to `first + count - 1`: only those numbers are counted when keyed."""

    first = fields.Integer(
        required=True, strict=True, allow_none=True, validate=validate.Range(min=1)
    )
    actor = recorded_actor_field()


@payloads.register("VotingOpened", public=True)
class VotingOpenedV1(StrictSchema):
    meeting_id = identifier()
    checked_in = fields.Integer(required=True, strict=True)
    residents = fields.Integer(required=True, strict=True)
    issued = fields.Integer(required=True, strict=True)


@payloads.register("VotingOpened", 2, public=True)
class VotingOpened(VotingOpenedV1):
    """`actor`: the scrutineer who opened voting, attesting the head count."""

    actor = recorded_actor_field()


class SlipSchema(StrictSchema):
    batch = fields.String(required=True, validate=SHORT_TEXT)
    number = fields.Integer(required=True, strict=True)


@payloads.register("BallotCast", 1)
class BallotCastV1(StrictSchema):
    """The first shape: marks as a mapping `subject.dimension` -> value (the shape of the
    2011 fixture log in tests/fixtures/audit).

    A mapping cannot hold two marks on one item, which the policy must see to void it;
    version 2 keeps the marks as a list. Old ballots are read through `upcasters`.
    Development builds of qunping 0.1 recorded the list shape under version 1 before v2
    existed; `ballot_marks_as_a_list` reads those as they are, so local data stays readable."""

    meeting_id = identifier()
    token_hash = fields.String(required=True)
    marks = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


@payloads.register("BallotCast", 2)
class BallotCastV2(StrictSchema):
    """A ballot as cast, with the token it spent or the slip it was keyed from.

    Version 3 keeps those apart (`TokenSpent`, `SlipCounted`); v2 ballots are read as
    recorded, and only their marks (and channel) are ever read for counting."""

    meeting_id = identifier()
    channel = fields.String(required=True, validate=validate.OneOf(["token", "paper"]))
    token_hash = fields.String(required=True, allow_none=True)
    slip = fields.Nested(SlipSchema, required=True, allow_none=True)
    marks = fields.List(fields.Nested(MarkSchema), required=True)


@payloads.register("BallotCast", 3)
class BallotCast(StrictSchema):
    """A ballot as cast: its marks only, in a canonical order. No token, slip or receipt
    (each kept apart, in `TokenSpent` or `SlipCounted`), no voter, no device, the day only
    (the log keeps no instant)."""

    meeting_id = identifier()
    channel = fields.String(required=True, validate=validate.OneOf(["token", "paper"]))
    marks = fields.List(fields.Nested(MarkSchema), required=True)


RECEIPT = Pattern(r"^[0-9a-f]{4}(-[0-9a-f]{4}){3}$", error="must be a tracking code")


@payloads.register("TokenSpent")
class TokenSpent(StrictSchema):
    """A token was used (stream `tokens-{id}`), and the receipt its voter was given.

    Apart from the ballot it cast: neither names the other. `receipt` is derived from a
    random cast id the voter's device chose, so a retry with that id finds it again."""

    meeting_id = identifier()
    token_hash = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{64}$"))
    receipt = fields.String(required=True, validate=RECEIPT)


@payloads.register("SlipCounted")
class SlipCounted(StrictSchema):
    """A paper slip two clerks keyed alike was put in the ballot box (stream `paper-{id}`),
    apart from the ballot it became: only that this number may not be counted again."""

    meeting_id = identifier()
    batch = fields.String(required=True, validate=SHORT_TEXT)
    number = fields.Integer(required=True, strict=True)


@payloads.register("PaperBallotKeyed")
class PaperBallotKeyedV1(StrictSchema):
    """The first shape: the clerk a name the caller typed (no account)."""

    meeting_id = identifier()
    batch = fields.String(required=True, validate=SHORT_TEXT)
    slip = fields.Integer(required=True, strict=True)
    clerk = fields.String(required=True, validate=SHORT_TEXT)
    marks = fields.List(fields.Nested(MarkSchema), required=True)


@payloads.register("PaperBallotKeyed", 2)
class PaperBallotKeyed(StrictSchema):
    """One clerk's keying of one slip; the clerk is the authenticated account."""

    meeting_id = identifier()
    batch = fields.String(required=True, validate=SHORT_TEXT)
    slip = fields.Integer(required=True, strict=True)
    actor = recorded_actor_field()
    marks = fields.List(fields.Nested(MarkSchema), required=True)


@payloads.register("VotingClosed", public=True)
class VotingClosedV1(StrictSchema):
    meeting_id = identifier()
    issued = fields.Integer(required=True, strict=True)
    returned = fields.Integer(required=True, strict=True)
    valid = fields.Integer(required=True, strict=True)
    void = fields.Integer(required=True, strict=True)
    blank = fields.Integer(required=True, strict=True)
    reconciled = fields.Boolean(required=True)


@payloads.register("VotingClosed", 2, public=True)
class VotingClosedV2(VotingClosedV1):
    """`reconciled`: returned <= issued <= checked_in (else a MeetingVoided follows);
    `actor`: the scrutineer who closed voting."""

    checked_in = fields.Integer(required=True, strict=True, allow_none=True)
    actor = recorded_actor_field()


@payloads.register("VotingClosed", 3, public=True)
class VotingClosed(VotingClosedV2):
    """`ballots_digest`: SHA-256 of the canonical JSON of the ballot box as an unordered
    multiset (each ballot its marks sorted, the ballots sorted): the chain commits to the
    ballots counted without ordering them. None for closes recorded before v3."""

    ballots_digest = fields.String(
        required=True, allow_none=True, validate=Pattern(r"^[0-9a-f]{64}$")
    )


@payloads.register("MeetingVoided", public=True)
class MeetingVoidedV1(StrictSchema):
    meeting_id = identifier()
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


@payloads.register("MeetingVoided", 2, public=True)
class MeetingVoided(MeetingVoidedV1):
    """`actor`: the district account that voided it, or the scrutineer whose close found
    the count unreconciled."""

    actor = recorded_actor_field()


@upcasters.register("BallotCast", 1)
def ballot_marks_as_a_list(data: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(data["marks"], list):  # a 0.1 development build's v1: already today's shape
        return dict(data)
    marks = []
    for item, value in data["marks"].items():
        subject, dimension = item.split(".", 1)
        marks.append({"subject": subject, "dimension": dimension, "value": value})
    return {
        "meeting_id": data["meeting_id"],
        "channel": "token",
        "token_hash": data["token_hash"],
        "slip": None,
        "marks": marks,
    }


def _with_actor(**more: Any) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A v1 -> v2 step for an event that gained `actor` (unrecorded before: None)."""

    def step(data: Mapping[str, Any]) -> dict[str, Any]:
        return {**data, **more, "actor": None}

    return step


for _event_type in (
    "WorkReportRecorded",
    "RepresentativeCheckedIn",
    "TokensIssued",
    "VotingOpened",
    "MeetingVoided",
):
    upcasters.register(_event_type, 1)(_with_actor())
upcasters.register("MeetingScheduled", 1)(_with_actor(pledge_id=None))
upcasters.register("AssessmentRecorded", 1)(_with_actor(correction=None))
upcasters.register("VotingClosed", 1)(_with_actor(checked_in=None))


@upcasters.register("VotingClosed", 2)
def no_ballots_digest(data: Mapping[str, Any]) -> dict[str, Any]:
    """Closes before v3 committed to the ballots through the chain only (None)."""
    return {**data, "ballots_digest": None}


@upcasters.register("PaperSlipsIssued", 1)
def slips_numbered_on(data: Mapping[str, Any]) -> dict[str, Any]:
    """v1 did not say where a batch's numbers start: unknown (None)."""
    return {**data, "first": None, "actor": None}


@upcasters.register("PaperBallotKeyed", 1)
def clerk_as_actor(data: Mapping[str, Any]) -> dict[str, Any]:
    """v1's clerk was a typed name: an actor of that name whose role nobody recorded."""
    return {
        "meeting_id": data["meeting_id"],
        "batch": data["batch"],
        "slip": data["slip"],
        "actor": {"username": data["clerk"], "role": None, "community": None},
        "marks": data["marks"],
    }
