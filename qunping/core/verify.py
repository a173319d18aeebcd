"""Checking a log's hash chain: any altered, deleted, inserted or reordered event shows.

Each event's hash covers its content and its predecessor's hash, so an edit anywhere
breaks the chain from there on. What the chain alone cannot show is a cut tail or a
chain rewritten from some point onwards with fresh hashes; *anchors* catch those:
(position, hash) pairs vouched for outside the log (the relay's published checkpoint,
published results, a printed 公示 notice), and above all signed checkpoints: those in the
log count only if their signature holds, and those an outside party kept show the log as
it was even if everything in the database was rewritten (`verify_signed`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qunping.core.checkpoints import Checkpoint, Keyring, checkpoint_of
from qunping.core.envelope import RecordedEvent
from qunping.core.eventlog import EMPTY_HEAD, LogHead
from qunping.core.tamper import CHECKPOINT, KEY_ANNOUNCED


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """The first place where the log is not what it was."""

    position: int
    stream: str | None
    problem: str
    """One of: altered, missing, misplaced, unchained, truncated, rewritten, foreign, forged."""
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
    signed_to: int | None = None
    """The last position a valid signed checkpoint covers (None: no signed checkpoint)."""

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def unsigned(self) -> tuple[int, int] | None:
        """The positions no valid signed checkpoint covers yet, if any (first, last)."""
        if self.signed_to is None or self.head.position > self.signed_to:
            first = (self.signed_to or 0) + 1
            return (first, self.head.position) if first <= self.head.position else None
        return None


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
                "the hash vouched for outside the log (a signed checkpoint, a published "
                "result or checkpoint) differs: the chain was re-hashed up to here",
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


def verify_signed(
    read: Callable[[], Iterable[RecordedEvent]],
    *,
    log: str,
    anchors: Iterable[LogHead] = (),
    kept: Sequence[Checkpoint] = (),
    kept_keys: Sequence[Mapping[str, Any]] = (),
) -> VerifyReport:
    """`verify_chain` with the signed checkpoints: those in the log and those kept outside.

    `read` reads the whole log (it is read twice: checkpoints first, then the chain).
    `kept` and `kept_keys` are what an outside party saved; its keys are trusted as given.
    A checkpoint or key announcement whose signature does not hold is `forged`.
    """
    signatures = _Signatures(log, kept_keys)
    for event in read():
        signatures.take(event)
    for checkpoint in kept:
        if checkpoint.log == log:
            signatures.accept(checkpoint, checkpoint.position, None, "a checkpoint kept outside: ")
    report = verify_chain(read(), log=log, anchors=[*anchors, *signatures.signed])
    broken, forged = report.broken, signatures.forged
    if forged is not None and (broken is None or forged.position < broken.position):
        broken = forged
    signed_to = max((head.position for head in signatures.signed), default=None)
    return replace(report, broken=broken, signed_to=signed_to)


class _Signatures:
    """The keys and the checkpoints whose signatures hold; the first forgery found."""

    def __init__(self, log: str, kept_keys: Sequence[Mapping[str, Any]]) -> None:
        self.log = log
        self.keyring = Keyring()
        for data in kept_keys:
            if data.get("log", log) == log:
                self.keyring.learn(data, trusted=True)
        self.signed: list[LogHead] = []
        self.forged: BrokenLink | None = None

    def take(self, event: RecordedEvent) -> None:
        if event.type == KEY_ANNOUNCED:
            self.refuse(event.position, event.stream, self.keyring.learn(event.data))
        elif event.type == CHECKPOINT:
            checkpoint = checkpoint_of(event.data)
            if checkpoint.log != self.log:
                self.refuse(event.position, event.stream, "a checkpoint of another log")
            else:
                self.accept(checkpoint, event.position, event.stream)

    def accept(
        self, checkpoint: Checkpoint, position: int, stream: str | None, where: str = ""
    ) -> None:
        refused = self.keyring.check(checkpoint)
        if refused is None:
            self.signed.append(checkpoint.head)
        else:
            self.refuse(position, stream, where + refused)

    def refuse(self, position: int, stream: str | None, why: str | None) -> None:
        if why is not None and (self.forged is None or position < self.forged.position):
            self.forged = BrokenLink(position, stream, "forged", why)
