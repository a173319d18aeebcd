"""The standalone verifier's formulas against the project's own, on the same ballots.

The verifier re-implements the scoring so an auditor needs nothing of qunping; this is
what keeps the two from drifting apart."""

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit import verify_bundle
from services.ballot import judgement
from services.ballot.policy import DEFAULT_POLICY
from services.tally import scoring

SUBJECTS = [
    {"id": "committee-1", "kind": "committee", "name": "社区两委班子"},
    {"id": "secretary-1", "kind": "secretary", "name": "陈建华"},
    {"id": "graduate-1", "kind": "graduate", "name": "李选聘"},
]
ITEMS = [
    (subject["id"], dimension)
    for subject in SUBJECTS
    for dimension in DEFAULT_POLICY["kinds"][subject["kind"]]["dimensions"]
]
VALUES = ["满意", "基本满意", "不满意", "不了解", "优秀", "称职", "基本称职", "不称职", "", "乱写"]

marks = st.lists(
    st.builds(
        lambda item, value: {"subject": item[0], "dimension": item[1], "value": value},
        st.sampled_from(ITEMS),
        st.sampled_from(VALUES),
    ),
    max_size=8,
)
any_meeting = given(ballots=st.lists(marks, max_size=30), voids=st.sampled_from(["item", "ballot"]))
"""Any ballots, under either invalid-mark rule."""


def voiding(voids: str) -> dict[str, Any]:
    return {**copy.deepcopy(DEFAULT_POLICY), "invalid_mark_voids": voids}


@settings(max_examples=200, deadline=None)
@any_meeting
def test_the_standalone_recount_equals_the_tallys_on_any_ballots(
    ballots: list[list[dict[str, str]]], voids: str
) -> None:
    policy = voiding(voids)

    standalone = verify_bundle.meeting_results(policy, SUBJECTS, ballots)

    assert standalone == scoring.meeting_results(policy, SUBJECTS, ballots)


def test_the_standalone_reading_of_a_version_1_ballot_equals_the_upcasters() -> None:
    from services.ballot.events import ballot_marks_as_a_list

    data = {"meeting_id": "0" * 16, "token_hash": "a" * 64, "marks": {"committee-1.卫生": "满意"}}

    standalone = verify_bundle.marks_of({"schema_version": 1, "data": data})

    assert standalone == ballot_marks_as_a_list(data)["marks"]


@settings(max_examples=200, deadline=None)
@any_meeting
def test_results_published_as_version_1_upcast_exactly_to_version_2(
    ballots: list[list[dict[str, str]]], voids: str
) -> None:
    from services.tally.events import every_ballot_accounted_per_item

    today = scoring.meeting_results(voiding(voids), SUBJECTS, ballots)
    published_in_2011 = {"results": verify_bundle.as_version_1(today)}

    assert every_ballot_accounted_per_item(published_in_2011) == {"results": today}
    for subject in today["subjects"]:
        for item in subject["dimensions"]:
            assert item["valid"] + item["abstained"] + item["void"] + item["blank"] == len(ballots)


@given(ballots=st.lists(marks, max_size=30), seed=st.randoms())
@settings(max_examples=100, deadline=None)
def test_the_verifier_digests_a_ballot_box_as_the_close_does_in_any_order(
    ballots: list[list[dict[str, str]]], seed: Any
) -> None:
    shuffled = [seed.sample(ballot, len(ballot)) for ballot in ballots]
    seed.shuffle(shuffled)

    stated = judgement.ballots_digest(ballots)

    assert verify_bundle.ballots_digest(shuffled) == stated
    assert verify_bundle.canonical_ballots(shuffled) == judgement.canonical_ballots(ballots)
