"""The tally through the real services: ballots in, boards, results, grades and summaries out."""

import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.envelope import from_cloudevent
from qunping.core.errors import NotFound
from qunping.core.metrics import service_metrics
from qunping.operator.sample import COMMUNITIES, load_sample
from services.ballot.service import BallotService
from services.tally.dependencies import TallyDependency
from services.tally.service import TallyService
from tests.actors import Acting


class Cluster:
    def __init__(self, proxy: Any, tally_container: Any) -> None:
        self.ballot, self.tally = Acting(proxy.ballot), proxy.tally
        self.dependency = next(
            e for e in tally_container.extensions if isinstance(e, TallyDependency)
        )

    def settled(self, check: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "the tally did not catch up"
            time.sleep(0.2)

    def read_models(self) -> dict[str, list[dict[str, Any]]]:
        database = self.dependency.database
        return {
            name: list(database[name].find(sort=[("_id", 1)]))
            for name in self.dependency.runner.projection.collections
        }


@pytest.fixture
def cluster(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> Iterator[Cluster]:
    container_factory(BallotService, nameko_config).start()
    tally = container_factory(TallyService, nameko_config)
    tally.start()
    with ClusterRpcProxy(nameko_config, timeout=60) as proxy:
        yield Cluster(proxy, tally)


def small_meeting(
    cluster: Cluster, campaign_id: str | None = None, community: str = "光明社区"
) -> tuple[str, str, list[str]]:
    campaign_id = (
        campaign_id
        or cluster.ballot.create_campaign({"district": "吉州区", "year": 2012, "batch": "第二批"})[
            "campaign_id"
        ]
    )
    meeting_id = cluster.ballot.schedule_meeting(
        {
            "campaign_id": campaign_id,
            "community": community,
            "street": "古南街道",
            "starts_at": "2012-10-12T09:00:00+08:00",
            "place": "会议室",
            "expected_participants": 50,
            "subjects": [{"kind": "committee"}, {"kind": "secretary", "name": "陈建华"}],
        }
    )["meeting_id"]
    for n in range(52):
        cluster.ballot.check_in(
            {"meeting_id": meeting_id, "name": f"代表{n}", "category": "resident"}
        )
    tokens = cluster.ballot.issue_tokens({"meeting_id": meeting_id, "count": 52})["tokens"]
    cluster.ballot.open_voting({"meeting_id": meeting_id})
    return campaign_id, meeting_id, tokens


def satisfied_three(cluster: Cluster, campaign_id: str | None = None) -> tuple[str, str]:
    """A small meeting, open, where three representatives were satisfied with 社区服务."""
    campaign_id, meeting_id, tokens = small_meeting(cluster, campaign_id)
    marks = [{"subject": "committee-1", "dimension": "社区服务", "value": "满意"}]
    for token in tokens[:3]:
        cluster.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
    return campaign_id, meeting_id


def graded(cluster: Cluster, campaign_id: str, meeting_id: str) -> dict[str, Any]:
    """Close the meeting, assess its community at 70: the grade the tally gives it."""
    cluster.ballot.close_voting({"meeting_id": meeting_id})
    cluster.ballot.record_assessment(
        {"campaign_id": campaign_id, "community": "光明社区", "score": 70,
         "assessor": "区委", "basis": "考评"}
    )  # fmt: skip
    campaign = {"campaign_id": campaign_id}
    cluster.settled(lambda: bool(cluster.tally.grades(campaign)["grades"]))
    [grade] = cluster.tally.grades(campaign)["grades"]
    return dict(grade)


def test_the_sample_district_reproduces_the_reported_figures_from_raw_ballots(
    cluster: Cluster,
) -> None:
    loaded = load_sample(cluster.ballot)
    campaign_id = loaded["campaign_id"]

    cluster.settled(
        lambda: (
            len(cluster.tally.grades({"campaign_id": campaign_id})["grades"]) == len(COMMUNITIES)
        )
    )
    summary = cluster.tally.summary({"campaign_id": campaign_id})

    pooled = {name: figure["percent"] for name, figure in summary["pooled"].items()}
    assert pooled == {
        "committees": "95.94",
        "secretaries": "96.00",
        "community_services": "97.00",
        "graduate_excellence": "96.50",
    }
    assert summary["pooled"]["committees"]["valid"] == 5000
    assert summary["meetings"] == 15 and sum(summary["grades"].values()) == 15
    light = cluster.tally.results({"meeting_id": loaded["meetings"][0]})
    assert light["community"] == "光明社区" and light["closing"]["returned"] == 60
    published = [e for e in cluster.dependency.log.read_all() if e.type == "ResultsPublished"]
    assert len(published) == 15

    before = cluster.read_models()
    cluster.dependency.runner.rebuild()
    assert cluster.read_models() == before, "a rebuild from position 0 yields the same documents"
    assert len([e for e in cluster.dependency.log.read_all() if e.type == "ResultsPublished"]) == 15


def test_while_open_the_board_shows_turnout_only_and_results_exist_from_the_close(
    cluster: Cluster,
) -> None:
    campaign_id, meeting_id = satisfied_three(cluster)

    cluster.settled(lambda: cluster.tally.board({"meeting_id": meeting_id})["returned"] == 3)
    board = cluster.tally.board({"meeting_id": meeting_id})
    assert {k: board[k] for k in ("phase", "checked_in", "quorum", "issued", "returned")} == {
        "phase": "open",
        "checked_in": 52,
        "quorum": 50,
        "issued": 52,
        "returned": 3,
    }
    with pytest.raises(NotFound):
        cluster.tally.results({"meeting_id": meeting_id})
    assert not any(document for document in cluster.read_models()["results"])

    cluster.ballot.close_voting({"meeting_id": meeting_id})
    cluster.settled(lambda: cluster.tally.board({"meeting_id": meeting_id})["phase"] == "closed")
    results = cluster.tally.results({"meeting_id": meeting_id})
    committee = results["results"]["subjects"][0]
    assert committee["dimensions"][0]["counts"] == {"满意": 3, "基本满意": 0, "不满意": 0}
    assert committee["rates"]["satisfaction"]["percent"] == "100.00"
    assert results["source_position"] > 0 and len(results["source_hash"]) == 64
    cluster.ballot.record_assessment(
        {
            "campaign_id": campaign_id,
            "community": "光明社区",
            "score": 70,
            "assessor": "区委",
            "basis": "考评",
        }
    )
    cluster.settled(lambda: bool(cluster.tally.grades({"campaign_id": campaign_id})["grades"]))
    [grade] = cluster.tally.grades({"campaign_id": campaign_id})["grades"]
    assert (grade["composite"], grade["grade"], grade["movement"]) == ("88.00", "标准", "first")


def test_a_voided_meetings_results_leave_the_grade_and_the_summary_which_says_so(
    cluster: Cluster,
) -> None:
    campaign_id, meeting_id = satisfied_three(cluster)
    graded(cluster, campaign_id, meeting_id)
    campaign = {"campaign_id": campaign_id}

    cluster.ballot.void_meeting({"meeting_id": meeting_id, "reason": "唱票时发现选票被调换"})

    cluster.settled(lambda: cluster.tally.summary(campaign)["meetings"] == 0)
    summary = cluster.tally.summary(campaign)
    assert summary["voided"] == [
        {"meeting_id": meeting_id, "community": "光明社区", "reason": "唱票时发现选票被调换"}
    ]
    assert summary["pooled"]["committees"]["valid"] == 0
    assert cluster.tally.grades(campaign)["grades"] == []


def test_duplicated_and_reordered_deliveries_change_nothing(cluster: Cluster) -> None:
    _, meeting_id, tokens = small_meeting(cluster)
    for token in tokens[:5]:
        cluster.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": []})
    cluster.ballot.close_voting({"meeting_id": meeting_id})
    cluster.settled(lambda: cluster.tally.board({"meeting_id": meeting_id})["phase"] == "closed")
    before = cluster.read_models()
    events = [
        from_cloudevent(e) for e in cluster.ballot.read_log({"after": 0, "limit": 1000})["events"]
    ]
    replay = events * 2
    random.Random(7).shuffle(replay)

    applied = sum(cluster.dependency.runner.deliver(event) for event in replay)

    assert applied == 0
    assert cluster.read_models() == before


def test_a_ballot_edited_in_place_while_open_is_refused_at_the_close_and_alerted(
    cluster: Cluster, nameko_config: dict[str, Any]
) -> None:
    _, meeting_id, tokens = small_meeting(cluster)
    for token, value in zip(tokens[:3], ["不满意", "满意", "满意"], strict=True):
        marks = [{"subject": "committee-1", "dimension": "社区服务", "value": value}]
        cluster.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
    ballot_db = cluster.dependency.client[f"{nameko_config['QUNPING_DB_PREFIX']}ballot"]
    edited = ballot_db["events"].update_one(
        {"events.type": "BallotCast", "events.data.marks.value": "不满意"},
        {"$set": {"events.$[ballot].data.marks.0.value": "满意"}},
        array_filters=[{"ballot.type": "BallotCast", "ballot.data.marks.value": "不满意"}],
    )
    assert edited.modified_count == 1

    cluster.ballot.close_voting({"meeting_id": meeting_id})

    def alerts() -> list[Any]:
        feed = cluster.tally.public_feed({"after": 0, "limit": 500})["events"]
        return [e for e in feed if e["type"] == "qunping.tally.TamperDetected"]

    cluster.settled(lambda: bool(alerts()))
    [alert] = alerts()
    assert alert["data"]["log"] == "ballot" and alert["data"]["problem"] == "altered"
    assert alert["data"]["detected_by"] == "tally"
    registry = service_metrics(cluster.dependency.container).registry
    assert registry.get_sample_value("qunping_tamper_alerts_total", {"log": "tally"}) == 1
    with pytest.raises(NotFound):
        cluster.tally.results({"meeting_id": meeting_id})
    assert not [e for e in cluster.dependency.log.read_all() if e.type == "ResultsPublished"]
    assert cluster.dependency.runner.halted() is not None


def test_a_meeting_under_the_alert_threshold_raises_a_district_alert(cluster: Cluster) -> None:
    _, meeting_id, tokens = small_meeting(cluster)
    for token, value in zip(tokens[:4], ["不满意", "不满意", "满意", "不满意"], strict=True):
        marks = [{"subject": "committee-1", "dimension": "社区服务", "value": value}]
        cluster.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})

    cluster.ballot.close_voting({"meeting_id": meeting_id})

    cluster.settled(lambda: any(e.type == "AlertRaised" for e in cluster.dependency.log.read_all()))
    [alert] = [e for e in cluster.dependency.log.read_all() if e.type == "AlertRaised"]
    assert (alert.data["meeting_id"], alert.data["community"]) == (meeting_id, "光明社区")
    assert alert.data["headline"] == "满意率低于预警线"
    assert "satisfaction 25.00% < 80%" in alert.data["details"]


def test_no_float_and_no_long_decimal_leaves_the_tally(cluster: Cluster) -> None:
    campaign_id = None
    meetings = []
    # Committee rates of 1/3, 1/3 and 2/3: their mean, 44.44...%, has no end in decimals.
    for community, values in [
        ("光明社区", ["满意", "不满意", "不满意"]),
        ("太平桥社区", ["基本满意", "不满意", "不满意"]),
        ("文山社区", ["满意", "满意", "不满意"]),
    ]:
        campaign_id, meeting_id, tokens = small_meeting(cluster, campaign_id, community)
        for token, value in zip(tokens, values, strict=False):
            marks = [{"subject": "committee-1", "dimension": "社区服务", "value": value}]
            cluster.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
        cluster.ballot.close_voting({"meeting_id": meeting_id})
        cluster.ballot.record_assessment(
            {"campaign_id": campaign_id, "community": community, "score": 85,
             "assessor": "区委", "basis": "考评"}
        )  # fmt: skip
        meetings.append(meeting_id)
    assert campaign_id is not None
    campaign = {"campaign_id": campaign_id}
    cluster.settled(lambda: len(cluster.tally.grades(campaign)["grades"]) == 3)

    summary = cluster.tally.summary(campaign)
    answers = {
        "summary": summary,
        "grades": cluster.tally.grades(campaign),
        **{f"results {m}": cluster.tally.results({"meeting_id": m}) for m in meetings},
    }

    assert summary["mean_of_communities"]["committees"] == "44.44"
    inexact = [found for name, answer in answers.items() for found in inexact_numbers(answer, name)]
    assert not inexact, inexact


EXACT_DECIMAL = re.compile(r"^-?\d+(\.\d{1,2})?$")
LOOKS_NUMERIC = re.compile(r"^-?\d+[.,/]\d")


def inexact_numbers(value: Any, path: str) -> list[str]:
    """Floats, and numbers in text with more than two decimals, wherever they are."""
    if isinstance(value, float):
        return [f"{path}: float {value!r}"]
    if isinstance(value, str) and LOOKS_NUMERIC.match(value) and not EXACT_DECIMAL.match(value):
        return [f"{path}: {value!r}"]
    if isinstance(value, dict):
        return [f for key, item in value.items() for f in inexact_numbers(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [f for i, item in enumerate(value) for f in inexact_numbers(item, f"{path}[{i}]")]
    return []


def test_the_previous_grade_is_the_same_districts_community_not_a_namesake_elsewhere(
    cluster: Cluster,
) -> None:
    def graded_in(district: str, year: int) -> dict[str, Any]:
        campaign = {"district": district, "year": year, "batch": "试点"}
        campaign_id = cluster.ballot.create_campaign(campaign)["campaign_id"]
        return graded(cluster, *satisfied_three(cluster, campaign_id))

    first = graded_in("吉州区", 2011)
    namesake = graded_in("青原区", 2012)
    again = graded_in("吉州区", 2012)

    assert (first["previous_grade"], first["movement"]) == (None, "first")
    assert (namesake["previous_grade"], namesake["movement"]) == (None, "first")
    assert (again["previous_grade"], again["movement"]) == ("标准", "kept")
