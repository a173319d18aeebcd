"""`audit export`: the bundle and the standalone verifier, run as an auditor would."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qunping.core.envelope import canonical_json
from qunping.operator.cli import cli
from services.audit.bundle import export
from services.audit.replay import Scope, replay
from services.audit.sources import Sources
from services.ballot.judgement import ballots_digest
from tests.actors import ORGANISER_ACTOR, SCRUTINEER_ACTOR
from tests.integration.audit.conftest import REPRESENTATIVE, Recorded
from tests.integration.audit.test_audit_verify import mongo_uri_of

ISOLATED = [sys.executable, "-I", "-S"]
"""No site-packages, no environment, no working directory on the path: no qunping."""


def run_verifier(directory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ISOLATED, "verify_bundle.py", "bundle.jsonl", *arguments],
        check=False,
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={},
    )


def lines_of(bundle: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in bundle.read_text(encoding="utf-8").splitlines()]


def test_the_isolated_interpreter_cannot_import_the_project(tmp_path: Path) -> None:
    probe = subprocess.run(
        [*ISOLATED, "-c", "import qunping"], check=False, cwd=tmp_path, capture_output=True
    )

    assert probe.returncode != 0


def test_the_standalone_verifier_agrees_with_the_service_on_a_meeting_bundle(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    _, verifier = export(sources, Scope(meeting=recorded.first), tmp_path)

    checked = run_verifier(tmp_path)

    assert replay(sources, scope=Scope(meeting=recorded.first)).ok
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.rstrip().endswith("MATCH")
    assert "1 published result(s) recounted" in checked.stdout
    head = sources.log("ballot").head()
    assert f"ballot: head position {head.position} hash {head.hash}" in checked.stdout
    assert verifier.name == "verify_bundle.py"


def test_a_campaign_bundle_recounts_every_meeting(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    export(sources, Scope(campaign=recorded.campaign_id), tmp_path)

    checked = run_verifier(tmp_path)

    assert checked.returncode == 0, checked.stdout
    assert "2 published result(s) recounted" in checked.stdout


def test_the_bundle_never_puts_a_representatives_name_beside_the_ballots(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    bundle, _ = export(sources, Scope(campaign=recorded.campaign_id), tmp_path)
    lines = lines_of(bundle)

    assert REPRESENTATIVE not in bundle.read_text(encoding="utf-8")
    roster = [line for line in lines if str(line.get("stream", "")).startswith("roster-")]
    assert roster and not any("event" in line for line in roster), "check-ins: headers only"


def test_the_bundle_gives_ballots_sorted_by_content_and_their_events_as_headers_only(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    """Nothing in the bundle orders a meeting's ballots by casting or links one to a
    token, token hash, slip or receipt: the ballot and token events are headers, and the
    marks come as one line per meeting, sorted by content."""
    bundle, _ = export(sources, Scope(campaign=recorded.campaign_id), tmp_path)
    lines = lines_of(bundle)

    secret = ("BallotCast", "TokenSpent", "TokensIssued", "SlipCounted", "PaperBallotKeyed")
    headers = [line for line in lines if line.get("type") in secret]
    assert headers and not any("event" in line for line in headers)
    boxes = [line for line in lines if line["kind"] == "ballots"]
    assert {line["meeting_id"] for line in boxes} == {recorded.first, recorded.second}
    for box in boxes:
        assert set(box) == {"kind", "meeting_id", "ballots"}
        ballots = box["ballots"]
        assert isinstance(ballots, list) and ballots
        assert ballots == sorted(ballots, key=canonical_json)
        assert all(set(mark) == {"subject", "dimension", "value"} for b in ballots for mark in b)
    assert lines[-len(boxes) :] == boxes, "after every event: not beside any position"


def test_the_bundle_names_the_account_of_every_staff_act_and_of_no_ballot(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path)
    lines = [line for line in lines_of(bundle) if line.get("log") == "ballot"]

    def actor(line: dict[str, Any]) -> Any:
        return line.get("actor") or line.get("event", {}).get("data", {}).get("actor")

    acts = {str(line["type"]): actor(line) for line in lines if line["type"] != "BallotCast"}
    assert acts["RepresentativeCheckedIn"] == ORGANISER_ACTOR  # a header, the name withheld
    assert acts["TokensIssued"] == ORGANISER_ACTOR
    assert acts["VotingOpened"] == acts["VotingClosed"] == SCRUTINEER_ACTOR
    ballots = [line for line in lines if line["type"] == "BallotCast"]
    assert ballots and not any(actor(line) for line in ballots)


def rewrite_ballots(bundle: Path, change: Any) -> None:
    """Apply `change` to the first meeting's sorted ballots in the bundle."""
    lines = lines_of(bundle)
    box = next(line for line in lines if line.get("kind") == "ballots")
    change(box["ballots"])
    bundle.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))


def altered(ballots: list[Any]) -> None:
    mark = next(m for m in ballots[0] if m["dimension"] == "社区服务")
    mark["value"] = "不满意" if mark["value"] != "不满意" else "满意"


def added(ballots: list[Any]) -> None:
    ballots.append(ballots[0])


def removed(ballots: list[Any]) -> None:
    ballots.pop()


@pytest.mark.parametrize("change", [altered, added, removed])
def test_an_altered_removed_or_added_ballot_in_the_bundle_is_a_mismatch(
    sources: Sources, recorded: Recorded, tmp_path: Path, change: Any
) -> None:
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path)
    rewrite_ballots(bundle, change)

    checked = run_verifier(tmp_path)

    assert checked.returncode == 1
    assert "not those the close committed to" in checked.stdout
    assert "MISMATCH" in checked.stdout
    if change is not altered:
        assert "returned at the close" in checked.stdout


def test_a_ballot_altered_with_the_close_recommitted_breaks_the_chain(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    """An insider who alters a ballot and writes the new digest into the close changes the
    close, which no longer hashes to the hash the chain (and the notice) records."""
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path)
    lines = lines_of(bundle)
    box = next(line for line in lines if line.get("kind") == "ballots")
    altered(box["ballots"])  # type: ignore[arg-type]
    close = next(line for line in lines if line.get("type") == "VotingClosed")
    close["event"]["data"]["ballots_digest"] = ballots_digest(box["ballots"])  # type: ignore[index]
    bundle.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))

    checked = run_verifier(tmp_path)

    assert checked.returncode == 1
    assert "altered (its content does not hash to its hash)" in checked.stdout
    assert "recount to different results" in checked.stdout


def test_a_head_hash_other_than_the_printed_one_is_a_mismatch(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    export(sources, Scope(meeting=recorded.first), tmp_path)
    head = sources.log("ballot").head()

    vouched = run_verifier(tmp_path, "--anchor", f"ballot:{head.position}:{head.hash}")
    other = run_verifier(tmp_path, "--anchor", f"ballot:{head.position}:{'0' * 64}")

    assert vouched.returncode == 0 and other.returncode == 1


def test_the_cli_writes_the_bundle_and_the_verifier(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}

    result = CliRunner().invoke(
        cli,
        ["audit", "export", "--meeting", recorded.first, "--out", str(tmp_path)],
        env=environment,
    )

    assert result.exit_code == 0, result.output
    assert run_verifier(tmp_path).returncode == 0
    refused = CliRunner().invoke(cli, ["audit", "export", "--out", str(tmp_path)], env=environment)
    assert refused.exit_code == 2 and "exactly one of --meeting and --campaign" in refused.output
