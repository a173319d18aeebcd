"""The event log against raw pymongo on the same server: append, batched append, read-all;
and what tamper evidence costs: a checkpoint signed after every append (the worst case: a
log is signed at each meeting's close and hourly) against plain appends, re-hashing every
event as projections do against reading alone, an Ed25519 signature against an event hash.

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
from qunping.core.checkpoints import Checkpointer, SigningKey, sign_head
from qunping.core.envelope import NewEvent, format_time
from qunping.core.eventlog import LogHead
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.tamper import check_content

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


def measure_tamper_evidence(
    db: Database[dict[str, Any]],
    signed_db: Database[dict[str, Any]],
    n: int,
    *,
    signing: Comparison,
    per_meeting: Comparison,
    rehash: Comparison,
    signature: Comparison,
) -> None:
    plain = MongoEventLog(db, "bench")
    signed = MongoEventLog(signed_db, "bench")
    checkpointer = Checkpointer(signed, SigningKey.generate())
    chunk = 100

    def plain_appends(k: int) -> None:
        for _ in range(chunk):
            plain.append(f"meeting-{k}", [NewEvent("BallotCast", PAYLOAD)])

    def signed_appends(k: int) -> None:
        for _ in range(chunk):
            signed.append(f"meeting-{k}", [NewEvent("BallotCast", PAYLOAD)])
            checkpointer.sign()

    def signed_once(k: int) -> None:
        for _ in range(chunk):
            signed.append(f"meeting-{k}", [NewEvent("BallotCast", PAYLOAD)])
        checkpointer.sign()

    chunks = max(1, n // chunk // 2)
    for comparison, candidate in ((signing, signed_appends), (per_meeting, signed_once)):
        baseline_rate, candidate_rate = interleaved(chunks, chunk, plain_appends, candidate)
        comparison.baseline_rates.append(baseline_rate)
        comparison.candidate_rates.append(candidate_rate)

    def read(_: int) -> None:
        for _event in plain.read_all(batch_size=1000):
            pass

    def read_and_rehash(_: int) -> None:
        for event in plain.read_all(batch_size=1000):
            check_content(event)

    baseline_rate, candidate_rate = interleaved(3, plain.head().position, read, read_and_rehash)
    rehash.baseline_rates.append(baseline_rate)
    rehash.candidate_rates.append(candidate_rate)

    events = list(plain.read_all())[:1000]
    key, now = SigningKey.generate(), datetime.now(UTC)

    def hashes(_: int) -> None:
        for event in events:
            event.computed_hash()

    def signatures(_: int) -> None:
        for event in events:
            sign_head(key, "bench", LogHead(event.position, event.hash), format_time(now))

    baseline_rate, candidate_rate = interleaved(3, len(events), hashes, signatures)
    signature.baseline_rates.append(baseline_rate)
    signature.candidate_rates.append(candidate_rate)


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
    # No target: signing every append is the bound, not a way qunping runs (it signs at a
    # meeting's close and hourly, the line below).
    signing = Comparison(
        "append + signed checkpoint, every append", "appends/s", "log.append", [], []
    )
    per_meeting = Comparison(
        "appends, signed once per 100 (a meeting)", "appends/s", "log.append", [], [], 0.9
    )
    rehash = Comparison("read all + re-hash each event", "events/s", "log.read_all", [], [], 0.5)
    signature = Comparison("Ed25519 signature", "per s", "event hash (SHA-256)", [], [])
    with mongo_server() as uri:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
        for round_ in range(args.rounds):
            measure_round(client[f"bench_{round_}"], args.events, single, batched, read_all)
            client.drop_database(f"bench_{round_}")
            databases = client[f"bench_t{round_}"], client[f"bench_s{round_}"]
            measure_tamper_evidence(
                *databases,
                args.events,
                signing=signing,
                per_meeting=per_meeting,
                rehash=rehash,
                signature=signature,
            )
            for database in databases:
                client.drop_database(database.name)
        client.close()
    report(
        "Event log vs raw pymongo, same server, same run",
        [single, batched, read_all, signing, per_meeting, rehash, signature],
        "bench-eventlog.json",
    )


if __name__ == "__main__":
    main()
