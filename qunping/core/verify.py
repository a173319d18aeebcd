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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


RECENT = 10_000
"""Hashes kept while walking, for in-log checkpoints to be compared with: a checkpoint
signs the head a moment before it is appended, so it covers a position just behind it."""


def verify_signed(
    read: Callable[[], Iterable[RecordedEvent]],
    *,
    log: str,
    anchors: Iterable[LogHead] = (),
    kept: Sequence[Checkpoint] = (),
    kept_keys: Sequence[Mapping[str, Any]] = (),
) -> VerifyReport:
    """`verify_chain` with the signed checkpoints: those in the log and those kept outside.

    `read` reads the whole log, once (a second time only for an in-log checkpoint covering a
    position more than `RECENT` behind it). `kept` and `kept_keys` are what an outside party
    saved; its keys are trusted as given, the log's own first key only without them.
    A checkpoint or key announcement whose signature does not hold is `forged`; a position
    whose hash differs from what a valid checkpoint signed is `rewritten`.
    """
    signatures = _Signatures(log, kept_keys)
    kept = [checkpoint for checkpoint in kept if checkpoint.log == log]
    wanted = {checkpoint.position for checkpoint in kept}
    seen: dict[int, str] = {}
    recent: dict[int, str] = {}
    deferred: list[LogHead] = []

    def walked(events: Iterable[RecordedEvent]) -> Iterator[RecordedEvent]:
        for event in events:
            recent[event.position] = event.hash
            if len(recent) > RECENT:
                del recent[next(iter(recent))]
            if event.position in wanted:
                seen[event.position] = event.hash
            signed = signatures.take(event)
            if signed is not None:
                if signed.position in recent:
                    signatures.compare(signed, recent[signed.position])
                else:
                    deferred.append(signed)
            yield event

    report = verify_chain(walked(read()), log=log, anchors=anchors)
    for checkpoint in kept:
        if signatures.accept(checkpoint, checkpoint.position, None, "a checkpoint kept outside: "):
            if checkpoint.position in seen:
                signatures.compare(checkpoint.head, seen[checkpoint.position])
            elif report.ok and checkpoint.position > report.head.position:
                signatures.refuse(
                    report.head.position + 1,
                    None,
                    f"the log ends at position {report.head.position} but a signed checkpoint "
                    f"covers position {checkpoint.position}",
                    "truncated",
                )
    if deferred:
        held = {head.position for head in deferred}
        for event in read():
            if event.position in held:
                for head in deferred:
                    if head.position == event.position:
                        signatures.compare(head, event.hash)
    broken = min(
        (link for link in (report.broken, signatures.first_problem) if link is not None),
        key=lambda link: link.position,
        default=None,
    )
    signed_to = max((head.position for head in signatures.signed), default=None)
    return replace(report, broken=broken, signed_to=signed_to)


class _Signatures:
    """The keys and the checkpoints whose signatures hold; the first problem found."""

    def __init__(self, log: str, kept_keys: Sequence[Mapping[str, Any]]) -> None:
        self.log = log
        self.keyring = Keyring()
        for data in kept_keys:
            if data.get("log", log) == log:
                self.keyring.learn(data, trusted=True)
        self.signed: list[LogHead] = []
        self.first_problem: BrokenLink | None = None

    def take(self, event: RecordedEvent) -> LogHead | None:
        """Learn an announced key; a checkpoint's head if its signature holds."""
        if event.type == KEY_ANNOUNCED:
            self.refuse(event.position, event.stream, self.keyring.learn(event.data))
        elif event.type == CHECKPOINT:
            checkpoint = checkpoint_of(event.data)
            if checkpoint.log != self.log:
                self.refuse(event.position, event.stream, "a checkpoint of another log")
            elif self.accept(checkpoint, event.position, event.stream):
                return checkpoint.head
        return None

    def accept(
        self, checkpoint: Checkpoint, position: int, stream: str | None, where: str = ""
    ) -> bool:
        refused = self.keyring.check(checkpoint)
        if refused is None:
            self.signed.append(checkpoint.head)
        else:
            self.refuse(position, stream, where + refused)
        return refused is None

    def compare(self, signed: LogHead, held: str) -> None:
        if held != signed.hash:
            self.refuse(
                signed.position,
                None,
                "differs from the hash a valid signed checkpoint vouches for: "
                "the chain was re-hashed up to here",
                "rewritten",
            )

    def refuse(
        self, position: int, stream: str | None, why: str | None, problem: str = "forged"
    ) -> None:
        if why is not None and (
            self.first_problem is None or position < self.first_problem.position
        ):
            self.first_problem = BrokenLink(position, stream, problem, why)
