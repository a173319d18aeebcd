"""The scoring policy refuses nonsense with the reason; one ballot is judged by its rules."""

import copy
from typing import Any

import pytest

from qunping.core.errors import InvalidInput
from services.ballot.judgement import judge
from services.ballot.policy import DEFAULT_POLICY, merged_with_defaults, policy_hash

SUBJECTS = [
    {"id": "committee-1", "kind": "committee", "name": "社区两委班子"},
    {"id": "secretary-1", "kind": "secretary", "name": "王书记"},
]


def mark(subject: str, dimension: str, value: str) -> dict[str, str]:
    return {"subject": subject, "dimension": dimension, "value": value}


def test_the_default_policy_is_valid_and_hashes_stably() -> None:
    policy = merged_with_defaults(None)

    assert policy == DEFAULT_POLICY
    assert policy_hash(policy) == policy_hash(copy.deepcopy(DEFAULT_POLICY))


@pytest.mark.parametrize(
    "overrides, section",
    [
        ({"composite": {"mass_percent": 60, "superior_percent": 30}}, "composite"),
        (
            {"grades": [{"grade": "标准", "min_score": 75}, {"grade": "示范", "min_score": 90}]},
            "grades",
        ),
        (
            {"rates": {**DEFAULT_POLICY["rates"], "satisfaction": {"satisfaction": ["很满意"]}}},
            "rates",
        ),
        ({"flag_unfit_share": [4, 3]}, "flag_unfit_share"),
        ({"quorum": {"min_present": 0, "min_resident_percent": None}}, "quorum"),
        ({"invalid_mark_voids": "everything"}, "invalid_mark_voids"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_with_the_reason(
    overrides: dict[str, Any], section: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        merged_with_defaults(overrides)

    assert section in refused.value.messages["policy"]


def test_a_valid_mark_counts_and_an_abstention_abstains() -> None:
    judgement = judge(
        DEFAULT_POLICY,
        SUBJECTS,
        [mark("committee-1", "卫生", "满意"), mark("committee-1", "文化", "不了解")],
    )

    assert judgement.ratings == {("committee-1", "卫生"): "满意"}
    assert judgement.abstained == {("committee-1", "文化")}
    assert not judgement.void and not judgement.blank


def test_a_value_outside_the_scale_or_two_marks_void_that_item_only() -> None:
    judgement = judge(
        DEFAULT_POLICY,
        SUBJECTS,
        [
            mark("committee-1", "卫生", "优秀"),
            mark("secretary-1", "德", "优秀"),
            mark("secretary-1", "德", "称职"),
            mark("secretary-1", "能", "称职"),
        ],
    )

    assert judgement.void_items == {("committee-1", "卫生"), ("secretary-1", "德")}
    assert judgement.ratings == {("secretary-1", "能"): "称职"}
    assert not judgement.void


def test_a_policy_may_void_the_whole_ballot_for_one_invalid_mark() -> None:
    policy = {**DEFAULT_POLICY, "invalid_mark_voids": "ballot"}

    judgement = judge(
        policy, SUBJECTS, [mark("committee-1", "卫生", "x"), mark("secretary-1", "能", "称职")]
    )

    assert judgement.void and judgement.ratings == {}


def test_a_completely_blank_ballot_is_returned_but_abstains() -> None:
    judgement = judge(DEFAULT_POLICY, SUBJECTS, [])

    assert judgement.blank and not judgement.void and judgement.ratings == {}
