"""The rules of an evaluation meeting: pure, no I/O.

`Campaign` and `Meeting` are rebuilt from their events and decide what new events a
command produces, or refuse it with the reason. The service layer loads, asks, appends.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qunping.core.decide import Decision
from qunping.core.envelope import NewEvent, RecordedEvent, to_cloudevent
from qunping.core.errors import InvalidInput, Refused
from qunping.core.eventlog import StreamWrite
from qunping.core.roles import DISTRICT_ADMIN, SCRUTINEER, Actor, named, organiser_of
from services.ballot.judgement import ballots_digest, canonical_ballots, judge
from services.ballot.policy import policy_hash

SCHEDULED, OPEN, CLOSED, VOID = "scheduled", "open", "closed", "void"
TOKEN_BYTES = 16
"""128 bits from the operating system's CSPRNG."""
NOT_VALID = "this ballot token is not valid for this meeting"
"""One message for unknown and used tokens alike, so a refusal leaks neither."""

# The insider rules (README "Who could rig a meeting"): each refusal names its rule.
ONE_BALLOT_EACH = "rule 1, one ballot per person present"
RECONCILIATION = "rule 2, reconciliation"
ONE_LIVE_MEETING = "rule 3, one live meeting"
SCRUTINY = "rule 4, scrutineer"
CORRECTION = "rule 5, assessments after the results"

BALLOT_STREAMS = {"BallotCast": "ballotbox", "TokenSpent": "tokens"}
"""Where `Meeting.ballots_decision` puts each event; keyings and counted slips go to `paper`."""

ACTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "record_report": ("meeting", ()),
    "check_in": ("roster", ("meeting",)),
    "issue_tokens": ("tokens", ("meeting", "roster")),
    "issue_paper_slips": ("tokens", ("meeting", "roster")),
    "open_voting": ("meeting", ("roster", "tokens")),
    "close_voting": ("meeting", ("ballotbox", "tokens", "paper", "roster")),
    "void": ("meeting", ()),
}
"""Per staff act on a meeting: the stream it appends to, and the streams its rule read,
which must not move before the append (a check-in against the schedule, tokens against
the roster, the opening against both, the close against every ballot and token)."""

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


def new_id() -> str:
    return secrets.token_hex(8)


def token_hash(salt: str, token: str) -> str:
    return hashlib.sha256(f"{salt}:{token}".encode()).hexdigest()


def receipt_of(meeting_id: str, token: str, cast_id: str) -> str:
    """A voter's tracking code, derived from their token and the random cast id their
    device chose and sends with every attempt: a retry finds the same code, and whoever
    holds the token alone (the printer of the slips) cannot work it out. It shares nothing
    with the ballot, so it shows whoever sees it only that some ballot is in the box."""
    seed = f"qunping receipt:{meeting_id}:{token}:{cast_id}"
    digits = hashlib.sha256(seed.encode()).hexdigest()[:16]
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def legacy_receipt(event: RecordedEvent) -> str:
    """The tracking code of a ballot cast before `TokenSpent` (v1 and v2): the first 64
    bits of its event's hash. Still answered for those meetings; no longer given out."""
    digits = event.hash[:16]
    return "-".join(digits[i : i + 4] for i in range(0, 16, 4))


def normalized(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass
class Campaign:
    campaign_id: str
    district: str = ""
    year: int = 0
    batch: str = ""
    policy: dict[str, Any] = field(default_factory=dict)
    policy_hash: str = ""
    assessments: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "CampaignCreated":
            self.district, self.year, self.batch = data["district"], data["year"], data["batch"]
            self.policy, self.policy_hash = data["policy"], data["policy_hash"]
        elif event.type == "AssessmentRecorded":
            self.assessments[data["community"]] = data
        self.version = event.version

    def record_assessment(
        self,
        community: str,
        score: int,
        assessor: str,
        basis: str,
        *,
        actor: Actor,
        results_exist: bool,
        reason: str | None,
    ) -> NewEvent:
        """An assessment; once the community's results exist, a new one is a correction:
        it needs a reason and says which score it corrects (the first stays in the log)."""
        first = self.assessments.get(community)
        correction = None
        if first is not None and results_exist:
            if not reason:
                raise Refused(
                    f"{CORRECTION}: {community}'s results are published, so a new assessment "
                    "corrects the first and needs a reason",
                    {"score": first["score"]},
                )
            correction = {"reason": reason, "corrects_score": first["score"]}
        return NewEvent(
            "AssessmentRecorded",
            {
                "campaign_id": self.campaign_id,
                "community": community,
                "score": score,
                "assessor": assessor,
                "basis": basis,
                "correction": correction,
                "actor": dict(actor),
            },
            schema_version=2,
        )


def create_campaign(district: str, year: int, batch: str, policy: dict[str, Any]) -> NewEvent:
    return NewEvent(
        "CampaignCreated",
        {
            "campaign_id": new_id(),
            "district": district,
            "year": year,
            "batch": batch,
            "policy": policy,
            "policy_hash": policy_hash(policy),
        },
    )


def schedule_meeting(
    campaign: Campaign,
    details: Mapping[str, Any],
    subjects: Sequence[Mapping[str, str]],
    rerun_of: Meeting | None,
    *,
    live: Meeting | None,
    actor: Actor,
) -> NewEvent:
    """A meeting of `campaign`, with a copy of its policy, and its subjects given ids.

    `live` is the meeting of the same community (and pledge letter) in this campaign that
    is not void, if there is one: while it exists no other may be scheduled, so a bad
    result cannot be replaced by holding the meeting again; only a voided one is re-run.
    """
    if live is not None:
        raise Refused(
            f"{ONE_LIVE_MEETING}: {details['community']} has meeting {live.meeting_id} in this "
            "campaign; only a meeting the district voided may be held again",
            {"live_meeting": live.meeting_id, "phase": live.phase},
        )
    kinds = campaign.policy["kinds"]
    counted: dict[str, int] = {}
    placed = []
    for subject in subjects:
        kind = subject["kind"]
        if kind not in kinds:
            raise InvalidInput({"subjects": [f"unknown subject kind {kind!r}"]})
        counted[kind] = counted.get(kind, 0) + 1
        name = subject.get("name") or ("" if kinds[kind]["named"] else kinds[kind]["label"])
        if not name:
            raise InvalidInput({"subjects": [f"a {kind} is rated by name: give the name"]})
        placed.append({"id": f"{kind}-{counted[kind]}", "kind": kind, "name": name})
    for kind, rules in kinds.items():
        if not rules["min"] <= counted.get(kind, 0) <= rules["max"]:
            raise InvalidInput(
                {"subjects": [f"{kind}: between {rules['min']} and {rules['max']} needed"]}
            )
    if rerun_of is not None:
        if rerun_of.phase != VOID:
            raise Refused("only a voided meeting can be run again", {"phase": rerun_of.phase})
        if rerun_of.campaign_id != campaign.campaign_id:
            raise InvalidInput({"rerun_of": ["belongs to another campaign"]})
        if (rerun_of.community, rerun_of.pledge_id) != (details["community"], details["pledge_id"]):
            raise InvalidInput({"rerun_of": ["is another community's (or letter's) meeting"]})
    return NewEvent(
        "MeetingScheduled",
        {
            "meeting_id": new_id(),
            "campaign_id": campaign.campaign_id,
            **{key: details[key] for key in ("community", "street", "starts_at", "place")},
            "expected_participants": details["expected_participants"],
            "subjects": placed,
            "policy": campaign.policy,
            "policy_hash": campaign.policy_hash,
            "rerun_of": None if rerun_of is None else rerun_of.meeting_id,
            "pledge_id": details["pledge_id"],
            "actor": dict(actor),
        },
        schema_version=2,
    )


def seat_stream(campaign_id: str, community: str, pledge_id: str | None) -> str:
    """The stream that takes, one after another, the meetings of one community (and pledge
    letter) in a campaign: appending at its version orders schedulings across processes."""
    key = hashlib.sha256(f"{campaign_id}\n{community}\n{pledge_id or ''}".encode()).hexdigest()
    return f"seat-{key[:32]}"


def seat_taken(scheduled: NewEvent) -> NewEvent:
    """The scheduled meeting takes its community's seat in the campaign."""
    return NewEvent(
        "MeetingSeatTaken",
        {key: scheduled.data[key] for key in ("meeting_id", "campaign_id")},
    )


@dataclass(frozen=True)
class Keying:
    """One clerk's keying of a paper slip."""

    clerk: Actor
    marks: list[dict[str, str]]


@dataclass
class Meeting:
    """One meeting, rebuilt from its streams (meeting, roster, tokens, ballot box, paper)."""

    meeting_id: str
    campaign_id: str = ""
    community: str = ""
    pledge_id: str | None = None
    """The pledge letter a 双诺双述双评 evaluation meeting rates (one live meeting each)."""
    phase: str = SCHEDULED
    subjects: list[dict[str, str]] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    roster: set[tuple[str, str]] = field(default_factory=set)
    residents: int = 0
    salts: list[str] = field(default_factory=list)
    issued_tokens: set[str] = field(default_factory=set)
    spent_tokens: dict[str, str | None] = field(default_factory=dict)
    """Each spent token's hash and the receipt its voter was given (None before v3)."""
    receipts: set[str] = field(default_factory=set)
    """The tracking codes of the ballots in the box, in no order and linked to none."""
    paper_slips: int = 0
    ballots: list[list[dict[str, str]]] = field(default_factory=list)
    keyed: dict[int, dict[str, Keying]] = field(default_factory=dict)
    """Per slip number, each clerk's keying by username."""
    accepted_slips: set[int] = field(default_factory=set)
    closing: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    STREAMS = ("meeting", "roster", "tokens", "ballotbox", "paper")

    def stream(self, category: str) -> str:
        return f"{category}-{self.meeting_id}"

    def streams(self) -> list[str]:
        return [self.stream(category) for category in self.STREAMS]

    @property
    def exists(self) -> bool:
        return self.versions.get(self.stream("meeting"), 0) > 0

    @property
    def issued(self) -> int:
        return len(self.issued_tokens) + self.paper_slips

    @property
    def returned(self) -> int:
        return len(self.ballots)

    # -- rebuilding ------------------------------------------------------------------

    def apply_all(self, events: Iterable[RecordedEvent]) -> None:
        for event in events:
            self.apply(event)

    def apply(self, event: RecordedEvent) -> None:
        # A query may bring an event into this cached meeting while the command that
        # appended it has yet to apply it: each stream version counts once, or ballots double.
        if event.version <= self.versions.get(event.stream, 0):
            return
        self._fold(event)
        self.versions[event.stream] = event.version

    def _fold(self, event: RecordedEvent) -> None:
        data = event.data
        match event.type:
            case "MeetingScheduled":
                self.campaign_id, self.community = data["campaign_id"], data["community"]
                self.pledge_id = data.get("pledge_id")
                self.subjects, self.policy = data["subjects"], data["policy"]
            case "WorkReportRecorded":
                self.reports[data["subject_id"]] = data
            case "RepresentativeCheckedIn":
                self.roster.add((normalized(data["name"]), data["identifier"]))
                self.residents += data["category"] == "resident"
            case "TokensIssued":
                self.salts.append(data["salt"])
                self.issued_tokens.update(data["token_hashes"])
            case "PaperSlipsIssued":
                self.paper_slips += data["count"]
            case "VotingOpened":
                self.phase = OPEN
            case "BallotCast":
                self._fold_ballot(event)
            case "TokenSpent":
                self.spent_tokens[data["token_hash"]] = data["receipt"]
                self.receipts.add(data["receipt"])
            case "SlipCounted":
                self.accepted_slips.add(data["number"])
            case "PaperBallotKeyed":
                clerk = data["actor"]
                self.keyed.setdefault(data["slip"], {})[clerk["username"]] = Keying(
                    clerk, data["marks"]
                )
            case "VotingClosed":
                self.phase = CLOSED
                self.closing = data
            case "MeetingVoided":
                self.phase = VOID

    def _fold_ballot(self, event: RecordedEvent) -> None:
        data = event.data
        self.ballots.append(data["marks"])
        if event.schema_version < 3:  # the token or slip was recorded beside the marks
            self.receipts.add(legacy_receipt(event))
            if data["token_hash"]:
                self.spent_tokens[data["token_hash"]] = None
            if data["slip"] is not None:
                self.accepted_slips.add(data["slip"]["number"])

    # -- what a decision appends -----------------------------------------------------

    def act(self, act: str, events: Sequence[NewEvent]) -> Decision[None]:
        """Append what a staff act decided to its stream, as `ACTS` says."""
        category, unmoved = ACTS[act]
        return self.decision(category, events, *unmoved)

    def decision(self, category: str, events: Sequence[NewEvent], *unmoved: str) -> Decision[None]:
        """Append to one of the meeting's streams, as of the versions the decision read:
        the `unmoved` categories too were read, and must not move meanwhile."""
        return self._decision({category: list(events)}, unmoved)

    def ballots_decision(self, events: Sequence[NewEvent]) -> Decision[None]:
        """Append what a cast or a keying decided, each event to its own stream at once:
        ballots to the ballot box, spent tokens to `tokens`, keyings and counted slips to
        `paper` (nothing, for a retried cast). Decided against the tokens or slips issued
        and open voting, so neither may move meanwhile."""
        by_category: dict[str, list[NewEvent]] = {}
        for event in events:
            by_category.setdefault(BALLOT_STREAMS.get(event.type, "paper"), []).append(event)
        unmoved = [category for category in ("tokens", "meeting") if category not in by_category]
        return self._decision(by_category, unmoved)

    def _decision(
        self, by_category: Mapping[str, Sequence[NewEvent]], unmoved: Iterable[str]
    ) -> Decision[None]:
        return Decision(
            [
                StreamWrite(self.stream(category), events, self._version(category))
                for category, events in by_category.items()
            ],
            None,
            {self.stream(category): self._version(category) for category in unmoved},
        )

    def _version(self, category: str) -> int:
        return self.versions.get(self.stream(category), 0)

    # -- deciding --------------------------------------------------------------------

    def record_report(
        self, subject_id: str, text: str, attachment: str | None, actor: Actor
    ) -> NewEvent:
        self._subject(subject_id)
        if self.phase in (CLOSED, VOID):
            raise Refused("the meeting is over", {"phase": self.phase})
        return NewEvent(
            "WorkReportRecorded",
            {
                "meeting_id": self.meeting_id,
                "subject_id": subject_id,
                "text": text,
                "attachment": attachment,
                "actor": dict(actor),
            },
            schema_version=2,
        )

    def check_in(self, name: str, category: str, identifier: str, actor: Actor) -> NewEvent:
        if self.phase != SCHEDULED:
            raise Refused(
                f"{ONE_BALLOT_EACH}: check-in closed when voting opened", {"phase": self.phase}
            )
        if (normalized(name), identifier) in self.roster:
            raise Refused(f"{name} is already checked in")
        return NewEvent(
            "RepresentativeCheckedIn",
            {
                "meeting_id": self.meeting_id,
                "name": name,
                "category": category,
                "identifier": identifier,
                "actor": dict(actor),
            },
            schema_version=2,
        )

    def issue_tokens(self, count: int, actor: Actor) -> tuple[NewEvent, list[str]]:
        """The event (salted hashes only) and the tokens in clear, to print once."""
        self._may_issue(count)
        tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in range(count)]
        salt = secrets.token_hex(16)
        event = NewEvent(
            "TokensIssued",
            {
                "meeting_id": self.meeting_id,
                "salt": salt,
                # Sorted, not in printing order: were slips handed out in the order they
                # were printed, the stored order would point from a ballot to a person.
                "token_hashes": sorted(token_hash(salt, t) for t in tokens),
                # Who handed out a batch, never to whom: the tokens go out at random.
                "actor": dict(actor),
            },
            schema_version=2,
        )
        return event, tokens

    def issue_paper_slips(self, count: int, actor: Actor) -> NewEvent:
        """Slips are numbered on from the last issued: these are `paper_slips + 1 ...`."""
        self._may_issue(count)
        return NewEvent(
            "PaperSlipsIssued",
            {
                "meeting_id": self.meeting_id,
                "count": count,
                "first": self.paper_slips + 1,
                "actor": dict(actor),
            },
            schema_version=2,
        )

    def _may_issue(self, count: int) -> None:
        """Each representative checked in entitles one ballot, issued before voting opens."""
        if self.phase != SCHEDULED:
            raise Refused(
                f"{ONE_BALLOT_EACH}: ballots are issued once, before voting opens (一次发票)",
                {"phase": self.phase},
            )
        present = len(self.roster)
        if self.issued + count > present:
            raise Refused(
                f"{ONE_BALLOT_EACH}: {present} representatives are checked in and "
                f"{self.issued} ballots issued, so at most {present - self.issued} more "
                f"may be issued, not {count}",
                {"checked_in": present, "issued": self.issued, "requested": count},
            )

    def open_voting(self, actor: Actor) -> NewEvent:
        self._scrutineer("open", actor)
        if self.phase != SCHEDULED:
            raise Refused("voting can only open once, before it closes", {"phase": self.phase})
        quorum = self.policy["quorum"]
        present = len(self.roster)
        missing = max(0, quorum["min_present"] - present)
        details: dict[str, Any] = {
            "checked_in": present,
            "required": quorum["min_present"],
            "missing": missing,
        }
        reasons = []
        if missing:
            reasons.append(
                f"{missing} more representatives must check in (quorum {quorum['min_present']})"
            )
        share = quorum["min_resident_percent"]
        if share is not None:
            needed = -(-share * present // 100)
            missing_residents = max(0, needed - self.residents)
            details["missing_residents"] = missing_residents
            if missing_residents:
                reasons.append(
                    f"{missing_residents} more resident representatives needed "
                    f"({share}% of those present)"
                )
        if reasons:
            raise Refused("below quorum: " + "; ".join(reasons), details)
        return NewEvent(
            "VotingOpened",
            {
                "meeting_id": self.meeting_id,
                "checked_in": present,
                "residents": self.residents,
                "issued": self.issued,
                "actor": dict(actor),
            },
            schema_version=2,
        )

    def cast(
        self, token: str, marks: Sequence[Mapping[str, str]], cast_id: str
    ) -> tuple[str, list[NewEvent]]:
        """The receipt, and the ballot with its token's spending (two events, two streams,
        neither naming the other); no events for a retry of a recorded cast.

        A retry is the same token with the same cast id (kept on the voter's device): it
        gets the original receipt whatever marks it carries. A used token with any other
        cast id gets the one refusal an unknown token gets, so holding a used token tells
        nobody whether, or with what, it was cast.
        """
        hashed = next(
            (
                h
                for h in (token_hash(salt, token) for salt in self.salts)
                if h in self.issued_tokens
            ),
            None,
        )
        receipt = receipt_of(self.meeting_id, token, cast_id)
        if hashed is not None and self.spent_tokens.get(hashed) == receipt:
            return receipt, []
        if self.phase != OPEN:
            raise Refused("voting is not open", {"phase": self.phase})
        self._check_items(marks)
        if hashed is None or hashed in self.spent_tokens:
            raise Refused(NOT_VALID)
        spent = NewEvent(
            "TokenSpent",
            {"meeting_id": self.meeting_id, "token_hash": hashed, "receipt": receipt},
            day_precision=True,
        )
        return receipt, [self._ballot("token", marks), spent]

    def key_paper(
        self, batch: str, clerk: Actor, entries: Sequence[Mapping[str, Any]]
    ) -> tuple[list[NewEvent], list[int]]:
        """Record one clerk's keying; a slip two clerks keyed alike is cast.

        The clerk is the authenticated account. A slip is counted only when two different
        accounts keyed it alike, at least one of them not an organiser of this community,
        and only if its number is among the slips issued. Returns the events and the
        slips keyed here whose keyings disagree.
        """
        if self.phase != OPEN:
            raise Refused("paper ballots are keyed while voting is open", {"phase": self.phase})
        events: list[NewEvent] = []
        keyed = {slip: dict(by_clerk) for slip, by_clerk in self.keyed.items()}
        accepted = set(self.accepted_slips)
        for entry in entries:
            number = entry["slip"]
            self._may_key(number, clerk, keyed.get(number, {}), accepted)
            marks = sorted(
                entry["marks"], key=lambda mark: (mark["subject"], mark["dimension"], mark["value"])
            )
            self._check_items(marks)
            events.append(
                NewEvent(
                    "PaperBallotKeyed",
                    {
                        "meeting_id": self.meeting_id,
                        "batch": batch,
                        "slip": number,
                        "actor": dict(clerk),
                        "marks": marks,
                    },
                    schema_version=2,
                )
            )
            keyed.setdefault(number, {})[clerk["username"]] = Keying(clerk, marks)
            agreed = self._agreed(keyed[number])
            if agreed is not None:
                accepted.add(number)
                events.append(self._ballot("paper", agreed))
                events.append(
                    NewEvent(
                        "SlipCounted",
                        {"meeting_id": self.meeting_id, "batch": batch, "number": number},
                        day_precision=True,
                    )
                )
        mismatched = sorted(
            {
                entry["slip"]
                for entry in entries
                if entry["slip"] not in accepted and len(keyed[entry["slip"]]) >= 2
            }
        )
        return events, mismatched

    def _may_key(
        self, number: int, clerk: Actor, keyings: Mapping[str, Keying], accepted: set[int]
    ) -> None:
        if not 1 <= number <= self.paper_slips:
            raise Refused(
                f"{SCRUTINY}: slip {number} was never issued (slips 1 to {self.paper_slips} were)",
                {"slip": number, "issued_slips": self.paper_slips},
            )
        if number in accepted:
            raise Refused(f"slip {number} is already counted", {"slip": number})
        if clerk["username"] in keyings:
            raise Refused(
                f"{SCRUTINY}: {clerk['username']} has keyed slip {number} already; "
                "a second, different account keys it again",
                {"slip": number},
            )
        if (
            keyings
            and organiser_of(clerk, self.community)
            and all(organiser_of(keying.clerk, self.community) for keying in keyings.values())
        ):
            raise Refused(
                f"{SCRUTINY}: slip {number} was keyed by an organiser of {self.community}; "
                "the second keying is by an account that is not",
                {"slip": number},
            )

    def _agreed(self, keyings: Mapping[str, Keying]) -> list[dict[str, str]] | None:
        """The marks two different clerks keyed alike, one of them not an organiser here."""
        found = list(keyings.values())
        for index, first in enumerate(found):
            for second in found[index + 1 :]:
                if first.marks == second.marks and not (
                    organiser_of(first.clerk, self.community)
                    and organiser_of(second.clerk, self.community)
                ):
                    return first.marks
        return None

    def _scrutineer(self, act: str, actor: Actor) -> None:
        """Voting is opened and closed by a scrutineer (监票人) of the district or street:
        at the opening they attest the head count, at the close the count of ballots."""
        if actor["role"] != SCRUTINEER or actor["community"] is not None:
            raise Refused(
                f"{SCRUTINY}: voting is {act}ed by a scrutineer (监票人) of the district or "
                f"street, not by {named(actor)}",
                {"role": actor["role"]},
            )

    def close_voting(self, actor: Actor) -> list[NewEvent]:
        self._scrutineer("clos", actor)
        if self.phase != OPEN:
            raise Refused("only open voting can close", {"phase": self.phase})
        judgements = [judge(self.policy, self.subjects, marks) for marks in self.ballots]
        void = sum(j.void for j in judgements)
        blank = sum(j.blank for j in judgements)
        reason = self.unreconciled()
        closed = NewEvent(
            "VotingClosed",
            {
                "meeting_id": self.meeting_id,
                "checked_in": len(self.roster),
                "issued": self.issued,
                "returned": self.returned,
                "valid": self.returned - void - blank,
                "void": void,
                "blank": blank,
                "reconciled": reason is None,
                "actor": dict(actor),
                "ballots_digest": ballots_digest(self.ballots),
            },
            schema_version=3,
        )
        if reason is None:
            return [closed]
        return [closed, self._voided(f"{RECONCILIATION}: {reason}", actor)]

    def unreconciled(self) -> str | None:
        """Why returned <= issued <= checked in fails, if it does (the meeting is then void)."""
        present = len(self.roster)
        if self.returned > self.issued:
            return (
                f"{self.returned} ballots returned but only {self.issued} issued: "
                "the meeting must be run again"
            )
        if self.issued > present:
            return (
                f"{self.issued} ballots issued but only {present} representatives checked in: "
                "the meeting must be run again"
            )
        return None

    def void(self, reason: str, actor: Actor) -> NewEvent:
        if actor["role"] != DISTRICT_ADMIN:
            raise Refused(
                f"{ONE_LIVE_MEETING}: only a district account voids a meeting, not {named(actor)}",
                {"role": actor["role"]},
            )
        if self.phase == VOID:
            raise Refused("the meeting is void already")
        return self._voided(reason, actor)

    def _voided(self, reason: str, actor: Actor) -> NewEvent:
        return NewEvent(
            "MeetingVoided",
            {"meeting_id": self.meeting_id, "reason": reason, "actor": dict(actor)},
            schema_version=2,
        )

    # -- helpers ---------------------------------------------------------------------

    def _ballot(self, channel: str, marks: Sequence[Mapping[str, str]]) -> NewEvent:
        """A ballot: its marks in a canonical order (not the order a device sent them)."""
        [canonical] = canonical_ballots([marks])
        return NewEvent(
            "BallotCast",
            {"meeting_id": self.meeting_id, "channel": channel, "marks": canonical},
            schema_version=3,
            day_precision=True,
        )

    def _subject(self, subject_id: str) -> dict[str, str]:
        for subject in self.subjects:
            if subject["id"] == subject_id:
                return subject
        raise InvalidInput({"subject_id": [f"no subject {subject_id!r} in this meeting"]})

    def _check_items(self, marks: Sequence[Mapping[str, str]]) -> None:
        """Marks must name this meeting's items; their values are judged, not refused."""
        for index, mark in enumerate(marks):
            subject = next((s for s in self.subjects if s["id"] == mark["subject"]), None)
            if subject is None:
                raise InvalidInput(
                    {"marks": {str(index): {"subject": ["not a subject of this meeting"]}}}
                )
            if mark["dimension"] not in self.policy["kinds"][subject["kind"]]["dimensions"]:
                raise InvalidInput(
                    {"marks": {str(index): {"dimension": ["not rated for this subject"]}}}
                )

    def receipt_status(self, code: str) -> dict[str, Any]:
        """Whether a ballot with this tracking code is in the box (and so, from the close
        on, counted): that one is, never which marks it had."""
        in_box = code in self.receipts
        return {
            "meeting_id": self.meeting_id,
            "code": code,
            "in_ballot_box": in_box,
            "counted": in_box and self.phase == CLOSED,
        }

    def unseal_ballots(self) -> None:
        """The ballots are counted once voting has closed, never before (no partial
        results)."""
        if self.phase not in (CLOSED, VOID):
            raise Refused("ballots are sealed until voting closes", {"phase": self.phase})

    def status(self) -> dict[str, Any]:
        """What anyone may see at any time: turnout, never ratings (no partial results)."""
        quorum = self.policy.get("quorum", {})
        return {
            "meeting_id": self.meeting_id,
            "campaign_id": self.campaign_id,
            "community": self.community,
            "phase": self.phase,
            "checked_in": len(self.roster),
            "residents": self.residents,
            "quorum": quorum.get("min_present"),
            "missing_for_quorum": max(0, quorum.get("min_present", 0) - len(self.roster)),
            "issued": self.issued,
            "returned": self.returned,
            "closing": self.closing or None,
        }
