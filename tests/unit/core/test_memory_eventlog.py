"""The event log contract, against the in-memory backend."""

from typing import Any

import pytest

from qunping.core.memory_eventlog import InMemoryEventLog
from tests.contract.eventlog_contract import EventLogContract, MakeLog


class TestInMemoryEventLog(EventLogContract):
    @pytest.fixture
    def make_log(self) -> MakeLog:
        def make(name: str, **options: Any) -> InMemoryEventLog:
            return InMemoryEventLog(name, **options)

        return make
