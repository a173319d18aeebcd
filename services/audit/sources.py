"""The service databases an audit reads, straight from MongoDB and never written.

An auditor must not have to trust the running services, so the audit reads each log's
stored documents itself. It only ever writes to a scratch database of its own, which it
empties when done: a fresh one per run (`{prefix}audit_scratch_{random}`) for the
`qunping audit` commands, or one named database (`{prefix}audit_scratch`), one replay at a
time, for the audit service, whose MongoDB user in a deployment may write that database
and no other (MongoDB grants by exact database name, so a random one could not be granted).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from qunping.core import registry
from qunping.core.dependencies import RELAY_STATE
from qunping.core.eventlog import LogHead
from qunping.core.mongo_eventlog import MongoEventLog

SHARED_SCRATCH = registry.service("audit").writes
"""The audit service's one scratch database, after the prefix."""


class Sources:
    def __init__(
        self, client: MongoClient[dict[str, Any]], prefix: str, *, shared_scratch: bool = False
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.logs = list(registry.logs())
        """Every log that owns facts (a log joins the audit by joining the registry)."""
        self._shared_scratch = shared_scratch
        self._scratch_lock = threading.Lock()

    def database(self, service: str) -> Database[dict[str, Any]]:
        return self.client[f"{self.prefix}{service}"]

    def log(self, name: str) -> MongoEventLog:
        return MongoEventLog(self.database(name), name)

    def relay_checkpoint(self, name: str) -> LogHead | None:
        """How far the log's relay published: a (position, hash) vouched for on the broker."""
        document = self.database(name)[RELAY_STATE].find_one({"_id": f"relay:{name}.events"})
        return None if document is None else LogHead(document["position"], document["hash"])

    @contextmanager
    def scratch(self) -> Iterator[Database[dict[str, Any]]]:
        """A database of the audit's own, emptied afterwards whatever happens."""
        if not self._shared_scratch:
            name = f"{self.prefix}{SHARED_SCRATCH}_{uuid.uuid4().hex[:12]}"
            try:
                yield self.client[name]
            finally:
                self.client.drop_database(name)
            return
        with self._scratch_lock:
            database = self.client[f"{self.prefix}{SHARED_SCRATCH}"]
            # Emptied before as well as after: a run killed midway leaves its collections.
            _empty(database)
            try:
                yield database
            finally:
                _empty(database)


def _empty(database: Database[dict[str, Any]]) -> None:
    """Drop every collection: `readWrite` allows it, where dropping the database needs more."""
    for collection in database.list_collection_names():
        database.drop_collection(collection)
