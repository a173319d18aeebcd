"""The pledge cycle's rules, through the book on an in-memory log (no servers)."""

from datetime import date

import pytest

from qunping.core.errors import InvalidInput, Refused
from services.pledge import domain, evaluation
from tests.unit.pledge.scene import IN_WINDOW, ITEMS, PERIOD, SUBJECTS, Scene


@pytest.fixture
def scene() -> Scene:
    return Scene()


def test_items_are_numbered_per_side_and_the_letter_awaits_both_signatures(scene: Scene) -> None:
    pledge = scene.pledge
    assert [i["item_id"] for i in pledge.latest["items"]] == ["community-1", "unit-1", "unit-2"]
    assert pledge.status() == "awaiting_signatures"
    assert pledge.letter is None


def test_a_pledge_is_in_force_only_once_both_sides_have_signed(scene: Scene) -> None:
    scene.do(lambda p: p.sign(1, "community", "王书记"))
    assert scene.pledge.in_force is None
    recorded = scene.do(lambda p: p.sign(1, "unit", "张校长"))
    assert [e.type for e in recorded] == ["PledgeSigned", "PledgeInForce"]
    assert scene.pledge.status() == "in_force"


def test_a_side_cannot_sign_the_same_version_twice(scene: Scene) -> None:
    scene.do(lambda p: p.sign(1, "community", "王书记"))
    with pytest.raises(Refused, match="already signed"):
        scene.do(lambda p: p.sign(1, "community", "王书记"))


def test_a_letter_where_one_side_commits_to_nothing_is_refused(scene: Scene) -> None:
    with pytest.raises(InvalidInput) as refused:
        domain.draft_pledge(scene.unit, 2026, PERIOD, ITEMS[1:])
    assert refused.value.messages == {"items": ["the community side commits to nothing"]}


def test_an_item_due_outside_the_period_is_refused(scene: Scene) -> None:
    late = {**ITEMS[0], "due_date": date(2027, 3, 1)}
    with pytest.raises(InvalidInput, match="due date outside the period"):
        domain.draft_pledge(scene.unit, 2026, PERIOD, [late, ITEMS[1]])


def test_a_reporting_window_that_closes_before_it_opens_is_refused(scene: Scene) -> None:
    backwards = {**PERIOD, "report_until": date(2026, 11, 1)}
    with pytest.raises(InvalidInput) as refused:
        domain.draft_pledge(scene.unit, 2026, backwards, ITEMS)
    assert "report_until" in refused.value.messages


def test_an_amendment_is_a_new_version_signed_again_while_the_old_stays_in_force(
    scene: Scene,
) -> None:
    scene.sign_both()
    amended_items = [*ITEMS, {**ITEMS[0], "title": "开放图书室"}]
    scene.do(lambda p: [p.amend(PERIOD, amended_items, "增加图书室开放")])
    pledge = scene.pledge
    assert [v["version"] for v in pledge.versions] == [1, 2]
    assert pledge.in_force == 1
    assert pledge.status() == "in_force_amendment_pending"
    with pytest.raises(Refused, match="only the latest version"):
        scene.do(lambda p: p.sign(1, "unit", "张校长"))
    scene.sign_both(version=2)
    assert scene.pledge.in_force == 2
    assert len(scene.pledge.letter["items"]) == 4  # type: ignore[index]


def test_reporting_before_the_pledge_is_in_force_is_refused(scene: Scene) -> None:
    with pytest.raises(Refused, match="not in force"):
        scene.report("community-1", "community")


def test_reporting_on_an_unknown_item_is_refused(scene: Scene) -> None:
    scene.sign_both()
    with pytest.raises(Refused, match="no item 'community-9'"):
        scene.report("community-9", "community")


def test_reporting_on_the_other_sides_item_is_refused(scene: Scene) -> None:
    scene.sign_both()
    with pytest.raises(Refused, match="the community side has no item 'unit-1'"):
        scene.report("unit-1", "community")


@pytest.mark.parametrize("day", [date(2026, 11, 30), date(2026, 12, 21)])
def test_reporting_outside_the_window_is_refused(scene: Scene, day: date) -> None:
    scene.sign_both()
    with pytest.raises(Refused, match="outside the reporting window"):
        scene.report("unit-1", "unit", today=day)


def test_reporting_twice_on_an_item_is_refused_but_a_correction_replaces_the_report(
    scene: Scene,
) -> None:
    scene.sign_both()
    scene.report("unit-1", "unit", "partly")
    with pytest.raises(Refused, match="already reported on"):
        scene.report("unit-1", "unit", "done")
    content = {
        "item_id": "unit-1",
        "side": "unit",
        "status": "done",
        "evidence": "补充",
        "links": [],
    }
    scene.do(lambda p: [p.correct_report(content, IN_WINDOW)])
    report = scene.pledge.reports["unit-1"]
    assert (report.status, report.corrections) == ("done", 1)
    assert scene.pledge.fulfilment()["unit"] == {
        "done": 1,
        "partly": 0,
        "not_done": 0,
        "unreported": 1,
        "items": 2,
    }


def test_a_correction_without_a_report_is_refused(scene: Scene) -> None:
    scene.sign_both()
    content = {"item_id": "unit-1", "side": "unit", "status": "done", "evidence": "x", "links": []}
    with pytest.raises(Refused, match="no report to correct"):
        scene.do(lambda p: [p.correct_report(content, IN_WINDOW)])


def test_items_past_due_without_a_report_are_overdue_once_each(scene: Scene) -> None:
    scene.sign_both()
    scene.report("unit-1", "unit")
    day = date(2026, 12, 10)
    raised = scene.do(lambda p: p.overdue_items(day))
    assert sorted(e.data["item_id"] for e in raised) == ["community-1", "unit-2"]
    assert raised[0].data["item_title"] and raised[0].data["community"] == "光明社区"
    assert scene.do(lambda p: p.overdue_items(day)) == []
    item = scene.pledge.letter["items"][0]  # type: ignore[index]
    with pytest.raises(Refused, match="already overdue"):
        scene.pledge.item_overdue(item)


def test_an_item_not_yet_due_is_not_overdue(scene: Scene) -> None:
    scene.sign_both()
    assert scene.pledge.overdue_items(date(2026, 6, 30)) == []
    assert [e.data["item_id"] for e in scene.pledge.overdue_items(date(2026, 7, 1))] == [
        "community-1"
    ]


def test_an_evaluation_needs_the_pledge_in_force(scene: Scene) -> None:
    with pytest.raises(Refused, match="not in force"):
        scene.pledge.may_start_evaluation(None)


def test_results_are_recorded_once_for_the_meeting_awaited(scene: Scene) -> None:
    scene.sign_both()
    scene.do(lambda p: [p.start_evaluation("a" * 16, "c" * 16, None)])
    assert scene.pledge.awaiting_results == "a" * 16
    assert scene.do(lambda p: p.record_results("b" * 16, SUBJECTS)) == []
    [recorded] = scene.do(lambda p: p.record_results("a" * 16, SUBJECTS))
    assert recorded.data["sides"]["unit"]["satisfaction"]["percent"] == "90.00"
    assert scene.do(lambda p: p.record_results("a" * 16, SUBJECTS)) == []
    assert scene.pledge.status() == "evaluated"
    with pytest.raises(Refused, match="has an evaluation"):
        scene.pledge.may_start_evaluation(None)


def test_a_rerun_replaces_the_voided_meeting_and_its_results_are_the_ones_recorded(
    scene: Scene,
) -> None:
    scene.sign_both()
    scene.do(lambda p: [p.start_evaluation("a" * 16, "c" * 16, None)])
    with pytest.raises(Refused, match="only the current evaluation"):
        scene.pledge.may_start_evaluation("f" * 16)
    scene.do(lambda p: [p.start_evaluation("b" * 16, "c" * 16, "a" * 16)])
    assert scene.do(lambda p: p.record_results("a" * 16, SUBJECTS)) == []
    assert scene.pledge.awaiting_results == "b" * 16
    scene.do(lambda p: p.record_results("b" * 16, SUBJECTS))
    assert scene.pledge.detail()["evaluation"]["rerun_of"] == "a" * 16


def test_results_that_do_not_rate_both_sides_are_refused(scene: Scene) -> None:
    scene.sign_both()
    scene.do(lambda p: [p.start_evaluation("a" * 16, "c" * 16, None)])
    with pytest.raises(Refused, match="do not rate both sides"):
        scene.pledge.record_results("a" * 16, SUBJECTS[:1])


def test_an_amendment_is_refused_once_the_evaluation_started(scene: Scene) -> None:
    scene.sign_both()
    scene.do(lambda p: [p.start_evaluation("a" * 16, "c" * 16, None)])
    with pytest.raises(Refused, match="under evaluation"):
        scene.pledge.amend(PERIOD, ITEMS, "太晚了")


def test_an_amendment_cannot_drop_an_item_already_reported_on(scene: Scene) -> None:
    scene.sign_both()
    scene.report("unit-2", "unit")
    with pytest.raises(Refused, match="already reported on"):
        scene.pledge.amend(PERIOD, ITEMS[:2], "删去志愿服务")


def test_a_districts_evaluation_campaign_asks_ballot_for_the_pledge_policy_at_the_quorum() -> None:
    request = evaluation.campaign("吉州区", 2026, 30)

    assert request["district"] == "吉州区"
    assert request["year"] == 2026
    assert request["batch"] == evaluation.BATCH
    assert request["policy"]["quorum"]["min_present"] == 30
    assert set(request["policy"]["kinds"]) == set(domain.SUBJECT_SIDES)


def test_a_created_evaluation_campaign_is_remembered_under_its_district_and_year(
    scene: Scene,
) -> None:
    stream = domain.campaign_stream("吉州区", 2026)
    scene.book.append_new(
        stream, domain.evaluation_campaign_created("吉州区", 2026, "0123456789abcdef")
    )

    assert scene.book.campaigns == {stream: "0123456789abcdef"}
