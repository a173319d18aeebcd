"""The rules that keep the community's own staff from rigging its meeting, one by one.

Each refusal names its rule and writes nothing; the README's "Who could rig a meeting"
section points here.
"""

from typing import Any

import pytest

from qunping.core.envelope import NewEvent
from qunping.core.errors import InvalidInput, Refused
from qunping.core.memory_eventlog import InMemoryEventLog
from services.ballot import domain
from services.ballot.domain import Campaign
from services.ballot.events import payloads
from services.ballot.policy import merged_with_defaults
from services.ballot.store import BallotStore
from tests.actors import (
    ADMIN_ACTOR,
    ASSESSOR_ACTOR,
    ORGANISER_ACTOR,
    OTHER_ORGANISER,
    SCRUTINEER_ACTOR,
)
from tests.unit.ballot.test_meeting_rules import DETAILS, SUBJECTS, Scene, committee


def refused(scene: Scene, action: Any) -> Refused:
    """The refusal `action` meets; nothing was written."""
    before = scene.events()
    with pytest.raises(Refused) as refusal:
        action()
    assert scene.events() == before
    return refusal.value


# -- rule 1: one ballot per person present ---------------------------------------------


def test_ballots_beyond_the_representatives_checked_in_are_refused() -> None:
    scene = Scene()
    scene.check_in(50)
    scene.tokens(50)

    refusal = refused(scene, lambda: scene.tokens(200))

    assert refusal.reason.startswith(domain.ONE_BALLOT_EACH)
    assert refusal.details == {"checked_in": 50, "issued": 50, "requested": 200}
    assert scene.meeting().issued == 50


def test_no_ballot_is_issued_before_anyone_checked_in() -> None:
    scene = Scene()

    refusal = refused(scene, lambda: scene.tokens(1))

    assert "0 representatives are checked in" in refusal.reason


def test_tokens_and_paper_slips_count_against_the_same_people() -> None:
    scene = Scene()
    scene.check_in(50)
    scene.tokens(40)

    refusal = refused(scene, lambda: scene.slips(11))

    assert "at most 10 more" in refusal.reason
    scene.slips(10)
    assert scene.meeting().issued == 50


def test_check_in_and_issuance_end_when_voting_opens() -> None:
    scene = Scene()
    scene.check_in(51)
    scene.tokens(50)
    scene.open()

    late_ballot = refused(scene, lambda: scene.tokens(1))
    late_person = refused(scene, lambda: scene.check_in(1, "party_member"))

    assert "一次发票" in late_ballot.reason
    assert late_person.reason.startswith(domain.ONE_BALLOT_EACH)


# -- rule 2: reconciliation ------------------------------------------------------------


def test_a_close_with_more_ballots_issued_than_people_checked_in_voids_the_meeting() -> None:
    """Only a log written before rule 1 can hold such a count; the close still catches it."""
    scene = Scene()
    scene.check_in(50)
    issued = NewEvent(
        "TokensIssued",
        {
            "meeting_id": scene.meeting_id,
            "salt": "0" * 32,
            "token_hashes": [f"{n:064x}" for n in range(60)],
            "actor": ORGANISER_ACTOR,
        },
        schema_version=2,
    )
    scene.do("tokens", lambda m: issued)
    scene.open()

    scene.close()

    meeting = scene.meeting()
    assert meeting.phase == "void" and not meeting.closing["reconciled"]
    [voided] = [e for e in scene.log.read_all() if e.type == "MeetingVoided"]
    assert voided.data["reason"].startswith(domain.RECONCILIATION)
    assert "60 ballots issued but only 50 representatives" in voided.data["reason"]


def test_a_close_within_the_counts_is_reconciled() -> None:
    scene = Scene()
    scene.voting("满意")

    scene.close()

    assert scene.meeting().closing["reconciled"]
    assert scene.meeting().closing["checked_in"] == 50


# -- rule 3: one live meeting per community and campaign -------------------------------


def test_a_second_meeting_is_refused_while_the_first_is_not_void() -> None:
    scene = Scene()
    campaign = scene.store.campaign(scene.meeting().campaign_id)
    live = scene.store.live_meeting(campaign.campaign_id, "光明社区", None)
    assert live is not None and live.meeting_id == scene.meeting_id

    with pytest.raises(Refused) as refusal:
        domain.schedule_meeting(campaign, DETAILS, SUBJECTS, None, live=live, actor=ORGANISER_ACTOR)

    assert refusal.value.reason.startswith(domain.ONE_LIVE_MEETING)
    assert refusal.value.details["live_meeting"] == scene.meeting_id


def test_two_processes_scheduling_at_once_cannot_both_hold_a_live_meeting() -> None:
    log = InMemoryEventLog("ballot", payload_schemas=payloads)
    first, second = BallotStore(log), BallotStore(log)
    created = domain.create_campaign("吉州区", 2011, "第一批", merged_with_defaults({}))
    campaign_id = created.data["campaign_id"]
    log.append(f"campaign-{campaign_id}", [created], 0)
    campaign = first.campaign(campaign_id)

    def meeting(live: Any) -> NewEvent:
        return domain.schedule_meeting(
            campaign, DETAILS, SUBJECTS, None, live=live, actor=ORGANISER_ACTOR
        )

    def racing(live: Any) -> NewEvent:
        """The second process has found no live meeting; the first schedules one now."""
        if live is None and not first.directory().meetings:
            first.schedule(campaign_id, "光明社区", None, meeting)
        return meeting(live)

    with pytest.raises(Refused) as refusal:
        second.schedule(campaign_id, "光明社区", None, racing)

    assert refusal.value.reason.startswith(domain.ONE_LIVE_MEETING)
    assert len(second.directory().meetings[campaign_id]) == 1


def test_a_voided_meeting_leaves_room_for_its_rerun() -> None:
    scene = Scene()
    scene.do("meeting", lambda m: m.void("会场秩序混乱", ADMIN_ACTOR))

    assert scene.store.live_meeting(scene.meeting().campaign_id, "光明社区", None) is None


def test_each_pledge_letter_has_its_own_live_meeting() -> None:
    scene = Scene()

    assert scene.store.live_meeting(scene.meeting().campaign_id, "光明社区", "letter-1") is None


def test_only_a_district_account_voids_a_meeting() -> None:
    scene = Scene()

    refusal = refused(scene, lambda: scene.do("meeting", lambda m: m.void("重开", ORGANISER_ACTOR)))

    assert refusal.reason.startswith(domain.ONE_LIVE_MEETING)
    assert scene.meeting().phase == "scheduled"


def test_a_rerun_is_of_the_same_community() -> None:
    scene = Scene()
    scene.do("meeting", lambda m: m.void("会场秩序混乱", ADMIN_ACTOR))
    campaign = scene.store.campaign(scene.meeting().campaign_id)

    with pytest.raises(InvalidInput) as invalid:
        domain.schedule_meeting(
            campaign,
            {**DETAILS, "community": "太平桥社区"},
            SUBJECTS,
            scene.meeting(),
            live=None,
            actor=ORGANISER_ACTOR,
        )
    assert "rerun_of" in invalid.value.messages


# -- rule 4: the scrutineer, and paper keyed by two accounts ---------------------------


@pytest.mark.parametrize(
    "actor",
    [ORGANISER_ACTOR, ADMIN_ACTOR, {**SCRUTINEER_ACTOR, "community": "光明社区"}],
    ids=["organiser", "district admin", "scrutineer of the community"],
)
def test_voting_opens_and_closes_only_by_a_district_or_street_scrutineer(actor: Any) -> None:
    scene = Scene()
    scene.check_in(50)

    refusal = refused(scene, lambda: scene.open(actor))

    assert refusal.reason.startswith(domain.SCRUTINY)
    scene.open()
    assert refused(scene, lambda: scene.close(actor)).reason.startswith(domain.SCRUTINY)
    scene.close()
    [opened] = [e for e in scene.log.read_all() if e.type == "VotingOpened"]
    assert opened.data["actor"] == SCRUTINEER_ACTOR and opened.data["checked_in"] == 50


def paper_scene(slips: int = 3) -> Scene:
    scene = Scene()
    scene.check_in(50)
    scene.slips(slips)
    scene.open()
    return scene


def test_one_account_cannot_key_both_sides_of_a_slip() -> None:
    scene = paper_scene()
    scene.key(ORGANISER_ACTOR, [{"slip": 1, "marks": committee("满意")}])

    refusal = refused(
        scene, lambda: scene.key(ORGANISER_ACTOR, [{"slip": 1, "marks": committee("满意")}])
    )

    assert refusal.reason.startswith(domain.SCRUTINY)
    assert scene.meeting().returned == 0


def test_two_organisers_of_the_community_cannot_key_a_slip_between_them() -> None:
    scene = paper_scene()
    scene.key(ORGANISER_ACTOR, [{"slip": 1, "marks": committee("满意")}])

    refusal = refused(
        scene, lambda: scene.key(OTHER_ORGANISER, [{"slip": 1, "marks": committee("满意")}])
    )

    assert "not an organiser" in refusal.reason or "is not" in refusal.reason
    scene.key(SCRUTINEER_ACTOR, [{"slip": 1, "marks": committee("满意")}])
    assert scene.meeting().returned == 1


def test_a_slip_number_never_issued_is_refused() -> None:
    scene = paper_scene(slips=3)

    refusal = refused(
        scene, lambda: scene.key(ORGANISER_ACTOR, [{"slip": 4, "marks": committee("满意")}])
    )

    assert refusal.reason.startswith(domain.SCRUTINY)
    assert refusal.details == {"slip": 4, "issued_slips": 3}


def test_a_slip_counted_in_one_batch_is_not_counted_again_in_another() -> None:
    scene = paper_scene()
    for clerk in (ORGANISER_ACTOR, SCRUTINEER_ACTOR):
        scene.key(clerk, [{"slip": 1, "marks": committee("满意")}])
    meeting = scene.meeting()

    with pytest.raises(Refused) as refusal:
        meeting.key_paper("b2", ADMIN_ACTOR, [{"slip": 1, "marks": committee("满意")}])

    assert "already counted" in refusal.value.reason


def test_keying_records_the_account_and_the_ballot_names_no_one() -> None:
    scene = paper_scene()
    for clerk in (ORGANISER_ACTOR, SCRUTINEER_ACTOR):
        scene.key(clerk, [{"slip": 1, "marks": committee("满意")}])

    keyed = [e.data["actor"] for e in scene.log.read_all() if e.type == "PaperBallotKeyed"]
    [ballot] = [e for e in scene.log.read_all() if e.type == "BallotCast"]
    assert keyed == [ORGANISER_ACTOR, SCRUTINEER_ACTOR]
    assert set(ballot.data) == {"meeting_id", "channel", "marks"}, "no clerk, no slip number"
    [counted] = [e for e in scene.log.read_all() if e.type == "SlipCounted"]
    assert counted.stream == f"paper-{scene.meeting_id}"
    assert set(counted.data) == {"meeting_id", "batch", "number"}, "the slip, apart from marks"


# -- rule 5: assessments after the results ---------------------------------------------


def assessed(campaign: Campaign, score: int, *, results_exist: bool, reason: str | None) -> Any:
    event = campaign.record_assessment(
        "光明社区", score, "区委组织部", "年度考核",
        actor=ASSESSOR_ACTOR, results_exist=results_exist, reason=reason,
    )  # fmt: skip
    campaign.assessments["光明社区"] = event.data
    return event


def test_an_assessment_after_the_results_is_a_correction_that_needs_a_reason() -> None:
    campaign = Campaign("c" * 16)
    assessed(campaign, 80, results_exist=False, reason=None)

    with pytest.raises(Refused) as refusal:
        assessed(campaign, 95, results_exist=True, reason=None)
    corrected = assessed(campaign, 95, results_exist=True, reason="复核发现漏计加分项")

    assert refusal.value.reason.startswith(domain.CORRECTION)
    assert corrected.data["correction"] == {"reason": "复核发现漏计加分项", "corrects_score": 80}
    assert corrected.data["actor"] == ASSESSOR_ACTOR


def test_an_assessment_replaced_before_the_results_is_no_correction() -> None:
    campaign = Campaign("c" * 16)
    assessed(campaign, 80, results_exist=False, reason=None)

    assert assessed(campaign, 85, results_exist=False, reason=None).data["correction"] is None


# -- rule 7: who did what --------------------------------------------------------------


def test_every_staff_event_records_its_account_and_no_ballot_names_anyone() -> None:
    scene = Scene()
    scene.voting("满意")
    scene.close()

    events = list(scene.log.read_all())
    # The campaign itself is created before any meeting, by a district account; it names none.
    # A voter's ballot and the spending of their token name no one either.
    staff = [e for e in events if e.type not in ("BallotCast", "TokenSpent", "CampaignCreated")]
    assert {e.type for e in staff} == {
        "MeetingScheduled",
        "RepresentativeCheckedIn",
        "TokensIssued",
        "VotingOpened",
        "VotingClosed",
    }
    assert all(e.data["actor"]["username"] for e in staff)
    [ballot] = [e for e in events if e.type == "BallotCast"]
    assert set(ballot.data) == {"meeting_id", "channel", "marks"}
