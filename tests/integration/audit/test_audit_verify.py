"""`audit verify` over logs the real services wrote, and each way an insider could tamper."""

from dataclasses import replace
from typing import Any

from click.testing import CliRunner

from qunping.core.envelope import RecordedEvent
from qunping.core.mongo_eventlog import _commit_document
from qunping.operator.cli import cli
from services.audit.sources import Sources
from services.audit.verify import verify_all
from tests.integration.audit.conftest import Recorded


def broken_in(sources: Sources, log: str = "ballot") -> tuple[int, str | None, str]:
    [report] = [report for report in verify_all(sources) if report.log == log]
    assert report.broken is not None, f"tampering with the {log} log went unnoticed"
    return report.broken.position, report.broken.stream, report.broken.problem


def ballots(sources: Sources) -> list[RecordedEvent]:
    return [e for e in sources.log("ballot").read_all() if e.type == "BallotCast"]


def rewrite(sources: Sources, events: list[RecordedEvent]) -> None:
    """Replace the stored ballot log with `events`, one append each, as an insider could."""
    collection = sources.log("ballot").collection
    collection.delete_many({})
    collection.insert_many([_commit_document([event]) for event in events])


def rehashed(event: RecordedEvent, **changes: Any) -> RecordedEvent:
    changed = replace(event, **changes)
    return replace(changed, hash=changed.computed_hash())


def test_untouched_logs_verify_with_every_anchor(sources: Sources) -> None:
    reports = {report.log: report for report in verify_all(sources)}

    assert all(report.ok for report in reports.values())
    assert reports["ballot"].checked == sources.log("ballot").head().position > 0
    tally = [event.type for event in sources.log("tally").read_all()]
    assert reports["tally"].checked == len(tally)
    assert len([kind for kind in tally if kind != "CheckpointSigned"]) == 4, (
        "two results and one grade were published, under one announced key"
    )
    assert reports["ballot"].signed_to is not None and reports["tally"].signed_to is not None


def test_an_altered_rating_is_named_with_its_stream_and_position(sources: Sources) -> None:
    ballot = ballots(sources)[1]
    sources.log("ballot").collection.update_one(
        {"_id": ballot.position}, {"$set": {"events.0.data.marks.0.value": "不了解"}}
    )

    assert broken_in(sources) == (ballot.position, ballot.stream, "altered")


def test_a_deleted_ballot_is_named(sources: Sources) -> None:
    ballot = ballots(sources)[1]
    sources.log("ballot").collection.delete_one({"_id": ballot.position})

    assert broken_in(sources) == (ballot.position, None, "missing")


def test_a_forged_ballot_inserted_among_the_real_ones_is_caught(sources: Sources) -> None:
    events = list(sources.log("ballot").read_all())
    real = ballots(sources)[0]
    at = real.position  # the forgery goes right after the first real ballot
    forged = rehashed(real, event_id="forged", position=at + 1, prev_hash=real.hash)
    shifted = [replace(e, position=e.position + 1) for e in events[at:]]
    rewrite(sources, [*events[:at], forged, *shifted])

    position, stream, problem = broken_in(sources)

    # The event after the forgery had to move to make room, and its position is hashed.
    assert (position, stream, problem) == (at + 2, events[at].stream, "altered")


def test_two_swapped_ballots_are_caught(sources: Sources) -> None:
    events = list(sources.log("ballot").read_all())
    first, second = ballots(sources)[:2]
    i, j = first.position - 1, second.position - 1
    events[i], events[j] = (
        replace(second, position=first.position),
        replace(first, position=second.position),
    )
    rewrite(sources, events)

    assert broken_in(sources) == (first.position, second.stream, "altered")


def test_a_cut_tail_is_caught_by_the_results_published_from_it(
    sources: Sources, recorded: Recorded
) -> None:
    sources.log("ballot").collection.delete_many({"_id": {"$gt": recorded.first_closed_at + 1}})

    position, _, problem = broken_in(sources)

    assert (position, problem) == (recorded.first_closed_at + 2, "truncated")


def test_tampering_with_the_tally_log_is_caught_too(sources: Sources) -> None:
    sources.log("tally").collection.update_one(
        {"_id": 1}, {"$set": {"events.0.data.results.returned": 99}}
    )

    assert broken_in(sources, "tally") == (1, broken_in(sources, "tally")[1], "altered")


def test_the_cli_exits_non_zero_and_names_the_broken_link(sources: Sources) -> None:
    ballot = ballots(sources)[0]
    sources.log("ballot").collection.delete_one({"_id": ballot.position})
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}

    result = CliRunner().invoke(cli, ["audit", "verify"], env=environment)

    assert result.exit_code == 1
    assert f"BROKEN at position {ballot.position}: missing" in result.output
    assert "tally" in result.output and "ok" in result.output


def mongo_uri_of(sources: Sources) -> str:
    host, port = sources.client.address  # type: ignore[misc]
    return f"mongodb://{host}:{port}/?directConnection=true"
