"""Errors every service raises the same way, so callers (and the HTTP gateway) can map them.

They cross nameko RPC intact: each is registered with nameko's exception registry and
keeps every constructor argument in `args`, so the caller gets the same type back.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class QunpingError(Exception):
    """Base of the errors a caller is expected to handle; `status` is the HTTP analogue."""

    status = 500


@deserialize_to_instance
class InvalidInput(QunpingError):
    """The input is malformed; `messages` says, per field, what is wrong. Nothing was written."""

    status = 400

    def __init__(self, messages: dict[str, Any] | str) -> None:
        super().__init__(messages)
        self.messages: dict[str, Any] = (
            messages if isinstance(messages, dict) else {"_schema": [messages]}
        )

    def __str__(self) -> str:
        return f"invalid input: {self.messages}"


@deserialize_to_instance
class NotFound(QunpingError):
    status = 404

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:
        return f"not found: {self.what}"


@deserialize_to_instance
class Refused(QunpingError):
    """The input is well formed but the rules forbid it now (wrong phase, duplicate, quorum)."""

    status = 409

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason, details or {})
        self.reason = reason
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return self.reason


@deserialize_to_instance
class ConcurrencyError(Refused):
    """A stream moved on since the caller read it; re-read and decide again."""

    def __init__(self, stream: str, expected: int | None, actual: int) -> None:
        super().__init__(
            f"stream {stream!r} is at version {actual}, not {expected}",
            {"stream": stream, "expected": expected, "actual": actual},
        )
        self.args = (stream, expected, actual)
        self.stream = stream
        self.expected = expected
        self.actual = actual


@deserialize_to_instance
class InvalidEvent(QunpingError):
    """A service tried to record an event its own schemas refuse: a bug, never user input."""

    def __init__(self, event_type: str, messages: dict[str, Any]) -> None:
        super().__init__(event_type, messages)
        self.event_type = event_type
        self.messages = messages

    def __str__(self) -> str:
        return f"event {self.event_type} does not match its schema: {self.messages}"
