"""Fixed-window request counters, in memory only.

The counters hold a key and a count for the current minute, nothing else: for casting the
key is the client's address and no token, ballot or time is kept beside it, so the limiter
can never become a record linking an address to a ballot (docs/architecture.md#2-secret-ballot).
Behind an ingress
the address is the one the trusted proxies saw (`QUNPING_TRUSTED_PROXY_HOPS`). Each gateway
process counts on its own; behind n replicas a client gets up to n times the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one request for `key`; False once the key used up this window's limit."""
        window = int(self._clock() // self.window_seconds)
        with self._lock:
            if window != self._window:
                # A new window forgets every key: nothing outlives its minute.
                self._window, self._counts = window, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
            return count <= self.limit

    def retry_after(self) -> int:
        """Seconds until the current window ends."""
        elapsed = self._clock() % self.window_seconds
        return max(1, int(self.window_seconds - elapsed + 0.999))
