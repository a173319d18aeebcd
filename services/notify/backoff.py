"""When to try a failed delivery again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    base_seconds: float = 2.0
    max_seconds: float = 600.0
    jitter: float = 0.5
    """Share of each delay drawn at random, so receivers coming back are not stampeded."""
    max_attempts: int = 8
    """Attempts in all before the delivery goes to the dead-letter list."""

    def delay_after(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return float(ceiling * (1 - self.jitter * draw()))

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
