"""The event log on MongoDB: one collection per service log, one document per append.

An append ("commit") is stored as a single document holding its events, so it is atomic
without a multi-document transaction and costs one insert however many events it holds:

    {_id: first position, last: last position, commit: first event's id,
     streams: [streams written], events: [{stream, version, id, type, ..., hash}, ...]}

How positions stay gapless and in commit order without a sequence generator
---------------------------------------------------------------------------
A writer only ever inserts its commit at the position right after the last event it has
*seen committed*, so position n+1 can exist only once n is committed and visible: a
reader of "everything after P" never misses an event that commits later with a smaller
position, and no position is ever skipped. Two writers claiming the same position
collide on the `_id` unique index; the loser reads what it missed and tries again.

The same rule makes every append a compare-and-set on the whole log: a claim of n+1
succeeds only if nothing was written after n, the head this process had in view. So the
process may trust what it learnt as of n (stream versions, the head's hash) without
reading it again, and stream versions need no unique index of their own: when a claim
fails, the events missed say whether the streams this append depends on moved (a
conflict) or not (claim again).
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
from pymongo.errors import DuplicateKeyError, PyMongoError
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

COMMIT_INDEX = "commit"
STREAMS_INDEX = "streams"


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
        self._commits: Collection[dict[str, Any]] = database.get_collection(
            collection,
            codec_options=CodecOptions(tz_aware=True, tzinfo=UTC),
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._lock = threading.RLock()
        self._view: _View | None = None
        self._commit_ends: OrderedDict[int, None] = OrderedDict()
        self._known_streams = known_streams
        self._catch_up_limit = catch_up_limit
        self._indexes_ready = False

    @property
    def collection(self) -> Collection[dict[str, Any]]:
        return self._commits

    def ensure_indexes(self) -> None:
        self._commits.create_index("commit", unique=True, name=COMMIT_INDEX)
        self._commits.create_index([("streams", ASCENDING), ("_id", ASCENDING)], name=STREAMS_INDEX)
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
                    self._commits.insert_one(_commit_document(recorded))
                except DuplicateKeyError as error:
                    if COMMIT_INDEX in (error.details or {}).get("keyPattern", {COMMIT_INDEX: 1}):
                        raise DuplicateEventId() from None
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
                self._seen_end(recorded[-1].position)
                return recorded
        raise LogContention(f"log {self.name!r}: gave up after {MAX_CLAIMS} lost claims")

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
                last = self._commits.find_one(
                    {"streams": stream},
                    {"last": 1, "events.stream": 1, "events.version": 1},
                    sort=[("_id", DESCENDING)],
                )
                if last is not None and last["last"] > view.head.position:
                    self._catch_up()
                    return None
                known = (
                    0
                    if last is None
                    else max(
                        event["version"] for event in last["events"] if event["stream"] == stream
                    )
                )
                view.learn(stream, known)
            versions[stream] = known
        return versions

    def _catch_up(self) -> bool:
        """Learn the events other writers appended since the view's head; False if none."""
        view = self._current_view()
        missed = list(
            self._commits.find(
                {"_id": {"$gt": view.head.position}},
                {
                    "last": 1,
                    "events.stream": 1,
                    "events.version": 1,
                    "events.hash": 1,
                    "events.prev_hash": 1,
                },
                sort=[("_id", ASCENDING)],
                limit=self._catch_up_limit + 1,
            )
        )
        if len(missed) > self._catch_up_limit:
            self._view = None  # far behind: start afresh from the current head
            return True
        for commit in missed:
            for offset, event in enumerate(commit["events"]):
                position = commit["_id"] + offset
                if position != view.head.position + 1 or event["prev_hash"] != view.head.hash:
                    raise LogIntegrityError(
                        f"log {self.name!r}: position {view.head.position + 1} does not follow "
                        f"the event at {view.head.position}"
                    )
                view.learn(event["stream"], event["version"])
                view.head = LogHead(position, event["hash"])
        return bool(missed)

    # -- reading ---------------------------------------------------------------------

    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            view = self._view
            seen_at = None if view is None else view.head.position
        commits = self._commits.find({"streams": stream}, sort=[("_id", ASCENDING)])
        events = [
            event
            for commit in commits
            for event in self._unpack(commit)
            if event.stream == stream and event.version > after_version
        ]
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
        """Walk commit by commit: each is found by its `_id` (the position after the last
        one's end), so a follower reading a few new events costs a few point lookups
        however long the log is."""
        events: list[RecordedEvent] = []
        commit = self._commit_holding(after_position + 1)
        while commit is not None and len(events) < limit:
            for event in self._within(commit, after_position, until_position):
                events.append(event)
                if len(events) == limit:
                    break
            if until_position is not None and commit["last"] >= until_position:
                break
            commit = self._commits.find_one({"_id": commit["last"] + 1})
            if commit is not None:
                self._seen_end(commit["last"])
        return events

    def read_all(
        self,
        after_position: int = 0,
        *,
        until_position: int | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordedEvent]:
        """One cursor over the `_id` range, `batch_size` commits per round trip: for reading
        much of the log at once (rebuilds, audits), where one scan beats many lookups."""
        bounds: dict[str, int] = {"$gt": after_position}
        if until_position is not None:
            bounds["$lte"] = until_position
        straddling = self._commit_holding(after_position + 1) if after_position else None
        if straddling is not None and straddling["_id"] <= after_position:
            yield from self._within(straddling, after_position, until_position)
        for commit in self._commits.find(
            {"_id": bounds}, sort=[("_id", ASCENDING)], batch_size=batch_size
        ):
            yield from self._within(commit, after_position, until_position)

    def _commit_holding(self, position: int) -> dict[str, Any] | None:
        """The commit that holds `position`: usually it starts there (a point lookup).

        Commit boundaries never change, so once a commit's end has been seen, a lookup
        after it that finds nothing means nothing is there yet, with no scan for a commit
        straddling it. (Range queries on `_id` are index scans on MongoDB but full scans
        on the local SecantusDB server; keeping them off the hot path serves both.)
        """
        commit = self._commits.find_one({"_id": position})
        if commit is not None:
            self._seen_end(commit["last"])
            return commit
        if position <= 1 or (position - 1) in self._commit_ends:
            return None
        earlier = self._commits.find_one({"_id": {"$lt": position}}, sort=[("_id", DESCENDING)])
        if earlier is None:
            return None
        self._seen_end(earlier["last"])
        return earlier if earlier["last"] >= position else None

    def _seen_end(self, position: int) -> None:
        with self._lock:
            self._commit_ends[position] = None
            if len(self._commit_ends) > self._known_streams:
                self._commit_ends.popitem(last=False)

    def _within(
        self, commit: dict[str, Any], after_position: int, until_position: int | None
    ) -> Iterator[RecordedEvent]:
        for event in self._unpack(commit):
            if event.position > after_position and (
                until_position is None or event.position <= until_position
            ):
                yield event

    def head(self) -> LogHead:
        return self._read_head()

    def _read_head(self) -> LogHead:
        last = self._commits.find_one({}, {"last": 1, "events.hash": 1}, sort=[("_id", DESCENDING)])
        return EMPTY_HEAD if last is None else LogHead(last["last"], last["events"][-1]["hash"])

    def find_append(self, first_event_id: str) -> list[RecordedEvent]:
        commit = self._commits.find_one({"commit": first_event_id})
        return [] if commit is None else self._unpack(commit)

    def known_version(self, stream: str) -> int | None:
        with self._lock:
            return None if self._view is None else self._view.version(stream)

    def _unpack(self, commit: dict[str, Any]) -> list[RecordedEvent]:
        first = commit["_id"]
        return [
            RecordedEvent(
                log=self.name,
                position=first + offset,
                stream=event["stream"],
                version=event["version"],
                event_id=event["id"],
                type=event["type"],
                schema_version=event["schema_version"],
                recorded_at=event["recorded_at"],
                correlation_id=event["correlation_id"],
                causation_id=event["causation_id"],
                data=event["data"],
                prev_hash=event["prev_hash"],
                hash=event["hash"],
            )
            for offset, event in enumerate(commit["events"])
        ]


def _commit_document(recorded: list[RecordedEvent]) -> dict[str, Any]:
    return {
        "_id": recorded[0].position,
        "last": recorded[-1].position,
        "commit": recorded[0].event_id,
        "streams": list(dict.fromkeys(event.stream for event in recorded)),
        "events": [
            {
                "stream": event.stream,
                "version": event.version,
                "id": event.event_id,
                "type": event.type,
                "schema_version": event.schema_version,
                "recorded_at": event.recorded_at,
                "correlation_id": event.correlation_id,
                "causation_id": event.causation_id,
                "data": event.data,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            for event in recorded
        ],
    }
