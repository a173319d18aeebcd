"""The tally's formulas against hand-computed cases (docs/architecture.md#scoring-policy)."""

from fractions import Fraction

from services.ballot.policy import DEFAULT_POLICY
from services.tally import scoring

SUBJECTS = [
    {"id": "committee-1", "kind": "committee", "name": "社区两委班子"},
    {"id": "graduate-1", "kind": "graduate", "name": "李选聘"},
]


def mark(subject: str, dimension: str, value: str) -> dict[str, str]:
    return {"subject": subject, "dimension": dimension, "value": value}


def test_satisfaction_counts_basic_satisfaction_and_the_strict_rate_does_not() -> None:
    ballots = [
        [mark("committee-1", "卫生", v)] for v in ["满意", "满意", "基本满意", "不满意", "不了解"]
    ]

    results = scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, ballots)

    hygiene = results["subjects"][0]["dimensions"][1]
    assert hygiene["dimension"] == "卫生"
    assert (hygiene["valid"], hygiene["abstained"]) == (4, 1), (
        "不了解 abstains, outside the denominator"
    )
    assert hygiene["rates"]["satisfaction"] == {"favourable": 3, "valid": 4, "percent": "75.00"}
    assert hygiene["rates"]["strict"]["percent"] == "50.00"


def test_void_items_and_void_ballots_stay_out_of_every_rate() -> None:
    ballots = [
        [mark("committee-1", "卫生", "满意"), mark("committee-1", "卫生", "不满意")],
        [mark("committee-1", "卫生", "很好")],
        [mark("committee-1", "卫生", "满意")],
        [],
    ]

    results = scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, ballots)
    hygiene = results["subjects"][0]["dimensions"][1]
    assert (hygiene["valid"], hygiene["void"]) == (1, 2)
    assert results["blank_ballots"] == 1

    strict = {**DEFAULT_POLICY, "invalid_mark_voids": "ballot"}
    results = scoring.meeting_results(strict, SUBJECTS, ballots)
    assert results["void_ballots"] == 2
    assert results["subjects"][0]["dimensions"][1]["valid"] == 1


def test_every_returned_ballot_is_valid_abstained_void_or_blank_on_each_item() -> None:
    ballots = [
        [mark("committee-1", "卫生", "满意")],
        [mark("committee-1", "卫生", "不了解")],
        [mark("committee-1", "卫生", "很好"), mark("committee-1", "文化", "满意")],
        [mark("committee-1", "文化", "满意")],
        [],
    ]

    items = scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, ballots)["subjects"][0]
    hygiene, culture = items["dimensions"][1], items["dimensions"][2]

    counted = ("valid", "abstained", "void", "blank")
    assert [hygiene[key] for key in counted] == [1, 1, 1, 2]
    assert [culture[key] for key in counted] == [2, 0, 0, 3]
    for item in items["dimensions"]:
        assert sum(item[key] for key in counted) == len(ballots), item["dimension"]


def test_a_ballot_void_as_a_whole_is_void_on_every_item_and_blank_on_none() -> None:
    ballots = [
        [mark("committee-1", "卫生", "很好"), mark("committee-1", "文化", "满意")],
        [mark("committee-1", "卫生", "满意")],
    ]
    policy = {**DEFAULT_POLICY, "invalid_mark_voids": "ballot"}

    results = scoring.meeting_results(policy, SUBJECTS, ballots)
    service, hygiene = results["subjects"][0]["dimensions"][:2]

    assert results["void_ballots"] == 1
    assert (hygiene["valid"], hygiene["void"], hygiene["blank"]) == (1, 1, 0)
    assert (service["valid"], service["void"], service["blank"]) == (0, 1, 1)


def test_excellence_rate_and_the_one_third_unfit_flag() -> None:
    values = ["优秀", "不称职", "不称职", "称职", "优秀", "不称职"]
    ballots = [[mark("graduate-1", "工作能力", v)] for v in values]

    graduate = scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, ballots)["subjects"][1]

    assert graduate["rates"]["excellence"]["percent"] == "33.33"
    assert graduate["rates"]["unfit"] == {"favourable": 3, "valid": 6, "percent": "50.00"}
    assert graduate["flagged"]


def test_exactly_one_third_unfit_is_flagged_and_just_under_is_not() -> None:
    third = [[mark("graduate-1", "工作能力", v)] for v in ["不称职", "优秀", "称职"]]
    under = [[mark("graduate-1", "工作能力", v)] for v in ["不称职", "优秀", "称职", "优秀"]]

    assert scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, third)["subjects"][1]["flagged"]
    assert not scoring.meeting_results(DEFAULT_POLICY, SUBJECTS, under)["subjects"][1]["flagged"]


def test_the_composite_weighs_mass_60_and_superior_40_into_grade_bands() -> None:
    assert scoring.composite_grade(DEFAULT_POLICY, Fraction(95), 85)["composite"] == "91.00"
    assert scoring.composite_grade(DEFAULT_POLICY, Fraction(95), 85)["grade"] == "示范"
    assert scoring.composite_grade(DEFAULT_POLICY, Fraction(80), 70)["grade"] == "标准"
    assert scoring.composite_grade(DEFAULT_POLICY, Fraction(70), 70)["grade"] == "普通"
    assert scoring.composite_grade(DEFAULT_POLICY, Fraction(90), 90)["grade"] == "示范", (
        "a band's bound is in it"
    )


def test_grades_move_up_and_down_across_campaigns() -> None:
    assert scoring.movement(DEFAULT_POLICY, None, "标准") == "first"
    assert scoring.movement(DEFAULT_POLICY, "普通", "标准") == "promoted"
    assert scoring.movement(DEFAULT_POLICY, "示范", "标准") == "demoted"
    assert scoring.movement(DEFAULT_POLICY, "标准", "标准") == "kept"


def test_pooled_rates_sum_favourable_over_valid_with_the_mean_beside_them() -> None:
    small = scoring.meeting_results(
        DEFAULT_POLICY, SUBJECTS[:1], [[mark("committee-1", "卫生", "满意")]]
    )
    large = scoring.meeting_results(
        DEFAULT_POLICY,
        SUBJECTS[:1],
        [[mark("committee-1", "卫生", v)] for v in ["满意"] * 1 + ["不满意"] * 3],
    )

    summary = scoring.district_summary(
        DEFAULT_POLICY,
        [{"community": "甲", "results": small}, {"community": "乙", "results": large}],
    )

    assert summary["pooled"]["committees"] == {"favourable": 2, "valid": 5, "percent": "40.00"}
    assert summary["mean_of_communities"]["committees"] == "62.50"


def committee_rate(favourable: int, valid: int) -> dict[str, object]:
    """A meeting's contribution with just its committee's headline rate."""
    return {"pools": {"committees": [favourable, valid]}, "flagged": []}


def test_the_mean_of_community_rates_is_exact_where_decimals_would_round_it_down() -> None:
    totals = scoring.empty_totals()
    for _ in range(9):
        scoring.fold(totals, committee_rate(1, 3), 1)
    scoring.fold(totals, committee_rate(5, 10000), 1)

    # (9 x 100/3 + 0.05) / 10 is 30.005 exactly: half-up makes it 30.01. Summed in
    # 28-digit decimals the thirds fall short and it came out 30.00.
    assert scoring.summary_figures(totals)["mean_of_communities"]["committees"] == "30.01"


def test_a_meeting_folded_out_again_leaves_the_totals_exactly_as_they_were() -> None:
    totals = scoring.empty_totals()
    scoring.fold(totals, committee_rate(2, 3), 1)
    scoring.fold(totals, committee_rate(1, 7), 1)
    scoring.fold(totals, committee_rate(2, 3), -1)
    scoring.fold(totals, committee_rate(1, 7), -1)

    assert totals == scoring.empty_totals()


def test_the_composite_of_a_recurring_mass_score_falls_in_the_band_it_reaches_exactly() -> None:
    mass = Fraction(1400, 15)  # 14 of 15 satisfied: 93.33...%

    grade = scoring.composite_grade(DEFAULT_POLICY, mass, 85)

    assert (grade["mass_score"], grade["composite"], grade["grade"]) == ("93.33", "90.00", "示范")


def test_percentages_round_half_up_only_at_the_edge() -> None:
    assert scoring.percent(4797, 5000) == "95.94"
    assert scoring.percent(1, 8) == "12.50"
    assert scoring.percent(2, 3) == "66.67"
    assert scoring.percent(0, 0) is None
    assert scoring.half_up(Fraction(-1, 200)) == "-0.01"
    assert scoring.half_up(Fraction(1, 300)) == "0.00"


def test_the_summary_flags_persons_and_communities_under_the_alert_threshold() -> None:
    low = scoring.meeting_results(
        DEFAULT_POLICY,
        SUBJECTS,
        [
            [mark("committee-1", "卫生", "不满意"), mark("graduate-1", "工作能力", "不称职")],
            [mark("committee-1", "卫生", "满意"), mark("graduate-1", "工作能力", "优秀")],
        ],
    )

    summary = scoring.district_summary(DEFAULT_POLICY, [{"community": "甲社区", "results": low}])

    assert {(f["kind"], f["subject"]) for f in summary["flagged"]} == {
        ("community", "社区两委班子"),
        ("graduate", "李选聘"),
    }


def test_a_flagged_person_carries_the_reason_the_district_alert_words() -> None:
    results = scoring.meeting_results(
        DEFAULT_POLICY, SUBJECTS, [[mark("graduate-1", "工作能力", "不称职")]]
    )

    [flag] = scoring.contribution("甲社区", results, 80)["flagged"]

    assert flag["reason"] == "不称职 100.00% reaches the policy's share"
