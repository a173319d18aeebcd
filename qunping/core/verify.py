"""Checking a log's hash chain: any altered, deleted, inserted or reordered event shows.

Each event's hash covers its content and its predecessor's hash, so an edit anywhere
breaks the chain from there on. What the chain alone cannot show is a cut tail or a
chain rewritten from some point onwards with fresh hashes; *anchors* catch those:
(position, hash) pairs vouched for outside the log (the relay's published checkpoint,
published results, a printed 公示 notice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qunping.core.envelope import RecordedEvent
from qunping.core.eventlog import EMPTY_HEAD, LogHead


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first place where the log is not what it was."""

    position: int
    stream: str | None
    problem: str
    """One of: altered, missing, misplaced, unchained, truncated, rewritten, foreign."""
    detail: str

    def __str__(self) -> str:
        where = f"position {self.position}" + (f" (stream {self.stream})" if self.stream else "")
        return f"{where}: {self.problem}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    log: str
    checked: int
    head: LogHead
    broken: BrokenLink | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(
    events: Iterable[RecordedEvent], *, log: str, anchors: Iterable[LogHead] = ()
) -> VerifyReport:
    """Walk `events` (the whole log, in position order) and name the first broken link."""
    vouched = {anchor.position: anchor.hash for anchor in anchors}
    head, checked = EMPTY_HEAD, 0
    for event in events:
        broken = _first_fault(event, head, log)
        if broken is None and vouched.get(event.position, event.hash) != event.hash:
            broken = BrokenLink(
                event.position,
                event.stream,
                "rewritten",
                "the hash vouched for outside the log differs: the chain was re-hashed",
            )
        if broken is not None:
            return VerifyReport(log, checked, head, broken)
        head, checked = LogHead(event.position, event.hash), checked + 1
    beyond = [position for position in vouched if position > head.position]
    if beyond:
        return VerifyReport(
            log,
            checked,
            head,
            BrokenLink(
                head.position + 1,
                None,
                "truncated",
                f"the log ends at position {head.position} but position {max(beyond)} "
                "was vouched for outside the log",
            ),
        )
    return VerifyReport(log, checked, head, None)


def _first_fault(event: RecordedEvent, previous: LogHead, log: str) -> BrokenLink | None:
    expected = previous.position + 1
    if event.log != log:
        return BrokenLink(event.position, event.stream, "foreign", f"belongs to log {event.log!r}")
    if event.position > expected:
        return BrokenLink(
            expected,
            None,
            "missing",
            f"positions {expected}..{event.position - 1} are absent (deleted events)",
        )
    if event.position < expected:
        return BrokenLink(
            event.position,
            event.stream,
            "misplaced",
            f"position repeats or goes back after {previous.position}",
        )
    if event.computed_hash() != event.hash:
        return BrokenLink(
            event.position, event.stream, "altered", "content no longer matches the event's hash"
        )
    if event.prev_hash != previous.hash:
        return BrokenLink(
            event.position,
            event.stream,
            "unchained",
            f"does not follow the event at position {previous.position} "
            "(an event was inserted, reordered or re-hashed here)",
        )
    return None
