"""E-mail notices through a real SMTP server (aiosmtpd), with credentials."""

import json
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_string, policy
from pathlib import Path
from typing import Any

import pytest

from qunping import infra
from tests.integration.notify.helpers import announcement, wait_until

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


def test_published_results_are_mailed_in_chinese_to_the_communitys_contacts(
    start_notify: Any, smtp_sink: SmtpSink
) -> None:
    notify = start_notify(
        QUNPING_SMTP_HOST="127.0.0.1",
        QUNPING_SMTP_PORT=str(smtp_sink.port),
        QUNPING_SMTP_SECURITY="none",
        QUNPING_SMTP_USER=USER,
        QUNPING_SMTP_PASSWORD=PASSWORD,
        QUNPING_SMTP_FROM="qunping@jizhou.gov.cn",
    )
    contacts = ["shequ@guangming.cn", "shuji@guangming.cn"]
    notify.set_community_contacts({"community": "guangming", "emails": contacts})
    notify.set_community_contacts({"community": "other", "emails": ["x@other.cn"]})

    notify.publish_announcement(announcement(1, "notice"))  # no rule mails a plain notice
    notify.publish_announcement(
        {**announcement(2, "results"), "title": "2011年度测评结果", "body": "满意率 95.94%"}
    )
    [mail] = wait_until(smtp_sink.messages, what="the e-mail")
    message = message_from_string(mail["data"], policy=policy.default)

    assert sorted(mail["rcpt_tos"]) == contacts
    assert mail["login"] == USER
    assert mail["mail_from"] == "qunping@jizhou.gov.cn"
    assert message["Subject"] == "【群评】guangming 测评结果公示：2011年度测评结果"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "guangming 的测评结果已经公示" in body
    assert "满意率 95.94%" in body
    assert "请勿直接回复" in body
    [sent] = wait_until(lambda: notify.emails({"status": "sent"}), what="the record")
    assert sent["rule"] == "results_published"
    assert len(notify.emails({})) == 1
