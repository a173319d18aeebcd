"""The event log: each service's append-only, hash-chained, gapless record of facts.

Every event has a place twice over: a `version` within its stream (one aggregate, e.g.
`meeting-42`) for optimistic concurrency, and a `position` in the whole log, gapless and
in commit order, for readers that follow everything (relays, projections, auditors).

This module holds what every backend shares: the contract (`EventLog`), the checks an
append must pass and how events are placed and chained. Backends only store and fetch.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from qunping.core.envelope import (
    GENESIS_HASH,
    NewEvent,
    RecordedEvent,
    record,
    utc_now,
)
from qunping.core.errors import ConcurrencyError, InvalidEvent, Refused
from qunping.core.schemas import (
    EVENT_TYPE_PATTERN,
    LOG_NAME_PATTERN,
    STREAM_PATTERN,
    PayloadSchemas,
)

ANY_VERSION: None = None
"""`expected_version` meaning: append whatever the stream's version is."""
NO_STREAM = 0
"""`expected_version` meaning: the stream must not exist yet."""

MAX_EVENTS_PER_APPEND = 1000
"""An append is stored whole; this keeps it far below a MongoDB document's 16 MB."""

AppendListener = Callable[[Sequence[RecordedEvent]], None]


@dataclass(frozen=True, slots=True)
class StreamWrite:
    """Events for one stream, and the version the writer believes the stream is at."""

    stream: str
    events: Sequence[NewEvent]
    expected_version: int | None = ANY_VERSION


@dataclass(frozen=True, slots=True)
class LogHead:
    """The last position of a log and that event's hash (position 0: the empty log)."""

    position: int
    hash: str


EMPTY_HEAD = LogHead(0, GENESIS_HASH)


class DuplicateEventId(Exception):
    """A backend found an event id of the append already stored."""


class LogIntegrityError(RuntimeError):
    """The stored log is not a gapless hash chain: it was tampered with or is corrupt."""


class EventLog(ABC):
    """One service's event log. Thread-safe; every method may be called concurrently."""

    def __init__(
        self,
        name: str,
        *,
        payload_schemas: PayloadSchemas | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not LOG_NAME_PATTERN.fullmatch(name):
            raise ValueError(f"log name {name!r} must be lowercase letters, digits, underscores")
        self.name = name
        self.payload_schemas = payload_schemas
        self.clock = clock
        self._listeners: list[AppendListener] = []
        self._listeners_lock = threading.Lock()

    # -- writing ---------------------------------------------------------------------

    def append(
        self,
        stream: str,
        events: Sequence[NewEvent],
        expected_version: int | None = ANY_VERSION,
        *,
        unchanged: Mapping[str, int] | None = None,
    ) -> list[RecordedEvent]:
        """Append `events` to `stream` atomically, or raise and write nothing.

        `expected_version` is the version the caller decided against (`NO_STREAM` for a new
        stream, `ANY_VERSION` to skip the check). `unchanged` names further streams the
        decision read, at the versions read: if any moved on, the append is refused too.
        An append retried with the same event ids returns the events first recorded.
        """
        return self.append_batch(
            [StreamWrite(stream, events, expected_version)], unchanged=unchanged
        )

    def append_batch(
        self, writes: Sequence[StreamWrite], *, unchanged: Mapping[str, int] | None = None
    ) -> list[RecordedEvent]:
        """Append to several streams in one atomic step (all or nothing)."""
        writes = list(writes)
        self._check_well_formed(writes, unchanged or {})
        try:
            recorded = self._append(writes, dict(unchanged or {}))
        except (ConcurrencyError, DuplicateEventId) as refusal:
            replayed = self._already_recorded(writes)
            if replayed is not None:
                return replayed
            if isinstance(refusal, DuplicateEventId):
                raise Refused(
                    "an event id of this append is already recorded for another event"
                ) from None
            raise
        self._notify(recorded)
        return recorded

    @abstractmethod
    def _append(self, writes: list[StreamWrite], unchanged: dict[str, int]) -> list[RecordedEvent]:
        """Store the writes at the log's head.

        Raises `ConcurrencyError` on a stale version, `DuplicateEventId` on a reused id.
        """

    # -- reading ---------------------------------------------------------------------

    @abstractmethod
    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        """The stream's events after `after_version`, in version order."""

    @abstractmethod
    def read_batch(
        self, after_position: int = 0, limit: int = 1000, until_position: int | None = None
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after_position` (and not after `until_position`)."""

    def read_all(
        self,
        after_position: int = 0,
        *,
        until_position: int | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordedEvent]:
        """Everything after `after_position`, in position order, fetched in batches."""
        while True:
            batch = self.read_batch(after_position, batch_size, until_position)
            yield from batch
            if len(batch) < batch_size:
                return
            after_position = batch[-1].position

    @abstractmethod
    def head(self) -> LogHead:
        """The log's last position and hash, read from storage now."""

    @abstractmethod
    def find_append(self, first_event_id: str) -> list[RecordedEvent]:
        """The events of the append whose first event has this id (empty if none)."""

    def known_version(self, stream: str) -> int | None:
        """The stream's version as this process last saw it, if it saw it; no I/O."""
        return None

    # -- observing -------------------------------------------------------------------

    def add_append_listener(self, listener: AppendListener) -> None:
        """Call `listener` with the events of every append this process makes."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def _notify(self, recorded: Sequence[RecordedEvent]) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(recorded)

    # -- shared rules ----------------------------------------------------------------

    def _check_well_formed(self, writes: list[StreamWrite], unchanged: Mapping[str, int]) -> None:
        if not writes or any(not write.events for write in writes):
            raise ValueError("an append needs at least one event per stream")
        if sum(len(write.events) for write in writes) > MAX_EVENTS_PER_APPEND:
            raise ValueError(f"an append holds at most {MAX_EVENTS_PER_APPEND} events")
        streams = [write.stream for write in writes]
        if len(set(streams)) != len(streams):
            raise ValueError("each stream may appear once in an append")
        ids = [event.event_id for write in writes for event in write.events]
        if len(set(ids)) != len(ids):
            raise ValueError("event ids must be unique within an append")
        for stream in [*streams, *unchanged]:
            if not STREAM_PATTERN.fullmatch(stream):
                raise ValueError(f"stream name {stream!r} must look like 'category-id'")
        for write in writes:
            for event in write.events:
                if not EVENT_TYPE_PATTERN.fullmatch(event.type):
                    raise InvalidEvent(event.type, {"type": ["must be PascalCase"]})
                if self.payload_schemas is not None:
                    self.payload_schemas.check(event.type, event.schema_version, event.data)

    def _place(
        self,
        writes: list[StreamWrite],
        unchanged: Mapping[str, int],
        versions: Mapping[str, int],
        head: LogHead,
    ) -> list[RecordedEvent]:
        """Check versions against `versions` (as of `head`) and chain the events after it."""
        for stream, expected in unchanged.items():
            if versions[stream] != expected:
                raise ConcurrencyError(stream, expected, versions[stream])
        recorded: list[RecordedEvent] = []
        position, prev_hash, now = head.position, head.hash, self.clock()
        for write in writes:
            version = versions[write.stream]
            if write.expected_version is not None and write.expected_version != version:
                raise ConcurrencyError(write.stream, write.expected_version, version)
            for event in write.events:
                position, version = position + 1, version + 1
                try:
                    placed = record(
                        self.name,
                        event,
                        stream=write.stream,
                        version=version,
                        position=position,
                        prev_hash=prev_hash,
                        recorded_at=now,
                    )
                except (TypeError, ValueError) as error:
                    raise InvalidEvent(event.type, {"data": [str(error)]}) from None
                recorded.append(placed)
                prev_hash = placed.hash
        return recorded

    def _already_recorded(self, writes: list[StreamWrite]) -> list[RecordedEvent] | None:
        """The events first recorded, if `writes` is an append retried with the same ids."""
        wanted = [(write.stream, event) for write in writes for event in write.events]
        found = self.find_append(wanted[0][1].event_id)
        same = len(found) == len(wanted) and all(
            (got.event_id, got.stream, got.type) == (event.event_id, stream, event.type)
            for (stream, event), got in zip(wanted, found, strict=True)
        )
        return found if same else None
