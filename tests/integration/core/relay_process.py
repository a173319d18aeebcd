"""A relay in a process of its own, for tests that kill it mid-stream.

Usage: python -m tests.integration.core.relay_process MONGO_URI DATABASE AMQP_URI BATCH
"""

import sys
import threading

from pymongo import MongoClient

from qunping.core.dependencies import RELAY_STATE
from qunping.core.mongo_eventlog import MongoEventLog
from qunping.core.relay import OutboxRelay


def main(mongo_uri: str, database: str, amqp_uri: str, batch_size: int) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri, tz_aware=True)
    db = client[database]
    log = MongoEventLog(db, "ballot")  # type: ignore[arg-type]
    relay = OutboxRelay(log, db[RELAY_STATE], amqp_uri, batch_size=batch_size, owner="test-relay")  # type: ignore[arg-type]
    relay.run(threading.Event(), threading.Event(), poll_seconds=0.1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
