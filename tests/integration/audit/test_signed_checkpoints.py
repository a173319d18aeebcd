"""An insider with full write access to MongoDB rewrites a closed meeting's ballot and every
anchor the database holds; the checkpoints signed with a key outside the database catch it.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qunping.core.checkpoints import SigningKey, checkpoint_of, printed, sign_head
from qunping.core.dependencies import RELAY_STATE
from qunping.core.envelope import RecordedEvent
from qunping.core.eventlog import LogHead
from qunping.core.feed import public_feed
from qunping.core.mongo_eventlog import _commit_document
from qunping.core.tamper import CHECKPOINT, KEY_ANNOUNCED
from qunping.operator.cli import cli
from qunping.operator.contract import REGISTRIES
from services.audit.bundle import export
from services.audit.notice import render_notice
from services.audit.replay import Scope
from services.audit.sources import Sources
from services.audit.verify import Kept, verify_all
from tests.integration.audit.conftest import Recorded
from tests.integration.audit.test_audit_export import lines_of, run_verifier
from tests.integration.audit.test_audit_verify import mongo_uri_of


def saved_by_subscriber(sources: Sources, path: Path) -> Path:
    """What an outside system kept of the public events: here read off the feed, which
    carries the same CloudEvents as `qunping.public` and the webhooks."""
    with path.open("w", encoding="utf-8") as file:
        for name in ("ballot", "tally"):
            page = public_feed(sources.log(name), REGISTRIES[name], {"after": 0, "limit": 500})
            for cloudevent in page["events"]:
                if cloudevent["type"].rsplit(".", 1)[-1] in (CHECKPOINT, KEY_ANNOUNCED):
                    file.write(json.dumps(cloudevent, ensure_ascii=False) + "\n")
    return path


def rechained(events: list[RecordedEvent], start: int) -> list[RecordedEvent]:
    """Every event from index `start` on re-hashed onto its (re-hashed) predecessor."""
    out = events[:start]
    for event in events[start:]:
        linked = replace(event, prev_hash=out[-1].hash if out else event.prev_hash)
        out.append(replace(linked, hash=linked.computed_hash()))
    return out


def store(sources: Sources, name: str, events: list[RecordedEvent]) -> None:
    collection = sources.log(name).collection
    collection.delete_many({})
    collection.insert_many([_commit_document([event]) for event in events])
    head = events[-1]
    sources.database(name)[RELAY_STATE].update_one(
        {"_id": f"relay:{name}.events"}, {"$set": {"position": head.position, "hash": head.hash}}
    )


def rewrite_first_meeting(
    sources: Sources, recorded: Recorded, checkpoints: str = "keep"
) -> RecordedEvent:
    """Turn the first meeting's 不满意 into 满意, re-hash to the head, rewrite the relay
    checkpoints and the tally's source hashes; `checkpoints` says what the insider does
    with the signed checkpoints in the log: keep them, or re-sign them with a key of his."""
    events = list(sources.log("ballot").read_all())

    def dissatisfied(mark: dict[str, str]) -> bool:
        return mark["dimension"] == "社区服务" and mark["value"] == "不满意"

    [index] = [
        i
        for i, e in enumerate(events)
        if e.type == "BallotCast" and any(dissatisfied(mark) for mark in e.data["marks"])
    ]
    assert events[index].position < recorded.first_closed_at
    marks = [dict(mark) for mark in events[index].data["marks"]]
    for mark in marks:
        if dissatisfied(mark):
            mark["value"] = "满意"
    events[index] = replace(events[index], data={**events[index].data, "marks": marks})
    events = rechained(events, index)
    if checkpoints == "resign":
        own = SigningKey.generate()
        for i, event in enumerate(events):
            if event.type == CHECKPOINT:
                covered = events[event.data["position"] - 1]
                forged = sign_head(
                    own, "ballot", LogHead(covered.position, covered.hash), event.data["signed_at"]
                )
                events[i] = replace(event, data=forged.as_data())
        events = rechained(events, index)
    store(sources, "ballot", events)
    by_position = {event.position: event for event in events}
    tally = list(sources.log("tally").read_all())
    for i, event in enumerate(tally):
        if "source_hash" in event.data:
            new_hash = by_position[event.data["source_position"]].hash
            tally[i] = replace(event, data={**event.data, "source_hash": new_hash})
    store(sources, "tally", rechained(tally, 0))
    return events[index]


def audit_verify(sources: Sources, *arguments: str) -> Any:
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}
    return CliRunner().invoke(cli, ["audit", "verify", *arguments], env=environment)


def first_checkpoint_after(sources: Sources, position: int) -> int:
    signed = [e.data["position"] for e in sources.log("ballot").read_all() if e.type == CHECKPOINT]
    return min(p for p in signed if p >= position)


@pytest.mark.parametrize("checkpoints", ["keep", "resign"])
def test_a_rewrite_of_everything_in_the_database_fails_against_a_subscribers_checkpoints(
    sources: Sources, recorded: Recorded, tmp_path: Path, checkpoints: str
) -> None:
    kept = saved_by_subscriber(sources, tmp_path / "kept.jsonl")
    altered = rewrite_first_meeting(sources, recorded, checkpoints)
    expected = first_checkpoint_after(sources, altered.position)

    result = audit_verify(sources, "--checkpoints", str(kept))

    assert result.exit_code == 1, result.output
    [ballot] = [line for line in result.output.splitlines() if line.startswith("ballot")]
    assert f"BROKEN at position {expected}" in ballot, result.output
    if checkpoints == "keep":
        assert "rewritten" in ballot
    assert "tally" in result.output


def test_without_outside_checkpoints_the_kept_ones_in_the_log_still_show_the_rewrite(
    sources: Sources, recorded: Recorded
) -> None:
    altered = rewrite_first_meeting(sources, recorded, "keep")

    [report] = [r for r in verify_all(sources) if r.log == "ballot"]

    assert report.broken is not None and report.broken.problem == "rewritten"
    assert report.broken.position == first_checkpoint_after(sources, altered.position)


def test_without_outside_checkpoints_a_re_signed_log_names_the_forged_signature(
    sources: Sources, recorded: Recorded
) -> None:
    rewrite_first_meeting(sources, recorded, "resign")
    first_signed = next(e for e in sources.log("ballot").read_all() if e.type == CHECKPOINT)

    result = audit_verify(sources)

    assert result.exit_code == 1
    assert f"BROKEN at position {first_signed.position} (stream checkpoint-ballot): forged" in (
        result.output
    )


def test_checkpoints_dropped_from_the_log_leave_positions_named_as_unsigned(
    sources: Sources, recorded: Recorded
) -> None:
    rewrite_first_meeting(sources, recorded, "keep")
    events = [e for e in sources.log("ballot").read_all() if e.type != CHECKPOINT]
    events = [replace(e, position=n) for n, e in enumerate(events, start=1)]
    store(sources, "ballot", rechained(events, 0))

    result = audit_verify(sources)

    head = events[-1].position
    assert f"positions 1..{head} are covered by no valid signed checkpoint" in result.output


def test_an_untouched_district_verifies_against_the_subscribers_checkpoints(
    sources: Sources, tmp_path: Path
) -> None:
    kept = Kept.read(saved_by_subscriber(sources, tmp_path / "kept.jsonl").open())

    reports = verify_all(sources, kept)

    assert kept.checkpoints and kept.keys
    assert all(report.ok for report in reports), [str(r.broken) for r in reports]


def test_the_standalone_verifier_checks_the_bundles_and_a_subscribers_checkpoints(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    kept = saved_by_subscriber(sources, tmp_path / "kept.jsonl")
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path / "bundle")
    signed = [line for line in lines_of(bundle) if line.get("type") == CHECKPOINT]

    checked = run_verifier(bundle.parent, "--checkpoints", str(kept))

    assert signed and all("event" in line for line in signed), "checkpoints go in full"
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_standalone_verifier_catches_a_rewrite_of_everything_in_the_database(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    kept = saved_by_subscriber(sources, tmp_path / "kept.jsonl")
    rewrite_first_meeting(sources, recorded, "resign")
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path / "bundle")

    alone = run_verifier(bundle.parent)
    with_kept = run_verifier(bundle.parent, "--checkpoints", str(kept))

    assert alone.returncode == 1 and "signature does not hold (forged)" in alone.stdout
    assert with_kept.returncode == 1 and "(the log was rewritten)" in with_kept.stdout


def test_the_notice_prints_the_checkpoint_signed_at_the_close_and_the_verifier_reads_it(
    sources: Sources, recorded: Recorded, tmp_path: Path
) -> None:
    html = render_notice(sources, recorded.first)
    at_close = next(
        checkpoint_of(e.data)
        for e in sources.log("ballot").read_all()
        if e.type == CHECKPOINT and e.data["position"] >= recorded.first_closed_at
    )
    bundle, _ = export(sources, Scope(meeting=recorded.first), tmp_path / "bundle")
    other_signature = ("0" if at_close.signature[0] != "0" else "1") + at_close.signature[1:]

    checked = run_verifier(bundle.parent, "--checkpoint", printed(at_close))
    forged = run_verifier(
        bundle.parent, "--checkpoint", printed(replace(at_close, signature=other_signature))
    )

    assert "签名检查点" in html and at_close.signature in html
    assert html.count('class="segno"') == 2, "two QR codes: the results' anchor and this"
    assert checked.returncode == 0, checked.stdout
    assert forged.returncode == 1 and "signature does not hold (forged)" in forged.stdout
