"""The service databases an audit reads, straight from MongoDB and never written.

An auditor must not have to trust the running services, so the audit reads each log's
stored documents itself. It only ever writes to scratch databases of its own
(`{prefix}audit_scratch_...`), which it drops when done.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from qunping.contract import REGISTRIES
from qunping.core.dependencies import RELAY_STATE
from qunping.core.eventlog import LogHead
from qunping.core.mongo_eventlog import MongoEventLog


class Sources:
    def __init__(self, client: MongoClient[dict[str, Any]], prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.logs = list(REGISTRIES)
        """Every log that owns facts (a log joins the audit by joining the contract)."""

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
        """A database of the audit's own, dropped afterwards whatever happens."""
        name = f"{self.prefix}audit_scratch_{uuid.uuid4().hex[:12]}"
        try:
            yield self.client[name]
        finally:
            self.client.drop_database(name)
