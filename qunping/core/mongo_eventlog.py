"""The event log on MongoDB: one collection per service log, one document per event.

How positions stay gapless and in commit order without a sequence generator
---------------------------------------------------------------------------
An event's position is its document `_id`. A writer only ever inserts at the position
right after the last event it has *seen committed*, so position n+1 can exist only once
n is committed and visible: a reader of "everything after P" never misses an event that
commits later with a smaller position, and no position is ever skipped. Two writers
claiming the same position collide on the `_id` unique index; the loser reads what it
missed and tries again. A multi-event append claims its positions in one transaction.

The same rule makes every append a compare-and-set on the whole log: a write at n+1
succeeds only if nothing was written after n, the head this process had in view. So the
process may trust what it learnt as of n (stream versions, the head's hash) without
reading it again; when a claim fails it reads the events it missed, which tells it
whether the streams this append depends on moved (a conflict) or not (claim again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from qunping.core.envelope import RecordedEvent, utc_now
from qunping.core.errors import ConcurrencyError
from qunping.core.eventlog import (
    EMPTY_HEAD,
    DuplicateEventId,
    EventLog,
    LogHead,
    LogIntegrityError,
    StreamWrite,
)
from qunping.core.schemas import PayloadSchemas

MAX_CLAIMS = 10_000
"""Claims per append before giving up: each lost claim means another append succeeded."""

STREAM_VERSION_INDEX = "stream_version"
EVENT_ID_INDEX = "event_id"


class LogContention(RuntimeError):
    """Other writers won every claim this append made."""


class _View:
    """What this process knows of the log as of `head`: each version held is exact there."""

    def __init__(self, head: LogHead, capacity: int) -> None:
        self.head = head
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity

    def version(self, stream: str) -> int | None:
        version = self._versions.get(stream)
        if version is not None:
            self._versions.move_to_end(stream)
        return version

    def learn(self, stream: str, version: int) -> None:
        self._versions[stream] = version
        self._versions.move_to_end(stream)
        if len(self._versions) > self._capacity:
            self._versions.popitem(last=False)


class MongoEventLog(EventLog):
    """An `EventLog` in a MongoDB collection (default `events`) of the service's database."""

    def __init__(
        self,
        database: Database[dict[str, Any]],
        name: str,
        *,
        collection: str = "events",
        payload_schemas: PayloadSchemas | None = None,
        clock: Callable[[], datetime] = utc_now,
        known_streams: int = 100_000,
        catch_up_limit: int = 10_000,
    ) -> None:
        super().__init__(name, payload_schemas=payload_schemas, clock=clock)
        # An acknowledged append must survive a primary's failure, so the majority of the
        # replica set must hold it; readers see only what can no longer be rolled back.
        self._events: Collection[dict[str, Any]] = database.get_collection(
            collection,
            codec_options=CodecOptions(tz_aware=True, tzinfo=UTC),
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._lock = threading.RLock()
        self._view: _View | None = None
        self._known_streams = known_streams
        self._catch_up_limit = catch_up_limit
        self._indexes_ready = False

    @property
    def collection(self) -> Collection[dict[str, Any]]:
        return self._events

    def ensure_indexes(self) -> None:
        self._events.create_index(
            [("stream", ASCENDING), ("version", ASCENDING)], unique=True, name=STREAM_VERSION_INDEX
        )
        self._events.create_index("event_id", unique=True, name=EVENT_ID_INDEX)
        self._indexes_ready = True

    # -- writing ---------------------------------------------------------------------

    def _append(self, writes: list[StreamWrite], unchanged: dict[str, int]) -> list[RecordedEvent]:
        streams = [write.stream for write in writes] + list(unchanged)
        with self._lock:
            if not self._indexes_ready:
                self.ensure_indexes()
            for _ in range(MAX_CLAIMS):
                view = self._current_view()
                versions = self._versions_as_of(view, streams)
                if versions is None:
                    continue
                try:
                    recorded = self._place(writes, unchanged, versions, view.head)
                except ConcurrencyError:
                    # The caller may have read the stream more recently than this view.
                    if self._catch_up():
                        continue
                    raise
                try:
                    self._insert(recorded)
                except DuplicateEventId:
                    raise
                except _ClaimLost:
                    if not self._catch_up():
                        self._view = None  # nothing missed, yet the claim failed: re-read
                    continue
                except PyMongoError:
                    # The write may or may not have happened: forget the view, re-read later.
                    self._view = None
                    raise
                for event in recorded:
                    view.learn(event.stream, event.version)
                view.head = LogHead(recorded[-1].position, recorded[-1].hash)
                return recorded
        raise LogContention(f"log {self.name!r}: gave up after {MAX_CLAIMS} lost claims")

    def _insert(self, recorded: list[RecordedEvent]) -> None:
        documents = [_to_document(event) for event in recorded]
        try:
            if len(documents) == 1:
                self._events.insert_one(documents[0])
                return
            with self._events.database.client.start_session() as session:
                with session.start_transaction():
                    self._events.insert_many(documents, ordered=True, session=session)
        except DuplicateKeyError as error:
            raise _duplicate(error.details) from None
        except BulkWriteError as error:
            first = (error.details or {}).get("writeErrors", [{}])[0]
            if first.get("code") == 11000:
                raise _duplicate(first) from None
            raise
        except OperationFailure as error:
            if error.has_error_label("TransientTransactionError"):
                raise _ClaimLost() from None
            raise

    def _current_view(self) -> _View:
        if self._view is None:
            self._view = _View(self._read_head(), self._known_streams)
        return self._view

    def _versions_as_of(self, view: _View, streams: Sequence[str]) -> dict[str, int] | None:
        """Each stream's version as of the view's head, or None if the view fell behind."""
        versions: dict[str, int] = {}
        for stream in streams:
            known = view.version(stream)
            if known is None:
                last = self._events.find_one(
                    {"stream": stream}, {"version": 1}, sort=[("version", DESCENDING)]
                )
                if last is not None and last["_id"] > view.head.position:
                    self._catch_up()
                    return None
                known = 0 if last is None else last["version"]
                view.learn(stream, known)
            versions[stream] = known
        return versions

    def _catch_up(self) -> bool:
        """Learn the events other writers appended since the view's head; False if none."""
        view = self._current_view()
        missed = list(
            self._events.find(
                {"_id": {"$gt": view.head.position}},
                {"stream": 1, "version": 1, "hash": 1, "prev_hash": 1},
                sort=[("_id", ASCENDING)],
                limit=self._catch_up_limit + 1,
            )
        )
        if len(missed) > self._catch_up_limit:
            self._view = None  # far behind: start afresh from the current head
            return True
        for document in missed:
            if document["_id"] != view.head.position + 1 or document["prev_hash"] != view.head.hash:
                raise LogIntegrityError(
                    f"log {self.name!r}: position {view.head.position + 1} does not follow "
                    f"the event at {view.head.position}"
                )
            view.learn(document["stream"], document["version"])
            view.head = LogHead(document["_id"], document["hash"])
        return bool(missed)

    # -- reading ---------------------------------------------------------------------

    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            view = self._view
            seen_at = None if view is None else view.head.position
        documents = self._events.find(
            {"stream": stream, "version": {"$gt": after_version}}, sort=[("version", ASCENDING)]
        )
        events = [self._from_document(document) for document in documents]
        with self._lock:
            # What a read shows holds as of the view's head only if the view did not move
            # while reading and nothing read lies beyond it.
            if view is not None and view is self._view and view.head.position == seen_at:
                if events and events[-1].position <= view.head.position:
                    view.learn(stream, events[-1].version)
                elif not events and after_version == 0:
                    view.learn(stream, 0)
        return events

    def read_batch(
        self, after_position: int = 0, limit: int = 1000, until_position: int | None = None
    ) -> list[RecordedEvent]:
        bounds: dict[str, int] = {"$gt": after_position}
        if until_position is not None:
            bounds["$lte"] = until_position
        documents = self._events.find(
            {"_id": bounds}, sort=[("_id", ASCENDING)], limit=limit, batch_size=limit
        )
        return [self._from_document(document) for document in documents]

    def read_all(
        self,
        after_position: int = 0,
        *,
        until_position: int | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordedEvent]:
        # One cursor fetching `batch_size` documents per round trip, rather than one query
        # per batch: the server walks the `_id` index once.
        bounds: dict[str, int] = {"$gt": after_position}
        if until_position is not None:
            bounds["$lte"] = until_position
        documents = self._events.find({"_id": bounds}, sort=[("_id", ASCENDING)], batch_size=batch_size)
        for document in documents:
            yield self._from_document(document)

    def head(self) -> LogHead:
        return self._read_head()

    def _read_head(self) -> LogHead:
        last = self._events.find_one({}, {"hash": 1}, sort=[("_id", DESCENDING)])
        return EMPTY_HEAD if last is None else LogHead(last["_id"], last["hash"])

    def find_events(self, event_ids: Sequence[str]) -> dict[str, RecordedEvent]:
        documents = self._events.find({"event_id": {"$in": list(event_ids)}})
        return {document["event_id"]: self._from_document(document) for document in documents}

    def known_version(self, stream: str) -> int | None:
        with self._lock:
            return None if self._view is None else self._view.version(stream)

    def _from_document(self, document: dict[str, Any]) -> RecordedEvent:
        return RecordedEvent(
            log=self.name,
            position=document["_id"],
            stream=document["stream"],
            version=document["version"],
            event_id=document["event_id"],
            type=document["type"],
            schema_version=document["schema_version"],
            recorded_at=document["recorded_at"],
            correlation_id=document["correlation_id"],
            causation_id=document["causation_id"],
            data=document["data"],
            prev_hash=document["prev_hash"],
            hash=document["hash"],
        )


class _ClaimLost(Exception):
    """Another writer took the position or the stream version this append claimed."""


def _duplicate(details: dict[str, Any] | None) -> Exception:
    details = details or {}
    if EVENT_ID_INDEX in details.get("keyPattern", {}) or (
        "keyPattern" not in details and f"index: {EVENT_ID_INDEX} " in details.get("errmsg", "")
    ):
        return DuplicateEventId()
    return _ClaimLost()


def _to_document(event: RecordedEvent) -> dict[str, Any]:
    return {
        "_id": event.position,
        "stream": event.stream,
        "version": event.version,
        "event_id": event.event_id,
        "type": event.type,
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
