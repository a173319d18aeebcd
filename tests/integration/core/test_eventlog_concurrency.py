"""Many writer processes and threads at once, and a reader following the log meanwhile."""

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pymongo.database import Database

from qunping.core.envelope import RecordedEvent
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.verify import verify_chain

ROOT = Path(__file__).resolve().parents[3]
WRITERS = 3
OPERATIONS = 40


def test_concurrent_writers_leave_a_gapless_chain_that_a_follower_never_sees_out_of_order(
    database: Database[dict[str, Any]], mongo_uri: str
) -> None:
    log = MongoEventLog(database, "ballot")
    log.ensure_indexes()
    followed: list[RecordedEvent] = []
    out_of_order: list[str] = []
    writers_done = threading.Event()

    def follow() -> None:
        while True:
            done = writers_done.is_set()
            after = followed[-1].position if followed else 0
            batch = log.read_batch(after, 500)
            if batch and batch[0].position != after + 1:
                out_of_order.append(f"after {after} the reader saw {batch[0].position} first")
            followed.extend(batch)
            if done and not batch:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.core.concurrent_writer",
                mongo_uri,
                database.name,
                f"w{n}",
                str(OPERATIONS),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    appended = []
    for writer in writers:
        output, _ = writer.communicate(timeout=240)
        assert writer.returncode == 0
        appended.extend(json.loads(output.strip().splitlines()[-1]))
    writers_done.set()
    follower.join(timeout=60)

    stored = list(log.read_all())
    assert out_of_order == []
    assert [event.position for event in stored] == list(range(1, len(stored) + 1))
    assert sorted(event.event_id for event in stored) == sorted(appended), "none lost, none doubled"
    assert [event.hash for event in followed] == [event.hash for event in stored]
    shared = log.read_stream("meeting-shared")
    assert [event.version for event in shared] == list(range(1, len(shared) + 1))
    assert len(shared) > 0
    assert verify_chain(stored, log="ballot").ok
