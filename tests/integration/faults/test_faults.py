"""Faults during a steady stream of casts: after recovery the results equal exactly the
accepted ballots, none lost, none doubled
(docs/architecture.md#5-nothing-lost-nothing-counted-twice).

The services run as real processes against a RabbitMQ node and a MongoDB wire server of
this module's own, which it kills and restarts; the machine's shared broker is never
touched. Each scenario runs with several seeds; the survival table goes to
artifacts/fault-survival.md (and docs/faults.md quotes it).
"""

from __future__ import annotations

import random
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import eventlet
import pytest
from kombu.connection import Connection
from kombu.messaging import Producer
from pymongo import MongoClient

from qunping.core.amqp import CLOUDEVENTS_CONTENT_TYPE, events_exchange
from qunping.core.envelope import json_bytes
from qunping.core.errors import NotFound
from qunping.core.mongo_eventlog import MongoEventLog
from services.ballot.domain import sealed, token_hash
from tests.actors import SCRUTINEER_ACTOR
from tests.conftest import ARTIFACTS, MongoServer
from tests.integration.faults.processes import ServiceProcess
from tests.integration.faults.rabbit import SERVER, PrivateRabbit
from tests.integration.faults.voting import (
    ITEM,
    Caller,
    Ledger,
    cast_stream,
    prepare_meeting,
    resolve,
)

SEEDS = (11, 22, 33)
SERVICES = ("ballot", "tally", "notify")
TOKENS = 1000
CASTS_AFTER_FAULTS = 20


@dataclass
class Survival:
    runs: int = 0
    faults: int = 0
    survived: int = 0
    ballots: int = 0
    unanswered: int = 0
    not_valid: int = 0
    exits: int = 0


SURVIVAL: dict[str, Survival] = {}


@dataclass
class FaultCluster:
    rabbit: PrivateRabbit
    mongo: MongoServer
    mongo_client: MongoClient[dict[str, Any]]
    prefix: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    exits: int = 0

    def all_ready(self) -> None:
        for service in self.services.values():
            if service.process is None:
                service.start()
        for service in self.services.values():
            service.wait_ready()

    def supervise(self) -> None:
        """Restart a service process that exited on its own, as Kubernetes restarts a pod."""
        while True:
            for service in self.services.values():
                if service.process is not None and service.process.poll() is not None:
                    self.exits += 1
                    service.start()
            eventlet.sleep(0.5)

    def database(self, service: str) -> Any:
        return self.mongo_client[f"{self.prefix}{service}"]

    def restart_mongo(self) -> None:
        assert self.mongo.process is not None
        self.mongo.process.send_signal(signal.SIGKILL)
        self.mongo.process.wait(timeout=30)
        self.mongo.process = None
        self.mongo.start()


@pytest.fixture(scope="module")
def cluster() -> Iterator[FaultCluster]:
    if not SERVER.exists():
        pytest.fail(f"the fault tests start a RabbitMQ node of their own: install {SERVER}")
    # Kept apart from the shared temporary directory, whose old runs pytest prunes.
    base = ARTIFACTS / "faults" / uuid.uuid4().hex[:8]
    rabbit = PrivateRabbit(base / "rabbitmq")
    rabbit.start()
    mongo = MongoServer(base / "mongo" / "data")
    mongo.start()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo.uri, tz_aware=True)
    prefix = f"f{uuid.uuid4().hex[:8]}_"
    environ = {"AMQP_URI": rabbit.uri, "MONGO_URI": mongo.uri, "QUNPING_DB_PREFIX": prefix}
    faults = FaultCluster(rabbit, mongo, client, prefix)
    faults.services = {name: ServiceProcess(name, environ, base) for name in SERVICES}
    supervisor = eventlet.spawn(faults.supervise)
    try:
        faults.all_ready()
        yield faults
    finally:
        supervisor.kill()
        for service in faults.services.values():
            service.kill()
        client.close()
        mongo.stop()
        rabbit.kill(signal.SIGTERM)
        write_survival_table()
        if all(s.runs == s.survived for s in SURVIVAL.values()):
            shutil.rmtree(base)  # data and logs are kept only to explain a failure


def write_survival_table() -> None:
    lines = [
        "| scenario | runs | faults injected | runs survived | ballots accepted "
        "| casts unanswered | answered 'not valid' after a redelivery "
        "| service processes that exited and were restarted |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + [
        f"| {name} | {s.runs} | {s.faults} | {s.survived} | {s.ballots} | {s.unanswered} "
        f"| {s.not_valid} | {s.exits} |"
        for name, s in SURVIVAL.items()
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fault-survival.md").write_text("\n".join(lines) + "\n")
    print("\n" + "\n".join(lines))


Fault = Callable[[FaultCluster, random.Random], None]


def run_scenario(name: str, cluster: FaultCluster, seed: int, faults: list[Fault]) -> list[str]:
    """Cast steadily while `faults` strike one after another at random moments; recover;
    close; then say every way the closing, the ballot log and the tally's results differ
    from the accepted ballots (nothing, if none was lost or doubled)."""
    rng = random.Random(seed)
    survival = SURVIVAL.setdefault(name, Survival())
    survival.runs += 1
    cluster.all_ready()
    caller = Caller(cluster.rabbit.uri, timeout=10)
    meeting_id, tokens = prepare_meeting(caller, TOKENS)
    injected = []

    def inject() -> None:
        for fault in faults:
            time.sleep(rng.uniform(0.2, 1.5))
            fault(cluster, rng)
            injected.append(fault)

    exits_before = cluster.exits
    injector = eventlet.spawn(inject)
    casts_left = CASTS_AFTER_FAULTS

    def keep_going() -> bool:
        nonlocal casts_left
        if not injector.dead:
            return True
        casts_left -= 1
        return casts_left >= 0

    ledger = cast_stream(caller, meeting_id, tokens, rng, keep_going)
    injector.wait()
    survival.faults += len(injected)
    survival.unanswered += len(ledger.uncertain)
    survival.not_valid += ledger.answered_not_valid
    cluster.all_ready()
    resolve(caller, meeting_id, ledger)
    closed = caller.call_until_answered(
        "ballot", "close_voting", {"meeting_id": meeting_id, "actor": SCRUTINEER_ACTOR}
    )
    results = results_of(caller, meeting_id)
    caller.close()

    differences = [
        *(["the stream was cut short"] if len(ledger.values) <= CASTS_AFTER_FAULTS else []),
        *(
            [f"closing returned {closed['closing']['returned']}, accepted {len(ledger.accepted)}"]
            if closed["closing"]["returned"] != len(ledger.accepted)
            else []
        ),
        *ballot_log_differences(cluster, meeting_id, ledger),
        *results_differences(results, ledger),
        *publication_differences(cluster, meeting_id),
    ]
    if not differences:
        survival.survived += 1
    survival.exits += cluster.exits - exits_before
    survival.ballots += len(ledger.accepted)
    return differences


def results_of(caller: Caller, meeting_id: str, seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            results: dict[str, Any] = caller.call_until_answered(
                "tally", "results", {"meeting_id": meeting_id}
            )
            return results
        except NotFound:
            assert time.monotonic() < deadline, "the tally published no results"
            time.sleep(0.3)


def logged_events(database: Any) -> list[dict[str, Any]]:
    return [event for commit in database["events"].find() for event in commit["events"]]


def ballot_log_differences(cluster: FaultCluster, meeting_id: str, ledger: Ledger) -> list[str]:
    """Each accepted token's ballot is in the ballot box once, with the marks sent; no other."""
    events = logged_events(cluster.database("ballot"))
    salts = [
        e["data"]["salt"]
        for e in events
        if e["type"] == "TokensIssued" and e["data"]["meeting_id"] == meeting_id
    ]
    # A ballot names no token; the ballot service writes it and its token's spending in one
    # commit, which only its own database holds: pair them there, exactly as strict as before.
    cast = []
    for commit in cluster.database("ballot")["events"].find():
        ballots = [e["data"] for e in commit["events"] if e["type"] == "BallotCast"]
        spent = [e["data"] for e in commit["events"] if e["type"] == "TokenSpent"]
        if ballots and ballots[0]["meeting_id"] == meeting_id:
            assert len(ballots) == len(spent) == 1, f"a cast commit holds {ballots} and {spent}"
            cast.append({**ballots[0], "token_hash": spent[0]["token_hash"]})
    hashes = Counter(ballot["token_hash"] for ballot in cast)
    by_hash = {token_hash(salt, t): t for t in ledger.values for salt in salts}
    in_box = {by_hash.get(h) for h in hashes}
    return [
        *(f"token hash {h} is in the ballot box {n} times" for h, n in hashes.items() if n > 1),
        *(f"accepted token {t} is not in the ballot box" for t in ledger.accepted - in_box),
        *(f"token {t} is in the ballot box but was not accepted" for t in in_box - ledger.accepted),
        *(
            f"the ballot of token {by_hash.get(b['token_hash'])} holds other marks"
            for b in cast
            if b["marks"]
            != [{**ITEM, "value": ledger.values.get(by_hash.get(b["token_hash"], ""))}]
        ),
    ]


def results_differences(results: dict[str, Any], ledger: Ledger) -> list[str]:
    """The tally counts each accepted ballot's mark once, and nothing else."""
    committee = results["results"]["subjects"][0]
    [dimension] = [d for d in committee["dimensions"] if d["dimension"] == ITEM["dimension"]]
    counted = {value: n for value, n in dimension["counts"].items() if n}
    expected = {value: n for value, n in ledger.accepted_counts().items() if n}
    return [] if counted == expected else [f"the tally counted {counted}, accepted {expected}"]


def publication_differences(cluster: FaultCluster, meeting_id: str) -> list[str]:
    published = [
        e
        for e in logged_events(cluster.database("tally"))
        if e["type"] == "ResultsPublished" and e["data"]["meeting_id"] == meeting_id
    ]
    return [] if len(published) == 1 else [f"results published {len(published)} times"]


# -- the faults ----------------------------------------------------------------------


def kill_and_restart(name: str) -> Fault:
    def fault(cluster: FaultCluster, rng: random.Random) -> None:
        service = cluster.services[name]
        service.kill()
        time.sleep(rng.uniform(0, 1))
        service.start()

    fault.__name__ = f"kill -9 {name}"
    return fault


def restart_rabbitmq(cluster: FaultCluster, rng: random.Random) -> None:
    cluster.rabbit.kill()
    time.sleep(rng.uniform(0, 1))
    cluster.rabbit.start()


def restart_mongodb(cluster: FaultCluster, rng: random.Random) -> None:
    time.sleep(rng.uniform(0, 0.5))
    cluster.restart_mongo()


def replay_deliveries(cluster: FaultCluster, rng: random.Random) -> None:
    """Publish copies of the ballot log's messages, duplicated and shuffled, onto the
    exchange the tally consumes, as a broker redelivering out of order would."""
    ballot_log = MongoEventLog(cluster.database("ballot"), "ballot")
    copies = [sealed(event) for event in ballot_log.read_all()] * 2
    rng.shuffle(copies)
    with Connection(cluster.rabbit.uri) as connection:
        producer = Producer(connection.default_channel, events_exchange("ballot"))
        for cloudevent in copies:
            producer.publish(
                json_bytes(cloudevent),
                routing_key=cloudevent["type"].rsplit(".", 1)[-1],
                content_type=CLOUDEVENTS_CONTENT_TYPE,
                content_encoding="utf-8",
            )


@pytest.mark.parametrize("seed", SEEDS)
def test_killing_each_service_in_turn_loses_and_doubles_no_accepted_ballot(
    cluster: FaultCluster, seed: int
) -> None:
    order = list(SERVICES)
    random.Random(seed).shuffle(order)
    faults = [kill_and_restart(n) for n in order]

    assert run_scenario("kill -9 each service in turn", cluster, seed, faults) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_restarting_rabbitmq_loses_and_doubles_no_accepted_ballot(
    cluster: FaultCluster, seed: int
) -> None:
    assert run_scenario("kill -9 and restart RabbitMQ", cluster, seed, [restart_rabbitmq]) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_restarting_mongodb_loses_and_doubles_no_accepted_ballot(
    cluster: FaultCluster, seed: int
) -> None:
    faults = [restart_mongodb] * 2

    assert run_scenario("kill -9 and restart MongoDB", cluster, seed, faults) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_duplicate_and_reordered_deliveries_change_no_result(
    cluster: FaultCluster, seed: int
) -> None:
    faults = [replay_deliveries] * 3

    assert run_scenario("duplicate and reordered deliveries", cluster, seed, faults) == []
