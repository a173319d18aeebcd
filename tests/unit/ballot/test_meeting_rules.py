"""A meeting's rules, run through the service layer on an in-memory log (no servers)."""

from collections.abc import Callable
from typing import Any

import pytest

from qunping.core.decide import Decision
from qunping.core.errors import InvalidInput, Refused
from qunping.core.eventlog import EventLog
from qunping.core.memory_eventlog import InMemoryEventLog
from services.ballot import domain
from services.ballot.domain import NOT_VALID, Meeting
from services.ballot.events import payloads
from services.ballot.judgement import ballots_digest
from services.ballot.policy import merged_with_defaults
from services.ballot.store import BallotStore
from tests.actors import (
    ADMIN_ACTOR,
    ORGANISER_ACTOR,
    SCRUTINEER_ACTOR,
)

SUBJECTS = [{"kind": "committee", "name": ""}, {"kind": "secretary", "name": "王书记"}]
DETAILS = {
    "pledge_id": None,
    "community": "光明社区",
    "street": "古南街道",
    "starts_at": "2011-10-12T09:00:00",
    "place": "社区会议室",
    "expected_participants": 60,
}


class Scene:
    """A campaign and one scheduled meeting on an in-memory ballot log."""

    def __init__(self, log: EventLog | None = None, **policy: Any) -> None:
        self.log = log or InMemoryEventLog("ballot", payload_schemas=payloads)
        self.store = BallotStore(self.log)
        created = domain.create_campaign("吉州区", 2011, "第一批", merged_with_defaults(policy))
        self.log.append(f"campaign-{created.data['campaign_id']}", [created], 0)
        campaign = self.store.campaign(created.data["campaign_id"])
        scheduled = domain.schedule_meeting(
            campaign, DETAILS, SUBJECTS, None, live=None, actor=ORGANISER_ACTOR
        )
        self.meeting_id = scheduled.data["meeting_id"]
        self.log.append(f"meeting-{self.meeting_id}", [scheduled], 0)

    def do(self, category: str, decision: Callable[[Meeting], Any], *also: str) -> Any:
        def run(meeting: Meeting) -> Decision[Any]:
            produced = decision(meeting)
            events = produced if isinstance(produced, list) else [produced]
            return meeting.decision(category, events, *also).answering(produced)

        _, produced = self.store.decide(self.meeting_id, run)
        return produced

    def meeting(self) -> Meeting:
        return self.store.meeting(self.meeting_id)

    def check_in(self, count: int, category: str = "resident") -> None:
        for n in range(count):
            self.do(
                "roster",
                lambda m, n=n: m.check_in(f"{category}{n}", category, "", ORGANISER_ACTOR),
            )

    def tokens(self, count: int) -> list[str]:
        event, tokens = self.meeting().issue_tokens(count, ORGANISER_ACTOR)
        self.do("tokens", lambda m: event, "roster")
        return tokens

    def voting(self, *values: str) -> None:
        """Quorum checked in, voting opened, one ballot cast per value (on the committee)."""
        self.check_in(50)
        tokens = self.tokens(len(values))
        self.open()
        for token, value in zip(tokens, values, strict=True):
            self.cast(token, committee(value))

    def cast(self, token: str, marks: list[dict[str, str]], cast_id: str = "c" * 32) -> str:
        """A cast as the service records it (ballot and spent token apart): the receipt."""

        def run(meeting: Meeting) -> Decision[str]:
            receipt, events = meeting.cast(token, marks, cast_id)
            return meeting.ballots_decision(events).answering(receipt)

        _, receipt = self.store.decide(self.meeting_id, run)
        return receipt

    def slips(self, count: int) -> None:
        self.do("tokens", lambda m: m.issue_paper_slips(count, ORGANISER_ACTOR), "roster")

    def open(self, actor: Any = SCRUTINEER_ACTOR) -> None:
        self.do("meeting", lambda m: m.open_voting(actor), "roster", "tokens")

    def close(self, actor: Any = SCRUTINEER_ACTOR) -> None:
        self.do("meeting", lambda m: m.close_voting(actor), "ballotbox", "tokens", "paper")

    def key(self, clerk: Any, entries: list[dict[str, Any]]) -> list[int]:
        """One clerk's keying of batch b1, appended; the slips whose keyings differ."""

        def run(meeting: Meeting) -> Decision[list[int]]:
            events, mismatched = meeting.key_paper("b1", clerk, entries)
            return meeting.ballots_decision(events).answering(mismatched)

        _, mismatched = self.store.decide(self.meeting_id, run)
        return mismatched

    def events(self) -> int:
        return self.log.head().position


def committee(value: str, dimension: str = "社区服务") -> list[dict[str, str]]:
    return [{"subject": "committee-1", "dimension": dimension, "value": value}]


def test_a_meeting_below_quorum_cannot_open_and_says_how_many_are_missing() -> None:
    scene = Scene()
    scene.check_in(47)
    before = scene.events()

    with pytest.raises(Refused) as refused:
        scene.open()

    assert refused.value.details["missing"] == 3
    assert "3 more representatives" in refused.value.reason
    assert scene.events() == before


def test_a_minimum_share_of_residents_is_part_of_the_quorum() -> None:
    scene = Scene(quorum={"min_present": 50, "min_resident_percent": 70})
    scene.check_in(30)
    scene.check_in(20, "party_member")

    with pytest.raises(Refused) as refused:
        scene.open()

    assert refused.value.details["missing_residents"] == 5


def test_the_same_person_cannot_check_in_twice() -> None:
    scene = Scene()
    scene.do("roster", lambda m: m.check_in("张 三", "resident", "", ORGANISER_ACTOR))

    with pytest.raises(Refused):
        scene.do("roster", lambda m: m.check_in("张三", "resident", "", ORGANISER_ACTOR))
    assert len(scene.meeting().roster) == 1


def test_tokens_are_stored_only_as_salted_hashes_of_128_bit_secrets() -> None:
    scene = Scene()
    scene.check_in(5)

    tokens = scene.tokens(5)

    [issued] = [e for e in scene.log.read_all() if e.type == "TokensIssued"]
    assert len(set(tokens)) == 5 and all(len(t) >= 22 for t in tokens)
    assert not any(token in str(issued.data) for token in tokens)
    assert issued.data["token_hashes"] == sorted(
        domain.token_hash(issued.data["salt"], token) for token in tokens
    )


def test_a_ballot_is_refused_while_voting_is_not_open() -> None:
    scene = Scene()
    scene.check_in(1)
    [token] = scene.tokens(1)

    with pytest.raises(Refused) as refused:
        scene.cast(token, committee("满意"))
    assert "not open" in refused.value.reason


def test_unknown_and_used_tokens_get_one_and_the_same_refusal() -> None:
    scene = Scene()
    scene.check_in(50)
    [token] = scene.tokens(1)
    scene.open()
    scene.cast(token, committee("满意"))
    before = scene.events()

    with pytest.raises(Refused) as used:
        scene.cast(token, committee("不满意"), cast_id="d" * 32)
    with pytest.raises(Refused) as unknown:
        scene.cast("x" * 22, committee("满意"))

    assert used.value.reason == unknown.value.reason == NOT_VALID
    assert scene.events() == before


def test_a_mark_for_something_not_rated_here_is_bad_input() -> None:
    scene = Scene()
    scene.check_in(50)
    [token] = scene.tokens(1)
    scene.open()

    with pytest.raises(InvalidInput):
        scene.cast(token, [{"subject": "graduate-9", "dimension": "德", "value": "优秀"}])
    with pytest.raises(InvalidInput):
        scene.cast(token, committee("满意", dimension="德"))
    assert scene.meeting().returned == 0


def test_a_ballot_carries_its_marks_only_and_only_the_day() -> None:
    """No token hash, slip or receipt beside the marks: the token's spending is an event of
    its own, in the tokens stream, which names no ballot."""
    scene = Scene()
    scene.check_in(50)
    [token] = scene.tokens(1)
    scene.open()
    marks = [*committee("满意", dimension="治安"), *committee("不满意")]

    receipt = scene.cast(token, marks)

    [recorded] = scene.log.read_stream(f"ballotbox-{scene.meeting_id}")
    assert recorded.type == "BallotCast" and recorded.schema_version == 3
    assert set(recorded.data) == {"meeting_id", "channel", "marks"}
    assert recorded.data["marks"] == sorted(marks, key=lambda m: (m["dimension"], m["value"]))
    spent = scene.log.read_stream(f"tokens-{scene.meeting_id}")[-1]
    assert spent.type == "TokenSpent"
    assert set(spent.data) == {"meeting_id", "token_hash", "receipt"}
    assert spent.data["receipt"] == receipt
    for event in (recorded, spent):
        moment = event.recorded_at
        assert (moment.hour, moment.minute, moment.second) == (0, 0, 0)


def test_a_retry_with_the_cast_id_gets_the_original_receipt_and_nothing_is_cast_again() -> None:
    scene = Scene()
    scene.check_in(50)
    tokens = scene.tokens(2)
    scene.open()
    receipt = scene.cast(tokens[0], committee("满意"), cast_id="a" * 32)
    before = scene.events()

    again = scene.cast(tokens[0], committee("满意"), cast_id="a" * 32)
    other_marks = scene.cast(tokens[0], committee("不满意"), cast_id="a" * 32)

    assert again == other_marks == receipt, "the answer does not depend on the marks"
    assert scene.events() == before
    assert scene.meeting().receipts == {receipt}
    second = scene.cast(tokens[1], committee("满意"), cast_id="a" * 32)
    assert second != receipt, "one device's cast id gives each token its own receipt"
    assert scene.meeting().returned == 2


def test_the_close_commits_to_the_ballots_as_an_unordered_multiset() -> None:
    values = ("满意", "不满意", "满意", "基本满意")
    scene, reordered = Scene(), Scene()
    scene.voting(*values)
    reordered.voting(*reversed(values))

    scene.close()
    reordered.close()

    digest = scene.meeting().closing["ballots_digest"]
    assert digest == reordered.meeting().closing["ballots_digest"]
    assert digest == ballots_digest([committee(value) for value in values])
    assert digest != ballots_digest([committee(value) for value in values[1:]])


def test_closing_reconciles_and_counts_valid_void_and_blank() -> None:
    scene = Scene(invalid_mark_voids="ballot")
    scene.check_in(50)
    tokens = scene.tokens(4)
    scene.open()
    for token, marks in zip(
        tokens, [committee("满意"), committee("?"), [], committee("不满意")], strict=True
    ):
        scene.cast(token, marks)

    scene.close()

    closing = scene.meeting().closing
    assert (
        closing["issued"],
        closing["returned"],
        closing["valid"],
        closing["void"],
        closing["blank"],
    ) == (4, 4, 2, 1, 1)
    assert closing["reconciled"] and scene.meeting().phase == "closed"


def test_two_clerks_keying_alike_count_a_paper_ballot_and_differences_are_listed() -> None:
    scene = Scene()
    scene.check_in(50)
    scene.slips(3)
    scene.open()
    first = [{"slip": 1, "marks": committee("满意")}, {"slip": 2, "marks": committee("满意")}]
    second = [{"slip": 1, "marks": committee("满意")}, {"slip": 2, "marks": committee("不满意")}]
    scene.key(ORGANISER_ACTOR, first)

    events_b, mismatched = scene.meeting().key_paper("b1", SCRUTINEER_ACTOR, second)

    assert [e.type for e in events_b].count("BallotCast") == 1
    assert mismatched == [2]


def test_only_a_voided_meeting_can_be_run_again() -> None:
    scene = Scene()
    campaign = scene.store.campaign(scene.meeting().campaign_id)

    with pytest.raises(Refused):
        domain.schedule_meeting(
            campaign, DETAILS, SUBJECTS, scene.meeting(), live=None, actor=ORGANISER_ACTOR
        )
    scene.do("meeting", lambda m: m.void("会场秩序混乱", ADMIN_ACTOR))
    rerun = domain.schedule_meeting(
        campaign, DETAILS, SUBJECTS, scene.meeting(), live=None, actor=ORGANISER_ACTOR
    )
    assert rerun.data["rerun_of"] == scene.meeting_id


def test_a_meeting_copies_the_campaign_policy_with_its_hash() -> None:
    scene = Scene(quorum={"min_present": 60, "min_resident_percent": None})

    meeting = scene.meeting()

    assert meeting.policy["quorum"]["min_present"] == 60
    [scheduled] = scene.log.read_stream(f"meeting-{scene.meeting_id}")
    assert scheduled.data["policy_hash"] == scene.store.campaign(meeting.campaign_id).policy_hash


def test_an_event_applied_twice_to_a_cached_meeting_counts_once() -> None:
    scene = Scene()
    scene.check_in(50)
    [token] = scene.tokens(1)
    scene.open()
    scene.cast(token, committee("满意"))
    meeting = scene.meeting()

    meeting.apply_all(scene.log.read_stream(f"ballotbox-{scene.meeting_id}"))
    meeting.apply_all(scene.log.read_stream(f"roster-{scene.meeting_id}"))

    assert (meeting.returned, len(meeting.roster), meeting.residents) == (1, 50, 50)


def test_a_cast_decided_while_another_process_closes_voting_is_decided_again_and_refused() -> None:
    scene = Scene()
    scene.check_in(50)
    [token] = scene.tokens(1)
    scene.open()
    other_process = BallotStore(scene.log)

    def cast_as_voting_closes(meeting: Meeting) -> Decision[str]:
        if meeting.phase == "open" and not scene.meeting().closing:
            scene.close()  # after this cast read the meeting open, before its append
        receipt, events = meeting.cast(token, committee("满意"), "c" * 32)
        return meeting.ballots_decision(events).answering(receipt)

    with pytest.raises(Refused, match="voting is not open"):
        other_process.decide(scene.meeting_id, cast_as_voting_closes)

    assert scene.log.read_stream(f"ballotbox-{scene.meeting_id}") == []
    assert other_process.meeting(scene.meeting_id, from_log=True).returned == 0
