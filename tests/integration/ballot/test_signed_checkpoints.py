"""The ballot service signs its log: at each close, while the log grows, and on request."""

import time
from collections.abc import Callable
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from qunping.core.checkpoints import Keyring, checkpoint_of
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.tamper import CHECKPOINT, KEY_ANNOUNCED
from services.ballot.service import BallotService
from tests.actors import Acting
from tests.integration.ballot.test_ballot_service import marks, meeting_ready


def ballot_log(config: dict[str, Any], client: MongoClient[dict[str, Any]]) -> MongoEventLog:
    return MongoEventLog(client[f"{config['QUNPING_DB_PREFIX']}ballot"], "ballot")


def valid(log: MongoEventLog) -> list[Any]:
    """The checkpoints in the log whose signatures hold under the key it announced."""
    keyring = Keyring()
    for event in log.read_all():
        if event.type == KEY_ANNOUNCED:
            keyring.learn(event.data)
    return [
        checkpoint_of(e.data)
        for e in log.read_all()
        if e.type == CHECKPOINT and keyring.check(checkpoint_of(e.data)) is None
    ]


def test_a_close_is_signed_before_the_close_returns(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> None:
    container_factory(BallotService, nameko_config).start()
    with ClusterRpcProxy(nameko_config) as cluster:
        ballot = Acting(cluster.ballot)
        meeting_id, tokens = meeting_ready(ballot, tokens=3)
        ballot.open_voting({"meeting_id": meeting_id})
        ballot.cast_ballot({"meeting_id": meeting_id, "token": tokens[0], "marks": marks()})
        ballot.close_voting({"meeting_id": meeting_id})
        log = ballot_log(nameko_config, mongo_client)
        [closed] = [e for e in log.read_all() if e.type == "VotingClosed"]
        signed_at_close = valid(log)

        again = cluster.ballot.sign_checkpoint({})["checkpoint"]

    assert [c.position for c in signed_at_close] == [closed.position + 1], (
        "the key is announced right after the close, and the signature covers it"
    )
    assert again == signed_at_close[0].as_data(), "nothing new: the last checkpoint stands"


def test_a_growing_log_is_signed_within_the_period_with_nobody_asking(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> None:
    config = {**nameko_config, "QUNPING_CHECKPOINT_SECONDS": 1}
    container_factory(BallotService, config).start()
    log = ballot_log(config, mongo_client)
    with ClusterRpcProxy(config) as cluster:
        cluster.ballot.create_campaign({"district": "吉州区", "year": 2011, "batch": "第一批"})
        grown = log.head().position
        deadline = time.monotonic() + 10
        while not any(c.position >= grown for c in valid(log)):
            assert time.monotonic() < deadline, "the log was not signed within its period"
            time.sleep(0.2)
