"""Reading old events in today's shape: upcasters, applied on read, never on stored data.

When a payload schema changes, the new shape gets a new schema version and events already
recorded keep theirs: the log is append-only and each hash covers the bytes as stored.
Readers that want the current shape pass each event through `Upcasters.upcast`, which
applies the registered step functions (type, from version -> data of version + 1) until no
step is left. The upcast event keeps its stored `hash` and `prev_hash`, so chain checks
still see the stored log; only its `data` and `schema_version` are today's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from qunping.core.envelope import RecordedEvent

Step = Callable[[Mapping[str, Any]], dict[str, Any]]
"""Turns the data of one schema version into the data of the next."""


class Upcasters:
    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Step] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Step], Step]:
        def add(step: Step) -> Step:
            key = (event_type, from_version)
            if key in self._steps:
                raise ValueError(f"{event_type} v{from_version} has an upcaster already")
            self._steps[key] = step
            return step

        return add

    def upcast(self, event: RecordedEvent) -> RecordedEvent:
        data, version = event.data, event.schema_version
        while (step := self._steps.get((event.type, version))) is not None:
            data, version = step(data), version + 1
        if version == event.schema_version:
            return event
        return replace(event, data=data, schema_version=version)


NO_UPCASTERS = Upcasters()
"""For logs whose every schema is still at its first version."""
