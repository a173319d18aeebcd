"""A log written in 2011, its ballots in `BallotCast` v1, replayed today to the same results."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from qunping.core.envelope import parse_time
from services.audit.bundle import export
from services.audit.replay import Scope, replay
from services.audit.sources import Sources
from services.audit.verify import verify_all
from tests.fixtures.audit.write_ballot_v1_log import FIXTURE, MEETING


@pytest.fixture
def old_log(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[Sources]:
    """The fixture's stored documents, loaded raw, as a restored backup would be."""
    prefix = f"o{uuid.uuid4().hex[:8]}_"
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        stored = json.loads(line)
        for event in stored["commit"]["events"]:
            event["recorded_at"] = parse_time(event["recorded_at"])
        mongo_client[f"{prefix}{stored['log']}"]["events"].insert_one(stored["commit"])
    yield Sources(mongo_client, prefix)
    for name in ("ballot", "tally"):
        mongo_client.drop_database(f"{prefix}{name}")


def test_the_fixture_ballots_are_stored_in_schema_version_1(old_log: Sources) -> None:
    ballots = [e for e in old_log.log("ballot").read_all() if e.type == "BallotCast"]

    assert {e.schema_version for e in ballots} == {1}
    assert isinstance(ballots[0].data["marks"], dict)


def test_the_old_log_still_verifies_its_hashes_cover_the_stored_bytes(old_log: Sources) -> None:
    assert all(report.ok for report in verify_all(old_log))


def test_the_old_log_replays_through_the_upcaster_to_the_published_results(
    old_log: Sources,
) -> None:
    report = replay(old_log, as_of=old_log.log("ballot").head().position)

    assert report.ok, report.differences
    assert report.compared == 2, "the results and the alert published in 2011"
    [published] = [e for e in old_log.log("tally").read_all() if e.type == "ResultsPublished"]
    committee, secretary = published.data["results"]["subjects"]
    assert committee["rates"]["satisfaction"] == {"favourable": 4, "valid": 5, "percent": "80.00"}
    assert secretary["flagged"], "1 不称职 of 3 reaches the 1/3 share"


def test_the_standalone_verifier_reads_version_1_ballots_too(
    old_log: Sources, tmp_path: Path
) -> None:
    export(old_log, Scope(meeting=MEETING), tmp_path)

    checked = subprocess.run(
        [sys.executable, "-I", "-S", "verify_bundle.py", "bundle.jsonl"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={},
        timeout=60,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
