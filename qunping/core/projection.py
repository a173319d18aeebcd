"""The projection runner: turns a source log into read models, exactly once in effect.

Messages may arrive twice, late or out of order; the runner applies each source event
once, in position order. Its checkpoint (position and hash of the last applied event)
is written in the same MongoDB transaction as the read-model changes, so a crash never
leaves one without the other. An event that arrives ahead of the checkpoint reveals a
gap, which the runner fills by reading the source log; one at or behind it is a
duplicate and is dropped. Rebuilding drops the read models and replays from position 0.

Before applying an event the runner recomputes its hash: an event edited in place in the
source's database no longer matches it. The runner then applies what came before it,
stops for good (the halt is kept with the checkpoint, so a restart stays stopped), and
hands the finding to `on_tamper`, which raises the public alert. Nothing of the altered
event or after it is applied or published; a rebuild, once the log is restored, resumes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.operations import DeleteOne, ReplaceOne
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from qunping.core.envelope import RecordedEvent
from qunping.core.eventlog import EMPTY_HEAD, LogHead, LogIntegrityError
from qunping.core.metrics import Reading
from qunping.core.tamper import TamperDetected, check_content, is_sealed
from qunping.core.upcasting import NO_UPCASTERS, Upcasters

log = logging.getLogger(__name__)

EventSource = Callable[[int], Iterable[RecordedEvent]]
"""Reads a source log lazily: the events after a position, in position order (for a log
in the same database, `EventLog.read_all`; for another service's, pages over RPC)."""

CHECKPOINTS = "projection_checkpoints"

_DELETED = object()


class ReadModels:
    """The read-model documents a batch of events touches: read through, written on commit."""

    def __init__(self, database: Database[dict[str, Any]], collections: Sequence[str]) -> None:
        self._database = database
        self._collections = set(collections)
        self._documents: dict[tuple[str, Any], Any] = {}
        self._changed: set[tuple[str, Any]] = set()

    def get(self, collection: str, key: Any) -> dict[str, Any] | None:
        """The document as this batch left it (a copy is kept: mutate what you get, then put)."""
        self._check(collection)
        slot = (collection, key)
        if slot not in self._documents:
            self._documents[slot] = self._database[collection].find_one({"_id": key})
        document = self._documents[slot]
        return None if document is None or document is _DELETED else _copied(document)

    def put(self, collection: str, key: Any, document: dict[str, Any]) -> None:
        self._check(collection)
        self._documents[(collection, key)] = {**document, "_id": key}
        self._changed.add((collection, key))

    def delete(self, collection: str, key: Any) -> None:
        self._check(collection)
        self._documents[(collection, key)] = _DELETED
        self._changed.add((collection, key))

    def find(self, collection: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Stored documents matching `query`, overlaid with this batch's unwritten changes."""
        self._check(collection)
        found = {document["_id"]: document for document in self._database[collection].find(query)}
        for (name, key), document in self._documents.items():
            if name == collection and (name, key) in self._changed:
                found.pop(key, None)
                if document is not _DELETED and _matches(document, query):
                    found[key] = document
        return [_copied(document) for document in found.values()]

    def flush(self, session: ClientSession) -> None:
        by_collection: dict[str, list[ReplaceOne[Any] | DeleteOne]] = {}
        for collection, key in sorted(self._changed, key=repr):
            document = self._documents[(collection, key)]
            operation: ReplaceOne[Any] | DeleteOne = (
                DeleteOne({"_id": key})
                if document is _DELETED
                else ReplaceOne({"_id": key}, document, upsert=True)
            )
            by_collection.setdefault(collection, []).append(operation)
        for collection, operations in by_collection.items():
            self._database[collection].bulk_write(operations, ordered=True, session=session)

    def _check(self, collection: str) -> None:
        if collection not in self._collections:
            raise KeyError(f"the projection does not own collection {collection!r}")


def _copied(value: Any) -> Any:
    """A deep copy of a read-model document: its dicts, lists and tuples copied, its leaves
    (strings, numbers, dates: immutable, as BSON gives them) shared. A projection takes one
    per event it applies, so `copy.deepcopy`'s generality was a tenth of a replay's time."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copied(item) for item in value)
    return value


def _matches(document: dict[str, Any], query: dict[str, Any]) -> bool:
    """Equality on top-level fields: the only query shape `ReadModels.find` supports."""
    return all(document.get(field) == value for field, value in query.items())


class Projection(Protocol):
    @property
    def name(self) -> str:
        """Unique within the service's database; the checkpoint is kept under it."""

    @property
    def collections(self) -> Sequence[str]:
        """The read-model collections it owns: written only by it, dropped on rebuild."""

    def apply(self, event: RecordedEvent, models: ReadModels) -> None:
        """Fold one source event into the read models; ignore events of no interest."""


class ProjectionRunner:
    def __init__(
        self,
        database: Database[dict[str, Any]],
        projection: Projection,
        source: EventSource,
        *,
        source_log: str,
        batch_size: int = 500,
        upcasters: Upcasters = NO_UPCASTERS,
        on_tamper: Callable[[TamperDetected], None] = lambda _found: None,
    ) -> None:
        self.projection = projection
        self.on_tamper = on_tamper
        self.upcasters = upcasters
        self.source_log = source_log
        self._database = database
        self._source = source
        self._batch_size = batch_size
        self._checkpoints: Collection[dict[str, Any]] = database.get_collection(
            CHECKPOINTS,
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority"),
        )
        self._checkpoint_id = f"{projection.name}:{source_log}"
        self._cached: LogHead | None = None
        self._halted: TamperDetected | None = None
        self._indexed = False
        self._lock = threading.RLock()
        self.source_seen = 0
        """The newest source position this runner has seen, by message or in the log."""

    def checkpoint(self) -> LogHead:
        with self._lock:
            if self._cached is None:
                document = self._checkpoints.find_one({"_id": self._checkpoint_id})
                self._cached = (
                    EMPTY_HEAD
                    if document is None
                    else LogHead(document["position"], document["hash"])
                )
                halted = None if document is None else document.get("halted")
                self._halted = None if halted is None else TamperDetected(**halted)
            return self._cached

    def halted(self) -> TamperDetected | None:
        """What stopped this projection, if tampering did (kept across restarts)."""
        with self._lock:
            self.checkpoint()
            return self._halted

    def deliver(self, event: RecordedEvent) -> int:
        """Apply an event that arrived by message; return how many events were applied."""
        if event.log != self.source_log:
            raise ValueError(f"runner for {self.source_log!r} got an event of {event.log!r}")
        self._saw(event.position)
        with self._lock:
            checkpoint = self.checkpoint()
            if event.position <= checkpoint.position:
                return 0
            if event.position == checkpoint.position + 1:
                return self._apply([event])
            log.info(
                "%s: gap before %s at %d; filling from the log",
                self._checkpoint_id,
                event.type,
                event.position,
            )
            return self.catch_up(until_position=event.position)

    def catch_up(self, until_position: int | None = None) -> int:
        """Read the source log from the checkpoint and apply what it holds, in batches."""
        applied = 0
        with self._lock:
            if self.halted() is not None:
                return 0
            batch: list[RecordedEvent] = []
            for event in self._source(self.checkpoint().position):
                self._saw(event.position)
                if until_position is not None and event.position > until_position:
                    break
                batch.append(event)
                if len(batch) == self._batch_size:
                    applied += self._apply(batch)
                    batch = []
            if batch:
                applied += self._apply(batch)
        return applied

    def _saw(self, position: int) -> None:
        self.source_seen = max(self.source_seen, position)

    def readings(self) -> list[Reading]:
        """The checkpoint (read now: another replica may have moved it) and the lag behind
        the newest source event seen. A relay that stopped publishing shows as relay lag
        of the source log, not here; a projection that stopped applying shows here."""
        document = self._checkpoints.find_one({"_id": self._checkpoint_id}, {"position": 1})
        position = 0 if document is None else int(document["position"])
        labels = {"projection": self.projection.name, "source_log": self.source_log}
        return [
            Reading(
                "qunping_projection_checkpoint_position",
                "Last source log position the projection applied",
                labels,
                position,
            ),
            Reading(
                "qunping_projection_lag_events",
                "Source events seen and not yet applied by the projection",
                labels,
                max(self.source_seen - position, 0),
            ),
        ]

    def rebuild(self) -> int:
        """Drop the read models and the checkpoint, then replay the source from position 0."""
        with self._lock:
            for collection in self.projection.collections:
                self._database.drop_collection(collection)
            self._checkpoints.delete_one({"_id": self._checkpoint_id})
            self._cached = self._halted = None
            self._indexed = False
            return self.catch_up()

    def _ensure_indexes(self) -> None:
        # A projection may name the indexes its own queries need (`ReadModels.find`).
        for collection, keys in getattr(self.projection, "indexes", {}).items():
            for fields in keys:
                self._database[collection].create_index([(field, 1) for field in fields])
        self._indexed = True

    def _apply(self, events: Sequence[RecordedEvent]) -> int:
        if not self._indexed:
            self._ensure_indexes()
        start = self.checkpoint()
        if self._halted is not None:
            log.warning("%s is stopped: %s", self._checkpoint_id, self._halted)
            return 0
        checkpoint = start
        models = ReadModels(self._database, self.projection.collections)
        for index, event in enumerate(events):
            if event.position != checkpoint.position + 1 or event.prev_hash != checkpoint.hash:
                raise LogIntegrityError(
                    f"{self._checkpoint_id}: event {event.position} does not follow "
                    f"position {checkpoint.position} of log {self.source_log!r}"
                )
            try:
                # A sealed event left its source without its content, so its hash cannot
                # be recomputed here; the source re-hashes it when it hands the content out.
                if not is_sealed(event):
                    check_content(event)
                self.projection.apply(self.upcasters.upcast(event), models)
            except TamperDetected as found:
                # The models hold part of this event: start again from what preceded it.
                applied = self._apply(events[:index]) if index else 0
                self._halt(found)
                return applied
            checkpoint = LogHead(event.position, event.hash)
        try:
            self._commit(models, start, checkpoint)
        except _CheckpointMoved:
            self._cached = None  # another runner got there first: what it wrote stands
            return 0
        self._cached = checkpoint
        return len(events)

    def _halt(self, found: TamperDetected) -> None:
        log.error("%s stops: %s", self._checkpoint_id, found)
        # Alert first: if raising the alert fails, nothing is kept and the next catch-up
        # finds the same event and tries again.
        self.on_tamper(found)
        self._checkpoints.update_one(
            {"_id": self._checkpoint_id},
            {
                "$set": {
                    "halted": {
                        "log": found.log,
                        "position": found.position,
                        "stream": found.stream,
                        "problem": found.problem,
                        "detail": found.detail,
                    }
                },
                "$setOnInsert": {"position": 0, "hash": EMPTY_HEAD.hash},
            },
            upsert=True,
        )
        self._cached, self._halted = None, found

    def _commit(self, models: ReadModels, start: LogHead, end: LogHead) -> None:
        with self._database.client.start_session() as session:
            try:
                with session.start_transaction():
                    models.flush(session)
                    moved = self._checkpoints.update_one(
                        {"_id": self._checkpoint_id, "position": start.position},
                        {"$set": {"position": end.position, "hash": end.hash}},
                        upsert=start.position == 0,
                        session=session,
                    )
                    if moved.matched_count == 0 and moved.upserted_id is None:
                        raise _CheckpointMoved()
            except DuplicateKeyError:
                raise _CheckpointMoved() from None
            except OperationFailure as error:
                if error.has_error_label("TransientTransactionError"):
                    raise _CheckpointMoved() from None
                raise


class _CheckpointMoved(Exception):
    """Another runner advanced the checkpoint concurrently; this batch was not written."""
