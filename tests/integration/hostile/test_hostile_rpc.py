"""Hostile input over RPC against the real ballot, tally and notify services: operator
injection in every string field of every command, huge payloads, deep nesting, unicode
edge cases, replayed tokens. Each is refused cleanly (InvalidInput naming the field, or
the one refusal for a spent token) and nothing is stored: every collection of every
service's database holds exactly what it held before."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from qunping.core.errors import InvalidInput, Refused
from services.ballot.domain import NOT_VALID
from services.ballot.service import BallotService
from services.notify.service import NotifyService
from services.tally.service import TallyService
from tests.actors import (
    ACTOR_OF,
    Acting,
)
from tests.integration.ballot.test_ballot_service import marks, meeting_ready
from tests.unit.hostile.schema_strategies import OPERATOR_VALUES, TEN_MEGABYTES, deeply_nested

ID = "0123456789abcdef"


@pytest.fixture
def services(container_factory: Callable[..., Any], nameko_config: dict[str, Any]) -> Iterator[Any]:
    for service in (BallotService, TallyService):
        container_factory(service, nameko_config).start()
    with ClusterRpcProxy(nameko_config, timeout=60) as cluster:
        yield ActingCluster(cluster)


class ActingCluster:
    """The cluster proxy, its staff commands sent with their usual acting accounts."""

    def __init__(self, cluster: Any) -> None:
        self.ballot = Acting(cluster.ballot)
        self.tally = cluster.tally
        self.notify = Acting(cluster.notify)

    def __getitem__(self, service: str) -> Any:
        return getattr(self, service)


@pytest.fixture
def stored(
    nameko_config: dict[str, Any], mongo_client: MongoClient[dict[str, Any]]
) -> Callable[[], dict[str, int]]:
    """How many documents each collection of each service's database holds."""
    prefix = nameko_config["QUNPING_DB_PREFIX"]

    def counts() -> dict[str, int]:
        return {
            f"{name}.{collection}": mongo_client[name][collection].count_documents({})
            for name in mongo_client.list_database_names()
            if name.startswith(prefix)
            for collection in mongo_client[name].list_collection_names()
        }

    return counts


def commands(meeting_id: str, campaign_id: str, token: str) -> dict[str, dict[str, Any]]:
    """A well-formed payload for every command and query that takes strings."""
    ballot = {
        "create_campaign": {"district": "吉州区", "year": 2011, "batch": "第一批"},
        "get_campaign": {"campaign_id": campaign_id},
        "list_meetings": {"campaign_id": campaign_id},
        "record_assessment": {
            "campaign_id": campaign_id,
            "community": "光明社区",
            "score": 90,
            "assessor": "区委",
            "basis": "年度考评",
        },
        "schedule_meeting": {
            "campaign_id": campaign_id,
            "community": "光明社区",
            "street": "古南街道",
            "starts_at": "2011-10-12T09:00:00+08:00",
            "place": "会议室",
            "expected_participants": 60,
            "subjects": [{"kind": "secretary", "name": "王书记"}],
            "rerun_of": meeting_id,
        },
        "meeting_status": {"meeting_id": meeting_id},
        "meeting_detail": {"meeting_id": meeting_id},
        "record_report": {
            "meeting_id": meeting_id,
            "subject_id": "secretary-1",
            "text": "述职",
            "attachment": "report.pdf",
        },
        "check_in": {
            "meeting_id": meeting_id,
            "name": "居民甲",
            "category": "resident",
            "identifier": "A1",
        },
        "issue_tokens": {"meeting_id": meeting_id, "count": 1},
        "issue_paper_slips": {"meeting_id": meeting_id, "count": 1},
        "open_voting": {"meeting_id": meeting_id},
        "cast_ballot": {"meeting_id": meeting_id, "token": token, "marks": marks()},
        "key_paper_batch": {
            "meeting_id": meeting_id,
            "batch": "b1",
            "entries": [{"slip": 1, "marks": marks()}],
        },
        "close_voting": {"meeting_id": meeting_id},
        "void_meeting": {"meeting_id": meeting_id, "reason": "重开"},
        "check_receipt": {"meeting_id": meeting_id, "code": "0000-0000-0000-0000"},
        "meeting_ballots": {"meeting_id": meeting_id},
    }
    tally = {
        "board": {"meeting_id": meeting_id},
        "results": {"meeting_id": meeting_id},
        "grades": {"campaign_id": campaign_id},
        "summary": {"campaign_id": campaign_id},
    }
    notify_commands = {
        "subscribe_webhook": {
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["ballot.*"],
            "secret": "s3cr3t-of-sixteen-or-more",
            "description": "档案",
        },
        "webhook_deliveries": {"subscription_id": "s1", "status": "pending"},
        "webhook_attempts": {"subscription_id": "s1", "delivery_id": "d1"},
        "dead_letters": {"subscription_id": "s1"},
        "redeliver": {"delivery_id": "d1"},
        "set_community_contacts": {"community": "光明社区", "emails": ["a@example.cn"]},
        "emails": {"status": "pending"},
        "publish_announcement": {
            "announcement_id": "a1",
            "community": "光明社区",
            "kind": "notice",
            "title": "公告",
            "body": "正文",
        },
        "withdraw_announcement": {"announcement_id": "a1", "reason": "有误"},
        "announcements": {"community": "光明社区"},
        "set_district_contacts": {"emails": ["zuzhibu@example.cn"]},
        "webhook_subscriptions": {},
    }
    notify = {
        method: {**payload, "district": "吉州区"} for method, payload in notify_commands.items()
    }
    every = {
        **{f"ballot.{m}": p for m, p in ballot.items()},
        **{f"tally.{m}": p for m, p in tally.items()},
        **{f"notify.{m}": p for m, p in notify.items()},
    }
    # A staff command's acting account is a field like any other: injected into, refused.
    return {
        command: {**payload, "actor": ACTOR_OF[command.split(".")[1]]}
        if ACTOR_OF.get(command.split(".")[1])
        else payload
        for command, payload in every.items()
    }


def string_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_paths(item, (*path, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], tuple(rest), new)}
    return [replaced(item, tuple(rest), new) if i == head else item for i, item in enumerate(value)]


def call(cluster: Any, command: str, payload: Any) -> Any:
    service, method = command.split(".")
    return getattr(cluster[service], method)(payload)


@pytest.fixture
def notify(container_factory: Callable[..., Any], nameko_config: dict[str, Any]) -> None:
    container_factory(NotifyService, nameko_config).start()


@pytest.fixture
def open_meeting(services: Any) -> tuple[str, str, list[str]]:
    meeting_id, tokens = meeting_ready(services.ballot, tokens=3)
    services.ballot.open_voting({"meeting_id": meeting_id})
    campaign_id = services.ballot.meeting_status({"meeting_id": meeting_id})["campaign_id"]
    return meeting_id, campaign_id, tokens


def test_a_mongo_operator_in_every_string_field_of_every_command_is_refused_and_stores_nothing(
    services: Any, notify: None, open_meeting: tuple[str, str, list[str]], stored: Any
) -> None:
    meeting_id, campaign_id, tokens = open_meeting
    before = stored()
    every_command = commands(meeting_id, campaign_id, tokens[0])
    tried: set[str] = set()

    for command, payload in every_command.items():
        for path in string_paths(payload):
            for operator in OPERATOR_VALUES[:3]:
                with pytest.raises(InvalidInput) as refused:
                    call(services, command, replaced(payload, path, operator))
                assert path[0] in refused.value.messages, (command, path)
                tried.add(command)

    assert tried == set(every_command)
    assert stored() == before


def test_huge_and_deeply_nested_payloads_are_refused_and_store_nothing(
    services: Any, open_meeting: tuple[str, str, list[str]], stored: Any
) -> None:
    meeting_id, _, [token, *_] = open_meeting
    cast = {"meeting_id": meeting_id, "token": token, "marks": marks()}
    # 500 levels: a green thread's stack is too short for the JSON encoder at 1,000 (the
    # schemas themselves get 1,000 in tests/unit/hostile).
    deep = deeply_nested(500)
    hostile = {
        "token": {**cast, "token": TEN_MEGABYTES},
        "marks": {**cast, "marks": marks() * 5000},
        "marks ": {**cast, "marks": deep},
        "meeting_id": {**cast, "meeting_id": deep},
        "_schema": [deep],
    }
    before = stored()

    for field, payload in hostile.items():
        with pytest.raises(InvalidInput) as refused:
            services.ballot.cast_ballot(payload)
        assert field.strip() in refused.value.messages

    assert stored() == before
    assert services.ballot.cast_ballot(cast)["receipt"], "the service still answers"


def test_unicode_edge_cases_are_refused_in_identifiers_and_kept_verbatim_in_text(
    services: Any, notify: None, open_meeting: tuple[str, str, list[str]], stored: Any
) -> None:
    edge_cases = [
        "\u202e0123456789abcdef",  # right-to-left override
        "０１２３４５６７８９ａｂｃｄｅｆ",  # full-width digits
        "0123456789abcde\u0301",  # combining accent
        "0123456789abcdef\x00",
        "0123456789abcdef\n",
        "\U0001f5f3" * 16,
    ]
    before = stored()
    for identifier in edge_cases:
        with pytest.raises(InvalidInput) as refused:
            services.tally.board({"meeting_id": identifier})
        assert "meeting_id" in refused.value.messages
    for identifier in edge_cases:
        with pytest.raises(InvalidInput) as refused:
            services.ballot.meeting_status({"meeting_id": identifier})
        assert "meeting_id" in refused.value.messages
    assert stored() == before

    name = "\u202e居民\u200b\x00\U0001f5f3e\u0301$gt{}"
    announcement = {"district": "吉州区", "community": name[:10], "kind": "notice",
                    "title": name, "body": name}  # fmt: skip
    services.notify.publish_announcement(announcement)
    [shown] = services.notify.announcements({"community": name[:10]})
    assert (shown["title"], shown["body"]) == (name, name)


def test_a_replayed_token_is_refused_like_an_unknown_one_and_stores_nothing(
    services: Any, open_meeting: tuple[str, str, list[str]], stored: Any
) -> None:
    meeting_id, _, [token, other, _] = open_meeting
    cast = {"meeting_id": meeting_id, "token": token, "marks": marks()}
    services.ballot.cast_ballot(cast)
    before = stored()

    refusals = []
    for payload in (
        cast,
        {**cast, "marks": marks("不满意")},
        {**cast, "token": token.upper() if token.upper() != token else token.lower()},
        {**cast, "token": other[:-1] + ("A" if other[-1] != "A" else "B")},
    ):
        with pytest.raises(Refused) as refused:
            services.ballot.cast_ballot(payload)
        refusals.append((refused.value.reason, refused.value.details))

    assert refusals == [(NOT_VALID, {})] * 4
    assert stored() == before
