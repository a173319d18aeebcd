"""The printable public notice (公示) of one meeting: results, counts, policy, log head.

Everything on it comes from the logs as stored: the results as the tally published them,
the meeting and its campaign's policy from the ballot log, and the ballot log's (position,
hash) the results were computed at, printed and as a QR code, so anyone holding the paper
can check an audit bundle against it (`verify_bundle.py --anchor ballot:POSITION:HASH`);
and the checkpoint the ballot service signed at the close, printed and as a second QR code
(`verify_bundle.py --checkpoint TEXT`), which no one can forge without the signing key.
"""

from __future__ import annotations

from typing import Any

import jinja2
import segno

from qunping.core.checkpoints import checkpoint_of, printed
from qunping.core.envelope import RecordedEvent
from qunping.core.errors import NotFound
from qunping.core.tamper import CHECKPOINT
from services.audit.sources import Sources
from services.tally.events import upcasters

RATE_LABELS = {
    "satisfaction": "满意率",
    "strict": "满意率（仅“满意”）",
    "excellence": "优秀率",
    "unfit": "不称职率",
}

TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{{ meeting.community }}群众测评结果公示</title>
<style>
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif;
       font-size: 11pt; color: #000; max-width: 178mm; margin: 0 auto; }
h1 { text-align: center; font-size: 20pt; letter-spacing: 0.2em; margin: 0 0 4mm; }
.meta { text-align: center; margin-bottom: 6mm; }
table { border-collapse: collapse; width: 100%; margin: 3mm 0 5mm; page-break-inside: avoid; }
th, td { border: 1px solid #000; padding: 1.5mm 2mm; text-align: center; }
h2 { font-size: 13pt; margin: 5mm 0 1mm; }
.void { color: #b00; font-weight: bold; text-align: center; font-size: 14pt; }
.anchor { display: flex; gap: 6mm; align-items: center; margin-top: 6mm;
          page-break-inside: avoid; }
.anchor code { word-break: break-all; font-size: 9pt; }
footer { margin-top: 8mm; text-align: right; }
</style>
</head>
<body>
<h1>{{ meeting.community }}群众测评结果公示</h1>
<p class="meta">{{ campaign.district }} {{ campaign.year }}年 {{ campaign.batch }} ·
{{ meeting.street }} · 测评会时间 {{ meeting.starts_at }}</p>
{% if voided %}<p class="void">本次测评会已作废：{{ voided }}</p>{% endif %}
<h2>票数</h2>
<table>
<tr><th>发出</th><th>收回</th><th>有效票</th><th>废票</th><th>空白票</th><th>收回不超过发出</th></tr>
<tr><td>{{ closing.issued }}</td><td>{{ closing.returned }}</td><td>{{ closing.valid }}</td>
<td>{{ closing.void }}</td><td>{{ closing.blank }}</td>
<td>{{ "是" if closing.reconciled else "否" }}</td></tr>
</table>
<p>每个测评项目：有效 + 弃权 + 无效 + 空白 = 收回选票 {{ results.returned }} 张
（无效含整张作废的选票，空白为未评此项的选票）。</p>
{% for subject in results.subjects %}
<h2>{{ subject.name }}（{{ kinds[subject.kind].label }}）</h2>
<table>
<tr><th>测评项目</th>{% for value in subject.counts %}<th>{{ value }}</th>{% endfor %}
<th>有效</th><th>弃权</th><th>无效</th><th>空白</th>
{% for name in subject.rates %}<th>{{ rate_labels.get(name, name) }}</th>{% endfor %}</tr>
{% for d in subject.dimensions %}<tr><td>{{ d.dimension }}</td>
{% for count in d.counts.values() %}<td>{{ count }}</td>{% endfor %}
<td>{{ d.valid }}</td><td>{{ d.abstained }}</td><td>{{ d.void }}</td><td>{{ d.blank }}</td>
{% for rate in d.rates.values() %}<td>{{ rate.percent or "—" }}%</td>{% endfor %}</tr>
{% endfor %}<tr><th>合计</th>
{% for count in subject.counts.values() %}<th>{{ count }}</th>{% endfor %}
<th>{{ subject.valid }}</th><th></th><th></th><th></th>
{% for rate in subject.rates.values() %}<th>{{ rate.percent or "—" }}%</th>{% endfor %}</tr>
</table>
{% if subject.flagged %}<p class="void">不称职票达到预警比例</p>{% endif %}
{% endfor %}
<h2>计票规则（评分政策）</h2>
<ul>
{% for scale, rates in policy.rates.items() %}{% for name, values in rates.items() %}
<li>{{ rate_labels.get(name, name) }}（{{ policy.scales[scale]["values"] | join("/") }}）
=（{{ values | join("+") }}）÷ 有效票</li>
{% endfor %}{% endfor %}
<li>法定人数：签到代表不少于 {{ policy.quorum.min_present }} 人</li>
<li>无效标记作废：{{ "整张选票" if policy.invalid_mark_voids == "ballot" else "该项" }}</li>
<li>政策哈希 <code>{{ results_event.data.policy_hash }}</code></li>
</ul>
<div class="anchor">
{{ qr | safe }}
<div>计票依据：选票日志第 {{ results_event.data.source_position }} 条事件，哈希<br>
<code>{{ results_event.data.source_hash }}</code><br>
结果公布：计票日志第 {{ results_event.position }} 条事件，哈希<br>
<code>{{ results_event.hash }}</code></div>
</div>
{% if signed %}<div class="anchor">
{{ signed_qr | safe }}
<div>签名检查点：选票日志第 {{ signed.position }} 条事件，哈希<br>
<code>{{ signed.hash }}</code><br>
{{ signed.signed_at }} 由密钥 <code>{{ signed.key_id }}</code> 签名（Ed25519）<br>
<code>{{ signed.signature }}</code></div>
</div>{% endif %}
<footer>{{ campaign.district }}　{{ results_event.recorded_at.strftime("%Y年%m月%d日") }}</footer>
</body>
</html>
"""
)


def anchor_text(results_event: RecordedEvent) -> str:
    """What the QR code holds: the ballot log position and hash the results rest on."""
    data = results_event.data
    return f"qunping:ballot:{data['source_position']}:{data['source_hash']}"


def render_notice(sources: Sources, meeting_id: str) -> str:
    published = [
        upcasters.upcast(e)
        for e in sources.log("tally").read_all()
        if e.type == "ResultsPublished" and e.data["meeting_id"] == meeting_id
    ]
    if not published:
        raise NotFound(f"published results of meeting {meeting_id}")
    results_event = published[-1]
    meeting: dict[str, Any] | None = None
    campaign: dict[str, Any] | None = None
    voided = None
    signed = None
    for event in sources.log("ballot").read_all():
        if (
            signed is None
            and event.type == CHECKPOINT
            and event.data["position"] >= results_event.data["source_position"]
        ):
            signed = checkpoint_of(event.data)
        if event.type == "MeetingScheduled" and event.data["meeting_id"] == meeting_id:
            meeting = event.data
        elif (
            event.type == "CampaignCreated"
            and event.data["campaign_id"] == (results_event.data["campaign_id"])
        ):
            campaign = event.data
        elif event.type == "MeetingVoided" and event.data["meeting_id"] == meeting_id:
            voided = event.data["reason"]
    if meeting is None or campaign is None:
        raise NotFound(f"meeting {meeting_id} in the ballot log")
    qr = segno.make(anchor_text(results_event), error="m").svg_inline(scale=3)
    signed_qr = (
        None if signed is None else segno.make(printed(signed), error="l").svg_inline(scale=2)
    )
    return TEMPLATE.render(
        meeting=meeting,
        campaign=campaign,
        policy=campaign["policy"],
        kinds=campaign["policy"]["kinds"],
        closing=results_event.data["closing"],
        results=results_event.data["results"],
        results_event=results_event,
        voided=voided,
        rate_labels=RATE_LABELS,
        qr=qr,
        signed=signed,
        signed_qr=signed_qr,
    )
