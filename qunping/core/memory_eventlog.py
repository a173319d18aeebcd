"""An event log in process memory: for unit tests of services' pure logic, never production."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from qunping.core.envelope import RecordedEvent, utc_now
from qunping.core.eventlog import EMPTY_HEAD, DuplicateEventId, EventLog, LogHead, StreamWrite
from qunping.core.schemas import PayloadSchemas


class InMemoryEventLog(EventLog):
    def __init__(
        self,
        name: str,
        *,
        payload_schemas: PayloadSchemas | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(name, payload_schemas=payload_schemas, clock=clock)
        self._lock = threading.Lock()
        self._events: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._by_id: dict[str, RecordedEvent] = {}
        self._appends: dict[str, list[RecordedEvent]] = {}

    def _append(self, writes: list[StreamWrite], unchanged: dict[str, int]) -> list[RecordedEvent]:
        with self._lock:
            if any(event.event_id in self._by_id for write in writes for event in write.events):
                raise DuplicateEventId()
            streams = {write.stream for write in writes} | set(unchanged)
            versions = {stream: len(self._streams.get(stream, ())) for stream in streams}
            recorded = self._place(writes, unchanged, versions, self._head())
            for event in recorded:
                self._events.append(event)
                self._streams.setdefault(event.stream, []).append(event)
                self._by_id[event.event_id] = event
            self._appends[recorded[0].event_id] = recorded
            return recorded

    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            return list(self._streams.get(stream, ())[after_version:])

    def read_batch(
        self, after_position: int = 0, limit: int = 1000, until_position: int | None = None
    ) -> list[RecordedEvent]:
        with self._lock:
            end = (
                len(self._events)
                if until_position is None
                else min(until_position, len(self._events))
            )
            return self._events[after_position : min(end, after_position + limit)]

    def head(self) -> LogHead:
        with self._lock:
            return self._head()

    def _head(self) -> LogHead:
        if not self._events:
            return EMPTY_HEAD
        return LogHead(self._events[-1].position, self._events[-1].hash)

    def find_append(self, first_event_id: str) -> list[RecordedEvent]:
        with self._lock:
            return list(self._appends.get(first_event_id, ()))

    def known_version(self, stream: str) -> int | None:
        with self._lock:
            return len(self._streams.get(stream, ()))
