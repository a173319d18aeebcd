"""The event log contract, against the real MongoDB wire server."""

from typing import Any

import pytest
from pymongo.database import Database

from qunping.core.mongo_eventlog import MongoEventLog
from tests.contract.eventlog_contract import EventLogContract, MakeLog


class TestMongoEventLog(EventLogContract):
    @pytest.fixture
    def make_log(self, database: Database[dict[str, Any]]) -> MakeLog:
        def make(name: str, **options: Any) -> MongoEventLog:
            return MongoEventLog(database, name, **options)

        return make
