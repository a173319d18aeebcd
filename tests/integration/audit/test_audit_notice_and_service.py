"""The printable 公示, and the audit operations as RPCs of the `audit` service."""

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.errors import InvalidInput
from qunping.operator.cli import cli
from qunping.operator.contract import REGISTRIES
from services.audit.notice import render_notice
from services.audit.service import AuditService
from services.audit.sources import Sources
from tests.integration.audit.conftest import Recorded
from tests.integration.audit.test_audit_verify import mongo_uri_of


def test_the_notice_shows_results_counts_policy_and_the_log_head_with_its_qr_code(
    sources: Sources, recorded: Recorded
) -> None:
    [published] = [
        e
        for e in sources.log("tally").read_all()
        if e.type == "ResultsPublished" and e.data["meeting_id"] == recorded.first
    ]

    html = render_notice(sources, recorded.first)

    assert "光明社区群众测评结果公示" in html and "size: A4" in html
    assert "<td>5</td><td>3</td>" in html, "issued 5, returned 3"
    assert "66.67%" in html, "社区服务: 满意 2 of 3 valid, 基本满意 none"
    assert "满意率（满意/基本满意/不满意）\n=（满意+基本满意）÷ 有效票" in html
    assert "satisfaction" not in html.split("<body>")[1], "no policy key in the notice's text"
    assert "有效 + 弃权 + 无效 + 空白 = 收回选票 3 张" in html and "<th>空白</th>" in html
    assert published.data["source_hash"] in html and published.data["policy_hash"] in html
    assert re.search(r"<svg[^>]*class=\"segno\"", html), "the QR code is inline SVG"


def test_the_notice_of_a_meeting_without_results_is_refused_by_the_cli(
    sources: Sources, tmp_path: Path
) -> None:
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}
    out = tmp_path / "notice.html"

    result = CliRunner().invoke(
        cli, ["audit", "notice", "--meeting", "0" * 16, "--out", str(out)], env=environment
    )

    assert result.exit_code == 1 and "published results of meeting" in result.output
    assert not out.exists()


@pytest.fixture
def audit(
    sources: Sources,
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
) -> Iterator[Any]:
    config = {**nameko_config, "QUNPING_DB_PREFIX": sources.prefix}
    container_factory(AuditService, config).start()
    with ClusterRpcProxy(config, timeout=60) as cluster:
        yield cluster.audit


def test_the_audit_service_answers_verify_replay_export_and_notice(
    audit: Any, recorded: Recorded
) -> None:
    logs = audit.verify({})["logs"]
    replayed = audit.replay({"meeting_id": recorded.first})
    exported = audit.export_bundle({"meeting_id": recorded.first})
    notice = audit.notice({"meeting_id": recorded.first})

    assert [(log["log"], log["ok"]) for log in logs] == [(log, True) for log in REGISTRIES]
    assert replayed["ok"] and replayed["differences"] == []
    assert exported["bundle"].startswith('{"format": 2') and "def main" in exported["verifier"]
    assert "公示" in notice["html"]


def test_the_service_replays_one_at_a_time_in_its_one_scratch_database_and_empties_it(
    audit: Any, sources: Sources
) -> None:
    """A deployment grants the audit user `readWrite` on `{prefix}audit_scratch` only."""
    scratch = sources.client[f"{sources.prefix}audit_scratch"]
    # What a replay killed midway leaves: counted, it would show as a difference.
    scratch["results"].insert_one({"_id": "left by a replay killed midway"})
    databases = set(sources.client.list_database_names())

    replies = [audit.replay.call_async({}) for _ in range(2)]
    reports = [reply.result() for reply in replies]

    assert [(report["ok"], report["differences"]) for report in reports] == [(True, [])] * 2
    assert scratch.list_collection_names() == []
    assert set(sources.client.list_database_names()) <= databases | {scratch.name}


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("verify", {"deep": True}, "deep"),
        ("replay", {"as_of": "12"}, "as_of"),
        ("replay", {"meeting_id": {"$ne": ""}}, "meeting_id"),
        ("export_bundle", {}, "_schema"),
        ("export_bundle", {"meeting_id": "0" * 16, "campaign_id": "0" * 16}, "_schema"),
        ("notice", {"meeting_id": "../../etc"}, "meeting_id"),
    ],
)
def test_bad_input_is_refused_with_each_fields_message(
    audit: Any, method: str, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        getattr(audit, method)(payload)

    assert field in refused.value.messages


def test_the_keys_each_log_signs_with_are_published(audit: Any, sources: Sources) -> None:
    keys = audit.keys({})["logs"]

    [ballot_key] = keys["ballot"]
    assert ballot_key["endorsed_by"] is None and len(ballot_key["public_key"]) == 64
    assert keys["tally"] and keys["tally"][0]["key_id"] == ballot_key["key_id"], "one key"
    signed = [e for e in sources.log("ballot").read_all() if e.type == "CheckpointSigned"]
    assert signed and all(e.data["key_id"] == ballot_key["key_id"] for e in signed)
