"""The results query answers what was published, even before the read model has it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from qunping.core.envelope import NewEvent
from qunping.core.errors import NotFound
from qunping.core.memory_eventlog import InMemoryEventLog
from services.tally import queries

PUBLISHED = {
    "meeting_id": "m1",
    "campaign_id": "c1",
    "community": "光明社区",
    "policy_hash": "p",
    "closing": {},
    "results": {"returned": 3, "subjects": []},
    "source_position": 40,
    "source_hash": "h",
}


@pytest.fixture
def database(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[Database[dict[str, Any]]]:
    name = f"t{uuid.uuid4().hex[:8]}_tally"
    yield mongo_client[name]
    mongo_client.drop_database(name)


def test_results_published_but_not_yet_committed_to_the_read_model_are_answered_from_the_log(
    database: Database[dict[str, Any]],
) -> None:
    log = InMemoryEventLog("tally")
    log.append("results-m1", [NewEvent("ResultsPublished", PUBLISHED, schema_version=2)])

    assert queries.results(database, log, "m1") == {**PUBLISHED, "void": False}
    with pytest.raises(NotFound):
        queries.results(database, log, "m2")


def test_the_read_model_answers_once_it_has_the_results_voided_or_not(
    database: Database[dict[str, Any]],
) -> None:
    log = InMemoryEventLog("tally")
    log.append("results-m1", [NewEvent("ResultsPublished", PUBLISHED, schema_version=2)])
    database["results"].insert_one({"_id": "m1", **PUBLISHED, "void": True})

    assert queries.results(database, log, "m1") == {**PUBLISHED, "void": True}
