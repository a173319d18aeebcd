"""A writer process for the concurrency tests: threads appending as fast as they can.

Usage: python -m tests.integration.core.concurrent_writer MONGO_URI DATABASE WRITER OPS
Prints the ids of the events it appended, one JSON list, on its last line.
"""

import json
import random
import sys
import threading

from pymongo import MongoClient

from qunping.core.envelope import NewEvent
from qunping.core.errors import ConcurrencyError
from qunping.core.eventlog import NO_STREAM, StreamWrite
from qunping.core.mongo_eventlog import MongoEventLog

THREADS = 4
SHARED = "meeting-shared"


def main(uri: str, database: str, writer: str, operations: int) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(uri, tz_aware=True)
    log = MongoEventLog(client[database], "ballot")  # type: ignore[arg-type]
    appended: list[str] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        chance = random.Random(f"{writer}-{thread}")
        for n in range(operations):
            kind = chance.choice(["own", "shared", "batch"])
            if kind == "own":
                recorded = log.append(f"token-{writer}.{thread}", [NewEvent("Own", {"n": n})])
            elif kind == "batch":
                recorded = log.append_batch(
                    [
                        StreamWrite(
                            f"token-{writer}.{thread}.{n}.{k}",
                            [NewEvent("Batch", {"k": k})],
                            NO_STREAM,
                        )
                        for k in range(chance.randint(2, 4))
                    ]
                )
            else:
                while True:
                    version = len(log.read_stream(SHARED))
                    try:
                        recorded = log.append(SHARED, [NewEvent("Shared", {"by": writer})], version)
                        break
                    except ConcurrencyError:
                        continue
            with lock:
                appended.extend(event.event_id for event in recorded)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(appended))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
