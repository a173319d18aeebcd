"""E-mail notices through a real SMTP server (aiosmtpd), with credentials."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import kombu
import pytest

from qunping.core.envelope import NewEvent, json_bytes, to_cloudevent
from qunping.core.memory_eventlog import InMemoryEventLog
from qunping.operator import infra
from tests.integration.notify.helpers import DISTRICT, announcement, wait_until

ROOT = Path(__file__).resolve().parents[3]
USER, PASSWORD = "qunping", "smtp-password-from-env"


class SmtpSink:
    def __init__(self, port: int, out: Path) -> None:
        self.port = port
        self.out = out

    def messages(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(infra.free_port(), tmp_path / "mail.jsonl")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.notify.smtp_sink",
            str(sink.port),
            str(sink.out),
            USER,
            PASSWORD,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"ready"
    yield sink
    process.terminate()
    process.wait(timeout=10)


def smtp_config(sink: SmtpSink) -> dict[str, str]:
    return {
        "QUNPING_SMTP_HOST": "127.0.0.1",
        "QUNPING_SMTP_PORT": str(sink.port),
        "QUNPING_SMTP_SECURITY": "none",
        "QUNPING_SMTP_USER": USER,
        "QUNPING_SMTP_PASSWORD": PASSWORD,
        "QUNPING_SMTP_FROM": "qunping@jizhou.gov.cn",
    }


@pytest.fixture
def mailing_notify(start_notify: Any, smtp_sink: SmtpSink) -> Any:
    return start_notify(**smtp_config(smtp_sink))


def test_a_meeting_announcement_is_mailed_in_chinese_to_the_communitys_contacts(
    mailing_notify: Any, smtp_sink: SmtpSink
) -> None:
    notify = mailing_notify
    contacts = ["shequ@guangming.cn", "shuji@guangming.cn"]
    notify.set_community_contacts(
        {"district": DISTRICT, "community": "光明社区", "emails": contacts}
    )
    notify.set_community_contacts(
        {"district": DISTRICT, "community": "other", "emails": ["x@other.cn"]}
    )

    notify.publish_announcement(announcement(1, "notice"))  # no rule mails a plain notice
    notify.publish_announcement(
        {**announcement(2, "meeting"), "title": "2011年度测评会", "body": "10月12日上午9:30"}
    )
    [mail] = wait_until(smtp_sink.messages, what="the e-mail")
    message = message_from_string(mail["data"], policy=policy.default)

    assert sorted(mail["rcpt_tos"]) == contacts
    assert mail["login"] == USER
    assert mail["mail_from"] == "qunping@jizhou.gov.cn"
    assert message["Subject"] == "【群评】光明社区 测评会通知：2011年度测评会"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "光明社区 将召开测评会" in body
    assert "10月12日上午9:30" in body
    assert "请勿直接回复" in body
    [sent] = wait_until(lambda: notify.emails({"status": "sent"}), what="the record")
    assert sent["rule"] == "meeting_announced"
    assert len(notify.emails({})) == 1


def test_a_tallys_published_results_are_mailed_to_the_communitys_contacts(
    mailing_notify: Any, smtp_sink: SmtpSink, nameko_config: dict[str, Any]
) -> None:
    notify = mailing_notify
    notify.set_community_contacts(
        {"district": DISTRICT, "community": "长塘社区", "emails": ["shequ@changtang.cn"]}
    )
    # Another district's 长塘社区 has contacts of its own, who hear nothing of this one.
    notify.set_community_contacts(
        {"district": "青原区", "community": "长塘社区", "emails": ["shequ@qingyuan.cn"]}
    )
    # What the ballot and tally relays publish (the form is the contract's): the campaign
    # names its district, the results name their campaign.
    ballot_log, tally_log = InMemoryEventLog("ballot"), InMemoryEventLog("tally")
    campaign_id = "c0ffee0000000000"
    [campaign] = ballot_log.append(
        f"campaign-{campaign_id}",
        [
            NewEvent(
                "CampaignCreated",
                {"campaign_id": campaign_id, "district": DISTRICT, "year": 2011},
            )
        ],
    )
    [event] = tally_log.append(
        "results-3f2a9c4100000000",
        [
            NewEvent(
                "ResultsPublished",
                {
                    "meeting_id": "3f2a9c4100000000",
                    "campaign_id": campaign_id,
                    "community": "长塘社区",
                    "policy_hash": "ab" * 32,
                    "results": {},
                },
            )
        ],
    )
    with kombu.Connection(nameko_config["AMQP_URI"]) as connection:
        for routing_key, published in (
            ("ballot.CampaignCreated", campaign),
            ("tally.ResultsPublished", event),
        ):
            connection.Producer().publish(
                json_bytes(to_cloudevent(published)),
                exchange="qunping.public",
                routing_key=routing_key,
                content_type="application/cloudevents+json",
                content_encoding="utf-8",
            )
    [mail] = wait_until(smtp_sink.messages, what="the e-mail")
    message = message_from_string(mail["data"], policy=policy.default)

    assert mail["rcpt_tos"] == ["shequ@changtang.cn"]
    assert message["Subject"] == "【群评】长塘社区 测评结果已当场公布"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "长塘社区 的测评会（编号 3f2a9c4100000000）已经闭会" in body


def test_a_meeting_under_the_alert_threshold_is_mailed_to_its_districts_alert_addresses_only(
    start_notify: Any,
    smtp_sink: SmtpSink,
    container_factory: Any,
    nameko_config: dict[str, Any],
) -> None:
    """Through the real services: ballots cast, voting closed, the tally raises the alert,
    notify mails that district's alert addresses, neither another district's nor the
    platform's."""
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.ballot.service import BallotService
    from services.tally.service import TallyService
    from tests.actors import Acting

    notify = start_notify(**smtp_config(smtp_sink), QUNPING_DISTRICT_EMAILS="ops@platform.cn")
    notify.set_district_contacts(
        {"district": "吉州区", "emails": ["zuzhibu@jizhou.gov.cn", "jiwei@jizhou.gov.cn"]}
    )
    notify.set_district_contacts({"district": "青原区", "emails": ["zuzhibu@qingyuan.gov.cn"]})
    container_factory(BallotService, nameko_config).start()
    container_factory(TallyService, nameko_config).start()
    with ClusterRpcProxy(nameko_config, timeout=60) as cluster:
        ballot = Acting(cluster.ballot)
        campaign_id = ballot.create_campaign(
            {"district": "吉州区", "year": 2012, "batch": "第二批"}
        )["campaign_id"]
        meeting_id = ballot.schedule_meeting(
            {
                "campaign_id": campaign_id,
                "community": "白塘社区",
                "street": "白塘街道",
                "starts_at": "2012-10-12T09:00:00+08:00",
                "place": "会议室",
                "expected_participants": 50,
                "subjects": [{"kind": "committee"}, {"kind": "secretary", "name": "周志刚"}],
            }
        )["meeting_id"]
        for n in range(50):
            ballot.check_in({"meeting_id": meeting_id, "name": f"代表{n}", "category": "resident"})
        tokens = ballot.issue_tokens({"meeting_id": meeting_id, "count": 2})["tokens"]
        ballot.open_voting({"meeting_id": meeting_id})
        for token in tokens:
            marks = [{"subject": "committee-1", "dimension": "总体评价", "value": "不满意"}]
            ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
        ballot.close_voting({"meeting_id": meeting_id})

        [mail] = wait_until(smtp_sink.messages, what="the alert e-mail", timeout=60)

    message = message_from_string(mail["data"], policy=policy.default)
    assert sorted(mail["rcpt_tos"]) == ["jiwei@jizhou.gov.cn", "zuzhibu@jizhou.gov.cn"]
    time.sleep(1)  # no copy follows to anyone else
    assert len(smtp_sink.messages()) == 1
    assert message["Subject"] == "【群评】预警：白塘社区 满意率低于预警线"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "社区两委班子（社区）：satisfaction 0.00% < 80%" in body


def test_a_pledge_item_past_due_without_a_report_is_mailed_once_to_the_communitys_contacts(
    mailing_notify: Any, smtp_sink: SmtpSink, container_factory: Any, nameko_config: dict[str, Any]
) -> None:
    """Through the real pledge service: its timer raises the overdue item, notify mails it."""
    from datetime import date

    from nameko.standalone.rpc import ClusterRpcProxy

    from services.pledge.dependencies import PledgeDependency
    from services.pledge.service import PledgeService

    mailing_notify.set_community_contacts(
        {"district": "吉州区", "community": "光明社区", "emails": ["sq@gm.cn"]}
    )
    container = container_factory(PledgeService, nameko_config)
    dependency = next(e for e in container.extensions if isinstance(e, PledgeDependency))
    dependency.clock = lambda: date(2026, 6, 1)
    container.start()
    with ClusterRpcProxy(nameko_config, timeout=60) as cluster:
        pledge = cluster.pledge
        unit_id = pledge.register_unit(
            {
                "district": "吉州区",
                "community": "光明社区",
                "name": "吉安市第一中学",
                "kind": "学校",
                "contact": {"person": "赵主任", "phone": "0796-8230000"},
            }
        )["unit_id"]
        item = {"target": "每周末开放", "due_date": "2026-06-30"}
        pledge_id = pledge.draft_pledge(
            {
                "unit_id": unit_id,
                "year": 2026,
                "period_start": "2026-01-01",
                "period_end": "2026-12-31",
                "report_from": "2026-12-01",
                "report_until": "2026-12-20",
                "items": [
                    {**item, "side": "community", "title": "开放活动室", "due_date": "2026-09-30"},
                    {**item, "side": "unit", "title": "开放学校操场"},
                ],
            }
        )["pledge_id"]
        for side, representative in (("community", "王书记"), ("unit", "张校长")):
            pledge.sign_pledge(
                {
                    "pledge_id": pledge_id,
                    "version": 1,
                    "side": side,
                    "representative": representative,
                }
            )
        dependency.clock = lambda: date(2026, 7, 1)

        [mail] = wait_until(smtp_sink.messages, what="the overdue e-mail", timeout=30)
        [overdue] = pledge.overdue_items({"community": "光明社区"})["items"]

    assert overdue["item"]["item_id"] == "unit-1"
    message = message_from_string(mail["data"], policy=policy.default)
    assert mail["rcpt_tos"] == ["sq@gm.cn"]
    assert message["Subject"] == "【群评】承诺事项逾期提醒：开放学校操场"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "吉安市第一中学 在 光明社区 的承诺事项“开放学校操场”已超过承诺期限（2026-06-30）" in body
    time.sleep(6)  # a further sweep of the timer must not raise the item again
    assert len(smtp_sink.messages()) == 1
