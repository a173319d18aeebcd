"""The event log against raw pymongo on the same server: append, batched append, read-all.

python -m bench.eventlog [--rounds 5] [--events 2000]
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from bench.harness import Comparison, interleaved, mongo_server, report
from qunping.core.envelope import NewEvent
from qunping.core.mongo_eventlog import MongoEventLog

BATCH = 100
PAYLOAD = {
    "meeting": "meeting-光明社区-2011",
    "ratings": [{"item": "社区服务", "value": "满意"}] * 6,
}


def raw_event(n: int) -> dict[str, Any]:
    """An event's fields, as the log stores them, with no log around them."""
    return {
        "_id": n,
        "stream": "meeting-1",
        "version": n,
        "id": str(uuid.uuid4()),
        "type": "BallotCast",
        "schema_version": 1,
        "recorded_at": datetime.now(UTC),
        "correlation_id": "c",
        "causation_id": None,
        "data": PAYLOAD,
        "prev_hash": "0" * 64,
        "hash": "f" * 64,
    }


def measure_round(
    db: Database[dict[str, Any]],
    n: int,
    single: Comparison,
    batched: Comparison,
    read_all: Comparison,
) -> None:
    """One round: each baseline and the log doing the same, in alternating chunks."""
    raw, log = db["raw"], MongoEventLog(db, "bench")
    log.ensure_indexes()
    chunk = 200

    def raw_singles(k: int) -> None:
        for i in range(k * chunk, (k + 1) * chunk):
            raw.insert_one(raw_event(i))

    def log_singles(k: int) -> None:
        for i in range(k * chunk, (k + 1) * chunk):
            log.append("meeting-1", [NewEvent("BallotCast", PAYLOAD)], i)

    def raw_batches(k: int) -> None:
        for start in range(n + k * chunk * 5, n + (k + 1) * chunk * 5, BATCH):
            raw.insert_many([raw_event(i) for i in range(start, start + BATCH)])

    def log_batches(k: int) -> None:
        for start in range(k * chunk * 5, (k + 1) * chunk * 5, BATCH):
            log.append("meeting-2", [NewEvent("BallotCast", PAYLOAD) for _ in range(BATCH)], start)

    def raw_read(_: int) -> None:
        for document in db["events"].find({"_id": {"$gt": 0}}, sort=[("_id", 1)], batch_size=1000):
            len(document["events"])

    def log_read(_: int) -> None:
        for _event in log.read_all(batch_size=1000):
            pass

    chunks = max(1, n // chunk)
    for comparison, pair, per_chunk in (
        (single, (raw_singles, log_singles), chunk),
        (batched, (raw_batches, log_batches), chunk * 5),
    ):
        baseline_rate, candidate_rate = interleaved(chunks, per_chunk, *pair)
        comparison.baseline_rates.append(baseline_rate)
        comparison.candidate_rates.append(candidate_rate)
    total = log.head().position
    baseline_rate, candidate_rate = interleaved(3, total, raw_read, log_read)
    read_all.baseline_rates.append(baseline_rate)
    read_all.candidate_rates.append(candidate_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    single = Comparison("single-event append", "events/s", "insert_one", [], [], 0.5)
    batched = Comparison(
        f"batched append ({BATCH} events per append)", "events/s", "insert_many", [], [], 0.5
    )
    read_all = Comparison("read all, in position order", "events/s", "find", [], [], 0.5)
    with mongo_server() as uri:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
        for round_ in range(args.rounds):
            measure_round(client[f"bench_{round_}"], args.events, single, batched, read_all)
            client.drop_database(f"bench_{round_}")
        client.close()
    report(
        "Event log vs raw pymongo, same server, same run",
        [single, batched, read_all],
        "bench-eventlog.json",
    )


if __name__ == "__main__":
    main()
