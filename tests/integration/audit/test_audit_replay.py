"""`audit replay`: the tally rebuilt from position 0 in a scratch database, compared."""

from typing import Any

import bson
import pytest
from click.testing import CliRunner

from qunping.operator.cli import cli
from services.audit import replay as replay_module
from services.audit.replay import Scope, position_at, replay
from services.audit.sources import Sources
from services.ballot import domain
from services.ballot.policy import merged_with_defaults
from tests.integration.audit.conftest import Recorded
from tests.integration.audit.test_audit_verify import mongo_uri_of


def snapshot(sources: Sources) -> dict[str, Any]:
    """Every live database's documents, as stored bytes."""
    return {
        name: {
            collection: sorted(
                bson.encode(doc) for doc in sources.database(name)[collection].find()
            )
            for collection in sources.database(name).list_collection_names()
        }
        for name in sources.logs
    }


def test_replay_of_an_untampered_log_matches_exactly(sources: Sources) -> None:
    report = replay(sources)

    assert report.ok, report.differences
    assert report.replayed == sources.log("ballot").head().position
    assert report.compared > 3 + 7, "every read model and every published event was compared"


def test_replay_leaves_the_live_databases_byte_identical_and_drops_its_scratch(
    sources: Sources,
) -> None:
    before, databases = snapshot(sources), set(sources.client.list_database_names())

    replay(sources)

    assert snapshot(sources) == before
    assert set(sources.client.list_database_names()) == databases


def test_replay_as_of_a_past_position_reproduces_what_was_published_then(
    sources: Sources, recorded: Recorded
) -> None:
    report = replay(sources, as_of=recorded.first_closed_at)

    assert report.ok, report.differences
    published_then = [
        e
        for e in sources.log("tally").read_all()
        if e.data.get("source_position", recorded.first_closed_at + 1) <= recorded.first_closed_at
    ]
    assert [e.type for e in published_then] == ["ResultsPublished"]
    assert report.compared == 1


def test_a_time_maps_to_the_last_precisely_timed_position_before_it(
    sources: Sources, recorded: Recorded
) -> None:
    [close] = sources.log("ballot").read_batch(recorded.first_closed_at - 1, limit=1)
    assert close.type == "VotingClosed"

    assert position_at(sources, close.recorded_at) >= recorded.first_closed_at
    assert position_at(sources, close.recorded_at) < min(
        e.position
        for e in sources.log("ballot").read_all()
        if e.data.get("meeting_id") == recorded.second
    )


def test_an_altered_published_result_is_printed_and_fails_the_cli(
    sources: Sources, recorded: Recorded
) -> None:
    sources.database("tally")["results"].update_one(
        {"_id": recorded.first}, {"$set": {"results.returned": 4}}
    )
    [published] = [
        e
        for e in sources.log("tally").read_all()
        if e.type == "ResultsPublished" and e.data["meeting_id"] == recorded.second
    ]
    sources.log("tally").collection.update_one(
        {"_id": published.position}, {"$set": {"events.0.data.results.subjects.0.counts.不满意": 4}}
    )
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}

    result = CliRunner().invoke(cli, ["audit", "replay"], env=environment)

    assert result.exit_code == 1, result.output
    assert f"read model results/{recorded.first}.results.returned: live 4, replay 3" in (
        result.output
    )
    assert ".results.subjects[0].counts.不满意: live 4, replay 0" in result.output
    assert "MISMATCH (2 differences)" in result.output


def test_a_scope_limits_the_comparison_to_one_meeting(sources: Sources, recorded: Recorded) -> None:
    sources.database("tally")["results"].update_one(
        {"_id": recorded.second}, {"$set": {"results.returned": 40}}
    )

    assert replay(sources, scope=Scope(meeting=recorded.first)).ok
    assert not replay(sources, scope=Scope(meeting=recorded.second)).ok
    assert not replay(sources, scope=Scope(campaign=recorded.campaign_id)).ok


def test_a_districts_auditor_is_told_of_its_own_districts_differences_only(
    sources: Sources, recorded: Recorded
) -> None:
    sources.database("tally")["results"].update_one(
        {"_id": recorded.second}, {"$set": {"results.returned": 40}}
    )

    elsewhere = replay(sources, scope=Scope(district="永丰县"))
    own = replay(sources, scope=Scope(district="吉州区"))

    assert elsewhere.ok and elsewhere.compared == 0 and recorded.second not in str(elsewhere)
    assert not own.ok
    assert any(recorded.second in difference for difference in own.differences)
    assert elsewhere.replayed == own.replayed  # the replay itself is always whole


def test_the_cli_replays_as_of_a_time_and_refuses_one_without_a_zone(
    sources: Sources, recorded: Recorded
) -> None:
    [close] = sources.log("ballot").read_batch(recorded.first_closed_at - 1, limit=1)
    environment = {"MONGO_URI": mongo_uri_of(sources), "QUNPING_DB_PREFIX": sources.prefix}

    result = CliRunner().invoke(
        cli, ["audit", "replay", "--as-of", close.recorded_at.isoformat()], env=environment
    )
    naive = CliRunner().invoke(
        cli, ["audit", "replay", "--as-of", "2012-10-12T09:00:00"], env=environment
    )

    assert result.exit_code == 0, result.output
    assert "compared 1: match" in result.output
    assert naive.exit_code == 2 and "give the time zone" in naive.output


def test_a_ballot_edited_in_place_stops_the_replay_and_is_named(sources: Sources) -> None:
    ballot = next(e for e in sources.log("ballot").read_all() if e.type == "BallotCast")
    sources.log("ballot").collection.update_one(
        {"_id": ballot.position}, {"$set": {"events.0.data.marks.0.value": "基本满意"}}
    )

    report = replay(sources)

    assert not report.ok
    assert report.differences[0].startswith(
        f"the replay stopped at log 'ballot' position {ballot.position}: altered"
    )
    assert report.replayed == ballot.position - 1


def test_a_live_tally_behind_the_log_is_noted_and_compared_as_of_where_it_stands(
    sources: Sources, recorded: Recorded
) -> None:
    live = replay(sources)
    created = domain.create_campaign("吉州区", 2013, "第一批", merged_with_defaults({}))
    [appended] = sources.log("ballot").append(f"campaign-{created.data['campaign_id']}", [created])

    behind = replay(sources)

    assert live.ok and not any("lags" in note for note in live.notes)
    assert behind.ok and behind.as_of == live.as_of
    assert behind.notes == [
        f"the live tally reflects position {live.as_of}; the log goes on from "
        f"{appended.position}: it lags"
    ]


def test_a_replay_the_live_tally_overtook_is_run_again_and_agrees(
    sources: Sources, recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = sources.database("tally")["results"]
    stored = results.find_one({"_id": recorded.first})
    real_live, real_once = replay_module.live_position, replay_module._replay_once
    asked: list[int] = []
    attempts: list[replay_module.ReplayReport] = []

    def live(of: Sources) -> int:
        """The second look (after the first replay) finds the tally moved on."""
        asked.append(1)
        return real_live(of) + (1 if len(asked) == 2 else 0)

    def once(*arguments: Any) -> replay_module.ReplayReport:
        """While the first replay runs, the live read model is mid-way to what follows."""
        if not attempts:
            results.update_one({"_id": recorded.first}, {"$set": {"results.returned": 4}})
        attempts.append(real_once(*arguments))
        results.replace_one({"_id": recorded.first}, stored)
        return attempts[-1]

    monkeypatch.setattr(replay_module, "live_position", live)
    monkeypatch.setattr(replay_module, "_replay_once", once)
    report = replay(sources)

    assert [attempt.ok for attempt in attempts] == [False, True]
    assert report is attempts[-1] and report.ok
