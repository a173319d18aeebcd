"""E-mail notices: which event sends which Chinese template to whom, as data; and SMTP.

`EMAIL_RULES` maps a public routing key (plus conditions on the payload) to a template and
a recipient list. Only events that exist today have rules; the templates for triggers
whose events other services have yet to define are here already, so adding one is a line
in `EMAIL_RULES` (see README, "E-mail").
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Literal

Recipients = Literal["community_contacts", "district"]


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    subject: str
    body: str

    def render(self, data: Mapping[str, Any]) -> tuple[str, str]:
        """Subject and body with `{field}`s of the event's data filled in."""
        return self.subject.format_map(data), self.body.format_map(data)


FOOTER = "\n\n——\n此邮件由群评（社区工作群众评）系统自动发送，请勿直接回复。\n"

TEMPLATES: dict[str, EmailTemplate] = {
    "meeting_results": EmailTemplate(
        subject="【群评】{community} 测评结果已当场公布",
        body=(
            "您好：\n\n{community} 的测评会（编号 {meeting_id}）已经闭会，测评结果已当场公布。"
            "结果按测评政策 {policy_hash} 计算，详细数据请在公示栏查看。" + FOOTER
        ),
    ),
    "meeting_announced": EmailTemplate(
        subject="【群评】{community} 测评会通知：{title}",
        body="您好：\n\n{community} 将召开测评会，请准时参加。\n\n{title}\n\n{body}" + FOOTER,
    ),
    "pledge_item_overdue": EmailTemplate(
        subject="【群评】承诺事项逾期提醒：{item_title}",
        body=(
            "您好：\n\n{unit} 在 {community} 的承诺事项“{item_title}”已超过承诺期限"
            "（{due_date}），尚未报告完成。请尽快落实并报告进展。" + FOOTER
        ),
    ),
    "district_alert": EmailTemplate(
        subject="【群评】预警：{community} {headline}",
        body=(
            "区委组织部：\n\n{community} 的测评会出现需要关注的情况：\n\n{details}\n\n"
            "请及时了解情况并跟进。" + FOOTER
        ),
    ),
    "tamper_detected": EmailTemplate(
        subject="【群评】篡改警报：{log} 日志第 {position} 条记录",
        body=(
            "区委组织部、区纪委：\n\n{detected_by} 发现 {log} 日志第 {position} 条记录"
            "（{problem}）：{detail}\n\n有关统计已停止，未公布任何结果。"
            "请立即运行 qunping audit verify 核查，并用外部保存的签名检查点比对。" + FOOTER
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class EmailRule:
    name: str
    routing_key: str
    template: str
    recipients: Recipients
    when: Mapping[str, Any] = field(default_factory=dict)
    """Payload fields that must have these values."""

    def applies_to(self, routing_key: str, data: Mapping[str, Any]) -> bool:
        return routing_key == self.routing_key and all(
            data.get(key) == value for key, value in self.when.items()
        )


EMAIL_RULES: tuple[EmailRule, ...] = (
    EmailRule("meeting_results", "tally.ResultsPublished", "meeting_results", "community_contacts"),
    EmailRule("district_alert", "tally.AlertRaised", "district_alert", "district"),
    EmailRule("tamper_detected", "tally.TamperDetected", "tamper_detected", "district"),
    EmailRule("audit_tamper_detected", "notify.TamperDetected", "tamper_detected", "district"),
    EmailRule(
        "pledge_item_overdue", "pledge.ItemOverdue", "pledge_item_overdue", "community_contacts"
    ),
    EmailRule(
        "meeting_announced",
        "notify.AnnouncementPublished",
        "meeting_announced",
        "community_contacts",
        when={"kind": "meeting"},
    ),
)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    security: Literal["none", "starttls", "tls"]
    user: str | None
    password: str | None
    sender: str
    sender_name: str = "群评系统"
    timeout_seconds: float = 30.0


def compose(settings: SmtpSettings, to: list[str], subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((settings.sender_name, settings.sender))
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="qunping")
    message.set_content(body, charset="utf-8")
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand the message to the SMTP server; raises on any refusal."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.security == "tls":
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_seconds, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    with smtp:
        if settings.security == "starttls":
            smtp.starttls(context=context)
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)
