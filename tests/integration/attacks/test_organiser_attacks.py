"""The community's own organiser tries to rig its meeting over the real gateway and services.

Each test is one attack, made with the organiser's own login: it asserts the refusal
(status and the rule's message), that no log grew, and that the results the tally publishes
are what the genuine ballots say: the representatives present were all dissatisfied
(不满意), so the committee's satisfaction is 0 of every valid rating.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from services.gateway.auth import ASSESSOR, DISTRICT_ADMIN, ORGANISER, SCRUTINEER
from tests.integration.gateway.gateway_stack import Stack
from tests.integration.gateway.test_api import SUBJECTS, call

COMMUNITY = "光明社区"
PRESENT = 5
"""Representatives at the meeting (the campaign's quorum, kept small to keep tests fast)."""
COMMITTEE = ("社区服务", "卫生", "文化", "治安", "环境", "总体评价")
DISSATISFIED = [{"subject": "committee-1", "dimension": d, "value": "不满意"} for d in COMMITTEE]
SATISFIED = [{"subject": "committee-1", "dimension": d, "value": "满意"} for d in COMMITTEE]


def ok(answer: requests.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


@dataclass
class Meeting:
    """One community's meeting, its organiser (the attacker) and the street's scrutineer."""

    stack: Stack
    admin: str
    organiser: str
    scrutineer: str
    campaign_id: str
    meeting_id: str
    tokens: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/api/meetings/{self.meeting_id}"

    def check_in(self, count: int = PRESENT) -> None:
        for n in range(count):
            ok(call(self.stack, "POST", self.path + "/check-ins", self.organiser,
                    json={"name": f"代表{n}", "category": "resident"}))  # fmt: skip

    def issue_tokens(self, count: int = PRESENT) -> None:
        self.tokens += ok(call(self.stack, "POST", self.path + "/tokens", self.organiser,
                               json={"count": count}))["tokens"]  # fmt: skip

    def open(self) -> None:
        ok(call(self.stack, "POST", self.path + "/open", self.scrutineer))

    def vote_and_close(self) -> None:
        """The genuine ballots: every representative present is dissatisfied."""
        for token in self.tokens:
            ok(call(self.stack, "POST", self.path + "/ballots",
                    json={"token": token, "marks": DISSATISFIED}))  # fmt: skip
        ok(call(self.stack, "POST", self.path + "/close", self.scrutineer))

    def refused(
        self, method: str, path: str, token: str, status: int, message: str, **body: Any
    ) -> None:
        """The request is refused with `status`, saying `message`, and no log grows."""
        before = self.stack.log_heads()
        answer = call(self.stack, method, path, token, json=body)
        assert answer.status_code == status, answer.text
        assert message in answer.text, answer.text
        assert self.stack.log_heads() == before

    def published_results(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while (answer := call(self.stack, "GET", self.path + "/results")).status_code != 200:
            assert time.monotonic() < deadline, "the tally published no results"
            time.sleep(0.3)
        return dict(answer.json())

    def assert_results_are_the_genuine_ballots(self, returned: int = PRESENT) -> None:
        results = self.published_results()
        assert results["closing"]["returned"] == returned
        assert results["closing"]["reconciled"] is True
        [committee] = [s for s in results["results"]["subjects"] if s["kind"] == "committee"]
        satisfaction = committee["rates"]["satisfaction"]
        assert (satisfaction["favourable"], satisfaction["valid"]) == (0, returned * 6)


@pytest.fixture
def meeting(stack: Stack) -> Meeting:
    admin = stack.account("admin", DISTRICT_ADMIN)
    organiser = stack.account("organiser", ORGANISER, COMMUNITY)
    scrutineer = stack.account("scrutineer", SCRUTINEER)
    policy = {"quorum": {"min_present": PRESENT, "min_resident_percent": None}}
    campaign_id = ok(call(stack, "POST", "/api/campaigns", admin, json={
        "district": "吉州区", "year": 2011, "batch": "第一批试点", "policy": policy,
    }))["campaign_id"]  # fmt: skip
    meeting_id = ok(call(stack, "POST", "/api/meetings", organiser, json=schedule(campaign_id)))[
        "meeting_id"
    ]
    return Meeting(stack, admin, organiser, scrutineer, campaign_id, meeting_id)


def schedule(campaign_id: str) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id, "community": COMMUNITY, "street": "古南街道",
        "starts_at": "2011-10-12T09:00:00+08:00", "place": "会议室",
        "expected_participants": PRESENT, "subjects": SUBJECTS,
    }  # fmt: skip


# -- rule 1: one ballot per person present ---------------------------------------------


def test_tokens_beyond_the_people_checked_in_are_refused(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.issue_tokens()

    meeting.refused("POST", meeting.path + "/tokens", meeting.organiser, 409,
                    "rule 1, one ballot per person present", count=200)  # fmt: skip

    meeting.open()
    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()


def test_tokens_before_anyone_checked_in_are_refused(meeting: Meeting) -> None:
    meeting.refused("POST", meeting.path + "/tokens", meeting.organiser, 409,
                    "0 representatives are checked in", count=PRESENT)  # fmt: skip

    meeting.check_in()
    meeting.issue_tokens()
    meeting.open()
    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()


def test_a_refused_check_in_entitles_no_ballot(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.refused("POST", meeting.path + "/check-ins", meeting.organiser, 409,
                    "already checked in", name="代表0", category="resident")  # fmt: skip

    meeting.refused("POST", meeting.path + "/tokens", meeting.organiser, 409,
                    "rule 1, one ballot per person present", count=PRESENT + 1)  # fmt: skip

    meeting.issue_tokens()
    meeting.open()
    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()


def test_no_ballot_is_issued_once_voting_opened(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.issue_tokens()
    meeting.open()

    meeting.refused("POST", meeting.path + "/check-ins", meeting.organiser, 409,
                    "check-in closed", name="迟到者", category="resident")  # fmt: skip
    meeting.refused("POST", meeting.path + "/tokens", meeting.organiser, 409,
                    "一次发票", count=1)  # fmt: skip

    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()


# -- rule 3: one live meeting ----------------------------------------------------------


def test_a_second_meeting_to_replace_a_bad_result_is_refused(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.issue_tokens()
    meeting.open()
    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()

    meeting.refused("POST", "/api/meetings", meeting.organiser, 409,
                    "rule 3, one live meeting", **schedule(meeting.campaign_id))  # fmt: skip
    meeting.refused("POST", meeting.path + "/void", meeting.organiser, 403,
                    "may not", reason="重新测评")  # fmt: skip
    meeting.refused("POST", "/api/meetings", meeting.organiser, 409, "rule 3",
                    **schedule(meeting.campaign_id), rerun_of=meeting.meeting_id)  # fmt: skip

    meeting.assert_results_are_the_genuine_ballots()


# -- rule 4: the scrutineer, and paper keyed by two accounts ---------------------------


def test_opening_and_closing_without_a_scrutineer_are_refused(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.issue_tokens()
    meeting.refused("POST", meeting.path + "/open", meeting.organiser, 409,
                    "rule 4, scrutineer")  # fmt: skip
    meeting.open()
    for token in meeting.tokens:
        ok(call(meeting.stack, "POST", meeting.path + "/ballots",
                json={"token": token, "marks": DISSATISFIED}))  # fmt: skip

    meeting.refused("POST", meeting.path + "/close", meeting.organiser, 409,
                    "rule 4, scrutineer")  # fmt: skip

    ok(call(meeting.stack, "POST", meeting.path + "/close", meeting.scrutineer))
    meeting.assert_results_are_the_genuine_ballots()


def paper_meeting(meeting: Meeting) -> None:
    meeting.check_in()
    ok(call(meeting.stack, "POST", meeting.path + "/paper-slips", meeting.organiser,
            json={"count": PRESENT}))  # fmt: skip
    meeting.open()


def key(meeting: Meeting, clerk: str, slips: range, marks: list[dict[str, str]]) -> Any:
    entries = [{"slip": n, "marks": marks} for n in slips]
    return ok(call(meeting.stack, "POST", meeting.path + "/paper-batches", clerk,
                   json={"batch": "第1箱", "entries": entries}))  # fmt: skip


def count_paper_and_close(meeting: Meeting) -> None:
    """The genuine count: the organiser and the scrutineer key every slip alike."""
    key(meeting, meeting.organiser, range(2, PRESENT + 1), DISSATISFIED)
    key(meeting, meeting.scrutineer, range(1, PRESENT + 1), DISSATISFIED)
    ok(call(meeting.stack, "POST", meeting.path + "/close", meeting.scrutineer))


def test_one_account_keying_both_sides_of_a_paper_ballot_is_refused(meeting: Meeting) -> None:
    paper_meeting(meeting)
    key(meeting, meeting.organiser, range(1, 2), DISSATISFIED)
    entries = [{"slip": 1, "marks": SATISFIED}]

    meeting.refused("POST", meeting.path + "/paper-batches", meeting.organiser, 409,
                    "a second, different account", batch="第1箱", entries=entries)  # fmt: skip
    meeting.refused("POST", meeting.path + "/paper-batches", meeting.organiser, 400,
                    "clerk", batch="第1箱", clerk="张三", entries=entries)  # fmt: skip

    count_paper_and_close(meeting)
    meeting.assert_results_are_the_genuine_ballots()


def test_two_organisers_of_the_community_cannot_key_a_slip_between_them(
    meeting: Meeting,
) -> None:
    accomplice = meeting.stack.account("organiser-2", ORGANISER, COMMUNITY)
    paper_meeting(meeting)
    key(meeting, meeting.organiser, range(1, 2), DISSATISFIED)

    meeting.refused("POST", meeting.path + "/paper-batches", accomplice, 409,
                    "not", batch="第1箱", entries=[{"slip": 1, "marks": DISSATISFIED}])  # fmt: skip

    count_paper_and_close(meeting)
    meeting.assert_results_are_the_genuine_ballots()


def test_keying_a_slip_that_was_never_issued_is_refused(meeting: Meeting) -> None:
    paper_meeting(meeting)
    key(meeting, meeting.organiser, range(1, 2), DISSATISFIED)
    extra = [{"slip": PRESENT + 1, "marks": SATISFIED}]

    meeting.refused("POST", meeting.path + "/paper-batches", meeting.organiser, 409,
                    f"slip {PRESENT + 1} was never issued", batch="第2箱",
                    entries=extra)  # fmt: skip

    count_paper_and_close(meeting)
    meeting.assert_results_are_the_genuine_ballots()


# -- rule 5: assessments after the results ---------------------------------------------


def test_an_assessment_replaced_after_the_results_without_a_reason_is_refused(
    meeting: Meeting,
) -> None:
    assessor = meeting.stack.account("assessor", ASSESSOR)
    assessments = f"/api/campaigns/{meeting.campaign_id}/assessments"
    first = {"community": COMMUNITY, "score": 60, "assessor": "区委组织部", "basis": "年度考评"}
    ok(call(meeting.stack, "POST", assessments, assessor, json=first))
    meeting.check_in()
    meeting.issue_tokens()
    meeting.open()
    meeting.vote_and_close()
    meeting.assert_results_are_the_genuine_ballots()

    meeting.refused("POST", assessments, meeting.organiser, 403, "may not",
                    **{**first, "score": 100})  # fmt: skip
    meeting.refused("POST", assessments, assessor, 409,
                    "rule 5, assessments after the results",
                    **{**first, "score": 100})  # fmt: skip

    ok(call(meeting.stack, "POST", assessments, assessor,
            json={**first, "score": 70, "reason": "复核发现漏计加分项"}))  # fmt: skip

    def corrected_grade() -> Any:
        grades = ok(call(meeting.stack, "GET", f"/api/campaigns/{meeting.campaign_id}/grades",
                         assessor))["grades"]  # fmt: skip
        return next((g for g in grades if g.get("assessment_corrected")), None)

    deadline = time.monotonic() + 60
    while (grade := corrected_grade()) is None:
        assert time.monotonic() < deadline, "no grade shows the correction"
        time.sleep(0.3)
    assert grade["assessment_corrected"]["corrects_score"] == 60
    assert grade["superior_score"] == 70
    meeting.assert_results_are_the_genuine_ballots()


# -- rule 6: results announcements -----------------------------------------------------


def test_an_organiser_cannot_announce_results_of_their_own(meeting: Meeting) -> None:
    meeting.check_in()
    meeting.issue_tokens()
    meeting.open()
    meeting.vote_and_close()

    meeting.refused("POST", "/api/announcements", meeting.organiser, 400,
                    "rule 6, results announcements", community=COMMUNITY, kind="results",
                    title="测评结果公示", body="满意率 80.00%")  # fmt: skip

    meeting.assert_results_are_the_genuine_ballots()
