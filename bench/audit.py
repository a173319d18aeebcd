"""Auditing a large ballot log: `audit verify` and `audit replay` against raw read-all.

python -m bench.audit [--meetings 1000] [--per-meeting 997] [--rounds 2]

The log is built fast with batched appends (one append per meeting's ballot box) straight
into a `MongoEventLog` on the benchmark's own server; a live tally is projected from it once,
untimed. Each round then reads the whole log raw (`find`, the baseline) back to back with
verifying it, and again with replaying it (the tally rebuilt in a scratch database and
compared with the live one and with every published event). The defaults make
1,000 × (997 ballots + 3 meeting events) + 1 = 1,000,001 events.
"""

from __future__ import annotations

# The log is built with what bench.services uses, which runs nameko services and so patches
# the standard library with eventlet: patch first, before anything opens a socket.
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

from pymongo import MongoClient  # noqa: E402

from bench.harness import Comparison, interleaved, mongo_server, report  # noqa: E402
from bench.services import build_ballot_log  # noqa: E402
from qunping.core.envelope import NewEvent  # noqa: E402
from qunping.core.mongo_eventlog import MongoEventLog  # noqa: E402
from qunping.core.projection import ProjectionRunner  # noqa: E402
from services.audit.replay import replay  # noqa: E402
from services.audit.sources import Sources  # noqa: E402
from services.audit.verify import verify_all  # noqa: E402
from services.ballot.events import upcasters  # noqa: E402
from services.tally.dependencies import SOURCE  # noqa: E402
from services.tally.events import payloads as tally_payloads  # noqa: E402
from services.tally.projection import TallyProjection, marks_of  # noqa: E402

PREFIX = "bench_audit_"


def project_live_tally(sources: Sources, ballot: MongoEventLog) -> None:
    """What the running tally would have: read models, checkpoint, published events."""
    tally = MongoEventLog(sources.database("tally"), "tally", payload_schemas=tally_payloads)

    def publish(stream: str, event: NewEvent) -> None:
        tally.append(stream, [event])

    projection = TallyProjection(
        lambda meeting_id: marks_of(ballot.read_stream(f"ballotbox-{meeting_id}")), publish
    )
    ProjectionRunner(
        sources.database("tally"),
        projection,
        ballot.read_all,
        source_log=SOURCE,
        batch_size=1000,
        upcasters=upcasters,
    ).catch_up()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--per-meeting", type=int, default=997)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    verify = Comparison("audit verify (every log)", "events/s", "read all (find)", [], [], 0.5)
    replayed = Comparison(
        "audit replay (rebuild + compare)", "events/s", "read all (find)", [], [], 0.5
    )
    with mongo_server() as uri:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
        sources = Sources(client, PREFIX)
        started = time.perf_counter()
        ballot = build_ballot_log(sources.database("ballot"), args.meetings, args.per_meeting)
        total = ballot.head().position
        print(f"built {total:,} events in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        project_live_tally(sources, ballot)
        print(f"projected the live tally in {time.perf_counter() - started:.0f} s")

        def raw(_: int) -> None:
            for commit in ballot.collection.find({}, sort=[("_id", 1)], batch_size=1000):
                len(commit["events"])

        def verified(_: int) -> None:
            assert all(report.ok for report in verify_all(sources))

        def replayed_(_: int) -> None:
            assert replay(sources).ok

        for _ in range(args.rounds):
            for comparison, candidate in ((verify, verified), (replayed, replayed_)):
                baseline_rate, candidate_rate = interleaved(1, total, raw, candidate)
                comparison.baseline_rates.append(baseline_rate)
                comparison.candidate_rates.append(candidate_rate)
        client.close()
    report(
        f"Audit of {total:,} ballot-log events, same server, same run",
        [verify, replayed],
        "bench-audit.json",
    )


if __name__ == "__main__":
    main()
