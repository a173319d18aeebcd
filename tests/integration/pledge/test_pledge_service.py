"""The pledge cycle through the real ballot, tally and pledge services on RabbitMQ and MongoDB."""

import base64
import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from kombu.connection import Connection
from nameko.standalone.rpc import ClusterRpcProxy
from openpyxl.worksheet.worksheet import Worksheet

from qunping.core.errors import InvalidInput, NotFound, Refused
from qunping.operator.cli import cli
from qunping.operator.contract import REGISTRIES, public_event_schemas
from services.ballot.service import BallotService
from services.pledge.dependencies import PledgeDependency
from services.pledge.service import PledgeService
from services.tally.service import TallyService
from tests.actors import Acting

QUORUM = 3
IN_WINDOW = date(2026, 12, 5)
UNIT = {
    "district": "吉州区",
    "community": "光明社区",
    "name": "吉州区实验小学",
    "kind": "学校",
    "contact": {"person": "李老师", "phone": "0796-8220000", "email": "li@school.cn"},
}
LETTER: dict[str, Any] = {
    "year": 2026,
    "period_start": "2026-01-01",
    "period_end": "2026-12-31",
    "report_from": "2026-12-01",
    "report_until": "2026-12-20",
    "items": [
        {
            "side": "community",
            "title": "开放社区活动室",
            "target": "每月 4 次",
            "due_date": "2026-12-10",
        },
        {"side": "unit", "title": "开放学校操场", "target": "每周末开放", "due_date": "2026-12-15"},
        {"side": "unit", "title": "志愿服务", "target": "全年 200 小时", "due_date": "2026-12-20"},
    ],
}
MEETING = {
    "street": "古南街道",
    "starts_at": "2026-12-25T09:00:00+08:00",
    "place": "社区会议室",
    "expected_participants": QUORUM,
}
DIMENSIONS = ["承诺内容", "履诺情况", "群众满意度"]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def stored_results(cluster: Any, meeting_id: str) -> Any:
    try:
        return cluster.tally.results({"meeting_id": meeting_id})
    except NotFound:
        return None


class Cluster:
    def __init__(self, proxy: Any, factory: Callable[..., Any], config: dict[str, Any]) -> None:
        self.ballot, self.tally = Acting(proxy.ballot), proxy.tally
        self.pledge = Acting(proxy.pledge)
        self._factory, self._config = factory, config
        self.container = self.start_pledge()

    def start_pledge(self) -> Any:
        container = self._factory(PledgeService, self._config)
        self.dependency(container).clock = lambda: IN_WINDOW
        container.start()
        return container

    @staticmethod
    def dependency(container: Any) -> PledgeDependency:
        return next(e for e in container.extensions if isinstance(e, PledgeDependency))

    def log_events(self, event_type: str | None = None) -> list[Any]:
        events = self.dependency(self.container).log.read_all()
        return [e for e in events if event_type is None or e.type == event_type]

    def pledge_in_force(self) -> str:
        unit_id = self.pledge.register_unit(UNIT)["unit_id"]
        pledge_id = self.pledge.draft_pledge({**LETTER, "unit_id": unit_id})["pledge_id"]
        self.pledge.sign_pledge(
            {"pledge_id": pledge_id, "version": 1, "side": "community", "representative": "王书记"}
        )
        signed = self.pledge.sign_pledge(
            {"pledge_id": pledge_id, "version": 1, "side": "unit", "representative": "张校长"}
        )
        assert signed["status"] == "in_force"
        return str(pledge_id)

    def run_meeting(self, meeting_id: str, ballots: list[dict[str, str]]) -> None:
        """Check-in, tokens, casting and close through ballot, as the organiser does."""
        for n in range(max(QUORUM, len(ballots))):
            self.ballot.check_in(
                {"meeting_id": meeting_id, "name": f"代表{n}", "category": "party_member"}
            )
        tokens = self.ballot.issue_tokens({"meeting_id": meeting_id, "count": len(ballots)})
        self.ballot.open_voting({"meeting_id": meeting_id})
        for token, values in zip(tokens["tokens"], ballots, strict=True):
            marks = [
                {"subject": subject, "dimension": dimension, "value": values[subject]}
                for subject in ("pledge_community-1", "pledge_unit-1")
                for dimension in DIMENSIONS
            ]
            self.ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
        self.ballot.close_voting({"meeting_id": meeting_id})

    def evaluation(self, pledge_id: str) -> dict[str, Any]:
        return self.pledge.pledge_detail({"pledge_id": pledge_id})["evaluation"]  # type: ignore[no-any-return]


BALLOTS = [
    {"pledge_community-1": "满意", "pledge_unit-1": "满意"},
    {"pledge_community-1": "满意", "pledge_unit-1": "基本满意"},
    {"pledge_community-1": "基本满意", "pledge_unit-1": "不满意"},
    {"pledge_community-1": "不满意", "pledge_unit-1": "不满意"},
]


@pytest.fixture
def cluster(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> Iterator[Cluster]:
    config = {**nameko_config, "QUNPING_PLEDGE_QUORUM": str(QUORUM)}
    container_factory(BallotService, config).start()
    container_factory(TallyService, config).start()
    with ClusterRpcProxy(config, timeout=60) as proxy:
        yield Cluster(proxy, container_factory, config)


def test_register_pledge_sign_report_evaluate_by_ballot_and_export_the_year_end_assessment(
    cluster: Cluster, amqp_uri: str, tmp_path: Path
) -> None:
    pledge_id = cluster.pledge_in_force()
    for item_id, side, status in (
        ("community-1", "community", "done"),
        ("unit-1", "unit", "partly"),
        ("unit-2", "unit", "not_done"),
    ):
        cluster.pledge.report_item(
            {
                "pledge_id": pledge_id,
                "item_id": item_id,
                "side": side,
                "status": status,
                "evidence": "活动台账与照片",
                "links": ["https://jizhou.gov.cn/evidence/1"],
            }
        )
    started = cluster.pledge.start_evaluation({"pledge_id": pledge_id, **MEETING})
    assert [s["kind"] for s in started["subjects"]] == ["pledge_community", "pledge_unit"]
    campaign = cluster.ballot.get_campaign({"campaign_id": started["campaign_id"]})
    assert campaign["batch"] == "双诺双述双评"
    assert campaign["policy"]["quorum"]["min_present"] == QUORUM

    cluster.run_meeting(started["meeting_id"], BALLOTS)

    results = wait_for(lambda: cluster.evaluation(pledge_id)["results"], "results recorded")
    # 4 ballots × 3 dimensions: the community 9 favourable of 12 valid, the unit 6 of 12.
    assert results["community"]["satisfaction"] == {
        "favourable": 9,
        "valid": 12,
        "percent": "75.00",
    }
    assert results["unit"]["satisfaction"] == {"favourable": 6, "valid": 12, "percent": "50.00"}
    # The pledge may hear of the results before the tally's own answer has them stored.
    published = wait_for(lambda: stored_results(cluster, started["meeting_id"]), "tally results")
    assert published["community"] == "光明社区"  # announced on the spot like any meeting
    # The tally takes a campaign of other subject kinds in its stride: no grade (no
    # committee, no superior assessment), no alert, the meeting counted in its summary.
    summary = cluster.tally.summary({"campaign_id": started["campaign_id"]})
    assert (summary["meetings"], summary["grades"], summary["flagged"]) == (1, {}, [])
    assert cluster.pledge.list_pledges({"status": "evaluated"})["pledges"][0]["pledge_id"] == (
        pledge_id
    )

    exported = cluster.pledge.export({"district": "吉州区", "year": 2026, "format": "xlsx"})
    assert exported["file_name"] == "吉州区-2026-双诺双述双评年终考核.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(exported["content_base64"])))
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    assert sheet.freeze_panes == "A2"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:8] == [
        "年度",
        "区县",
        "社区",
        "驻区单位",
        "单位类别",
        "承诺书编号",
        "生效版本",
        "状态",
    ]
    assert rows[1] == [
        2026,
        "吉州区",
        "光明社区",
        "吉州区实验小学",
        "学校",
        pledge_id,
        1,
        "已测评",
        *[1, 1, 0, 0, 0, 0, 75.0, 12],  # community: items, done, partly, not done, unreported…
        *[2, 0, 1, 1, 0, 0, 50.0, 12],  # unit
        started["meeting_id"],
    ]
    assert len(rows) == 2

    as_csv = cluster.pledge.export({"district": "吉州区", "year": 2026, "format": "csv"})
    content = base64.b64decode(as_csv["content_base64"])
    assert content.startswith(b"\xef\xbb\xbf")
    read_back = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert read_back[1][-3:-1] == ["50.00", "12"]
    assert read_back[1][:3] == ["2026", "吉州区", "光明社区"]

    out = tmp_path / "考核.csv"
    command = ["pledge", "export", "--district", "吉州区", "--year", "2026", "--format", "csv"]
    ran = CliRunner().invoke(cli, [*command, "--out", str(out)], env={"AMQP_URI": amqp_uri})
    assert ran.exit_code == 0, ran.output
    assert out.read_bytes() == content

    feed = cluster.pledge.public_feed({"after": 0, "limit": 500})["events"]
    validators = {
        f"qunping.{log}.{event_type}": Draft202012Validator(schema)
        for (log, event_type, _), schema in public_event_schemas(REGISTRIES).items()
    }
    assert {event["type"] for event in feed} >= {
        "qunping.pledge.PledgeInForce",
        "qunping.pledge.ItemReported",
        "qunping.pledge.EvaluationRecorded",
    }
    for event in feed:
        assert list(validators[event["type"]].iter_errors(event)) == [], event["type"]


@pytest.mark.parametrize("message_lost", [False, True], ids=["redelivered", "caught_up"])
def test_the_evaluation_saga_survives_a_restart_between_started_and_results_published(
    cluster: Cluster, amqp_uri: str, message_lost: bool
) -> None:
    pledge_id = cluster.pledge_in_force()
    started = cluster.pledge.start_evaluation({"pledge_id": pledge_id, **MEETING})
    queues = [e.queue.name for e in cluster.container.entrypoints if getattr(e, "queue", None)]
    cluster.container.stop()

    cluster.run_meeting(started["meeting_id"], BALLOTS)
    wait_for(lambda: published(cluster, started["meeting_id"]), "the tally's results")
    if message_lost:
        with Connection(amqp_uri) as connection:
            for name in queues:
                connection.default_channel.queue_purge(name)

    cluster.container = cluster.start_pledge()
    wait_for(lambda: cluster.evaluation(pledge_id)["results"], "results recorded after restart")
    time.sleep(1)  # give a redelivered message and the next sweep their chance to double
    assert len(cluster.log_events("EvaluationRecorded")) == 1


def published(cluster: Cluster, meeting_id: str) -> bool:
    try:
        return bool(cluster.tally.results({"meeting_id": meeting_id}))
    except NotFound:
        return False


def test_a_voided_and_rerun_evaluation_meeting_still_ends_recorded(cluster: Cluster) -> None:
    pledge_id = cluster.pledge_in_force()
    first = cluster.pledge.start_evaluation({"pledge_id": pledge_id, **MEETING})
    with pytest.raises(Refused, match="re-run it only once"):
        cluster.pledge.start_evaluation({"pledge_id": pledge_id, **MEETING})
    with pytest.raises(Refused, match="rule 3, one live meeting"):
        cluster.pledge.rerun_evaluation({"pledge_id": pledge_id, **MEETING})
    cluster.ballot.void_meeting({"meeting_id": first["meeting_id"], "reason": "会场秩序混乱"})

    rerun = cluster.pledge.rerun_evaluation({"pledge_id": pledge_id, **MEETING})
    assert rerun["campaign_id"] == first["campaign_id"]  # one campaign per district and year
    cluster.run_meeting(rerun["meeting_id"], BALLOTS[:3])

    wait_for(lambda: cluster.evaluation(pledge_id)["results"], "the re-run's results recorded")
    evaluation = cluster.evaluation(pledge_id)
    assert evaluation["meeting_id"] == rerun["meeting_id"]
    assert evaluation["rerun_of"] == first["meeting_id"]


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("register_unit", {**UNIT, "name": {"$gt": ""}}, "name"),
        ("register_unit", {**UNIT, "contact": {"person": "李", "phone": "x"}}, "contact"),
        ("register_unit", {**UNIT, "owner": "x"}, "owner"),
        ("draft_pledge", {**LETTER, "unit_id": "0" * 16, "year": "2026"}, "year"),
        ("draft_pledge", {**LETTER, "unit_id": "0" * 16, "items": [{"side": "both"}]}, "items"),
        ("list_pledges", {"district": {"$ne": None}}, "district"),
        ("export", {"district": "吉州区", "year": 2026, "format": "pdf"}, "format"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_is_written(
    cluster: Cluster, method: str, payload: dict[str, Any], field: str
) -> None:
    before = len(cluster.log_events())
    with pytest.raises(InvalidInput) as refused:
        getattr(cluster.pledge, method)(payload)
    assert field in refused.value.messages
    assert len(cluster.log_events()) == before


def test_refused_reports_change_nothing(cluster: Cluster) -> None:
    pledge_id = cluster.pledge_in_force()
    report = {
        "pledge_id": pledge_id,
        "item_id": "unit-1",
        "side": "unit",
        "status": "done",
        "evidence": "台账",
    }
    cluster.pledge.report_item(report)
    before = len(cluster.log_events())
    for refused, reason in (
        (report, "already reported on"),
        ({**report, "item_id": "unit-7"}, "no item 'unit-7'"),
    ):
        with pytest.raises(Refused, match=reason):
            cluster.pledge.report_item(refused)
    cluster.dependency(cluster.container).clock = lambda: date(2026, 11, 30)
    with pytest.raises(Refused, match="outside the reporting window"):
        cluster.pledge.report_item({**report, "item_id": "unit-2"})
    assert len(cluster.log_events()) == before


def test_an_amendment_is_signed_again_and_every_version_stays_in_the_log(
    cluster: Cluster,
) -> None:
    pledge_id = cluster.pledge_in_force()
    items = [*LETTER["items"], {**LETTER["items"][0], "title": "开放社区图书室"}]
    period = {
        key: LETTER[key] for key in ("period_start", "period_end", "report_from", "report_until")
    }
    amended = cluster.pledge.amend_pledge(
        {"pledge_id": pledge_id, "reason": "增加图书室开放", **period, "items": items}
    )
    assert amended["version"] == 2
    detail = cluster.pledge.pledge_detail({"pledge_id": pledge_id})
    assert (detail["status"], detail["in_force_version"]) == ("in_force_amendment_pending", 1)
    assert len(detail["letter"]["items"]) == 3
    for side, representative in (("community", "王书记"), ("unit", "张校长")):
        cluster.pledge.sign_pledge(
            {"pledge_id": pledge_id, "version": 2, "side": side, "representative": representative}
        )

    detail = cluster.pledge.pledge_detail({"pledge_id": pledge_id})
    assert (detail["status"], detail["in_force_version"]) == ("in_force", 2)
    assert [v["signatures"] for v in detail["versions"]] == [
        {"community": "王书记", "unit": "张校长"}
    ] * 2
    assert [e.type for e in cluster.log_events() if e.stream == f"pledge-{pledge_id}"] == [
        "PledgeDrafted",
        "PledgeSigned",
        "PledgeSigned",
        "PledgeInForce",
        "PledgeAmended",
        "PledgeSigned",
        "PledgeSigned",
        "PledgeInForce",
    ]
