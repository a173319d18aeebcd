"""`audit verify`: every log's hash chain and positions, against every anchor outside it.

The chain check itself is the core's `verify_signed`; what the audit adds is the anchors
it gathers for each log from outside that log: the relay's published checkpoint (what
subscribers received), and for the ballot log the (position, hash) every published result
was computed at, kept in the tally's log. These sit in the same MongoDB as the logs, so
they only catch the careless; the signed checkpoints (in the log, and above all those an
outside party kept: `Kept`) catch someone who rewrote everything the database holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qunping.core.checkpoints import Checkpoint, kept_by_subscriber
from qunping.core.eventlog import LogHead
from qunping.core.verify import VerifyReport, verify_signed
from services.audit.sources import Sources

VOUCHED_BY = {"ballot": "tally"}
"""Logs whose positions another log's events vouch for (`source_position`, `source_hash`)."""


def anchors_of(sources: Sources, name: str) -> list[LogHead]:
    anchors = []
    checkpoint = sources.relay_checkpoint(name)
    if checkpoint is not None and checkpoint.position > 0:
        anchors.append(checkpoint)
    witness = VOUCHED_BY.get(name)
    if witness is not None:
        for event in sources.log(witness).read_all():
            if "source_hash" in event.data:
                anchors.append(LogHead(event.data["source_position"], event.data["source_hash"]))
    return anchors


@dataclass(frozen=True)
class Kept:
    """What an outside party kept: signed checkpoints and the keys announced with them."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, lines: Iterable[str]) -> Kept:
        checkpoints, keys = kept_by_subscriber(lines)
        return cls(checkpoints, keys)


def verify_all(sources: Sources, kept: Kept | None = None) -> list[VerifyReport]:
    """One report per log, each naming the first broken link if there is one."""
    kept = kept or Kept()
    return [
        verify_signed(
            sources.log(name).read_all,
            log=name,
            anchors=anchors_of(sources, name),
            kept=kept.checkpoints,
            kept_keys=kept.keys,
        )
        for name in sources.logs
    ]


def announced_keys(sources: Sources) -> dict[str, list[dict[str, Any]]]:
    """Each log's key announcements (its `signingkey-{log}` stream), with their positions."""
    return {
        name: [
            {**event.data, "position": event.position}
            for event in sources.log(name).read_stream(f"signingkey-{name}")
        ]
        for name in sources.logs
    }
