"""A district recorded once per module by the real ballot and tally services, then copied.

The services run on the real broker and MongoDB server, record two meetings of one
campaign (the first closed, graded and published before the second opens) and stop, so
the logs stand still. Each test audits a copy of those databases under a prefix of its
own, which it may tamper with freely.
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kombu.connection import Connection
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from qunping.core.config import settings_from
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.operator import infra
from services.audit.sources import Sources
from services.ballot.service import BallotService
from services.tally.service import TallyService
from tests.actors import Acting

SERVICES = ("ballot", "tally", "notify")
SUBJECTS = [{"kind": "committee"}, {"kind": "secretary", "name": "陈建华"}]
REPRESENTATIVE = "代表"
"""Every representative's name starts so: searched for wherever ballots leave."""


@dataclass(frozen=True)
class Recorded:
    prefix: str
    campaign_id: str
    first: str
    """A meeting closed and graded before the second was even scheduled."""
    first_closed_at: int
    """The ballot-log position of the first meeting's close."""
    second: str


def hold_meeting(ballot: Any, campaign_id: str, community: str, values: list[str]) -> str:
    meeting_id: str = ballot.schedule_meeting(
        {
            "campaign_id": campaign_id,
            "community": community,
            "street": "古南街道",
            "starts_at": "2012-10-12T09:00:00+08:00",
            "place": "会议室",
            "expected_participants": 50,
            "subjects": SUBJECTS,
        }
    )["meeting_id"]
    for n in range(50):
        name = f"{REPRESENTATIVE}{community}{n}"
        ballot.check_in({"meeting_id": meeting_id, "name": name, "category": "resident"})
    tokens = ballot.issue_tokens({"meeting_id": meeting_id, "count": len(values) + 2})["tokens"]
    ballot.open_voting({"meeting_id": meeting_id})
    for token, value in zip(tokens, values, strict=False):
        marks = [
            {"subject": "committee-1", "dimension": "社区服务", "value": value},
            {"subject": "committee-1", "dimension": "卫生", "value": "满意"},
            {"subject": "secretary-1", "dimension": "德", "value": "优秀"},
        ]
        ballot.cast_ballot({"meeting_id": meeting_id, "token": token, "marks": marks})
    ballot.close_voting({"meeting_id": meeting_id})
    return meeting_id


def settle(tally: Any, ballot_db: Any, published: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        head = ballot_db["events"].find_one(sort=[("_id", -1)])["last"]
        caught_up = tally.caught_up_to({})["position"] == head
        tally_db = ballot_db.client[ballot_db.name.removesuffix("ballot") + "tally"]
        if caught_up and tally_db["events"].count_documents({}) >= published:
            return
        assert time.monotonic() < deadline, "the tally did not catch up"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def recorded(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> Iterator[Recorded]:
    prefix = f"r{uuid.uuid4().hex[:8]}_"
    config = settings_from(
        {"AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri, "QUNPING_DB_PREFIX": prefix}
    ).nameko_config()
    containers = [
        ServiceContainer(cls, {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{infra.free_port()}"})
        for cls in (BallotService, TallyService)
    ]
    for container in containers:
        container.start()
    try:
        with ClusterRpcProxy(config, timeout=60) as cluster:
            ballot = Acting(cluster.ballot)
            campaign_id = ballot.create_campaign(
                {"district": "吉州区", "year": 2012, "batch": "第二批"}
            )["campaign_id"]
            first = hold_meeting(ballot, campaign_id, "光明社区", ["满意", "不满意", "满意"])
            ballot.record_assessment(
                {
                    "campaign_id": campaign_id,
                    "community": "光明社区",
                    "score": 90,
                    "assessor": "区委",
                    "basis": "考评",
                }
            )
            ballot_db = mongo_client[f"{prefix}ballot"]
            settle(cluster.tally, ballot_db, published=2)
            [first_closed_at] = [
                event.position
                for event in MongoEventLog(ballot_db, "ballot").read_all()
                if event.type == "VotingClosed"
            ]
            second = hold_meeting(ballot, campaign_id, "太平桥社区", ["基本满意"] * 4)
            settle(cluster.tally, ballot_db, published=3)
    finally:
        for container in reversed(containers):  # the tally calls the ballot service
            container.stop()
        with Connection(amqp_uri) as connection:
            channel = connection.default_channel
            for container in containers:
                channel.queue_delete(f"rpc-{container.service_name}")
                for entrypoint in container.entrypoints:
                    if getattr(entrypoint, "queue", None) is not None:
                        channel.queue_delete(entrypoint.queue.name)
    yield Recorded(prefix, campaign_id, first, first_closed_at, second)
    for name in SERVICES:
        mongo_client.drop_database(f"{prefix}{name}")


@pytest.fixture
def sources(recorded: Recorded, mongo_client: MongoClient[dict[str, Any]]) -> Iterator[Sources]:
    """A copy of the recorded databases, for this test alone."""
    prefix = f"c{uuid.uuid4().hex[:8]}_"
    for name in SERVICES:
        source = mongo_client[f"{recorded.prefix}{name}"]
        for collection in source.list_collection_names():
            documents = list(source[collection].find())
            if documents:
                mongo_client[f"{prefix}{name}"][collection].insert_many(documents)
    yield Sources(mongo_client, prefix)
    for name in mongo_client.list_database_names():
        if name.startswith(prefix):
            mongo_client.drop_database(name)
