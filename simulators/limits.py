"""The simulators' rate limits, counted the way each API documents it.

One class per counting rule, one interface: ``hit(key)`` records a request and answers
None when it is allowed, else the seconds until it would be; ``enabled`` switches the
limit off for a test, and ``rejected`` counts what was refused.
"""

from __future__ import annotations

import math
import threading
import time


def retry_after(wait: float) -> str:
    """A Retry-After header value for a wait `hit()` answered: whole seconds, at least one."""
    return str(max(1, math.ceil(wait)))


class RateLimiter:
    """Per-key bookkeeping shared by the counting rules below."""

    def __init__(self) -> None:
        self.enabled = True
        self.rejected = 0
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        if not self.enabled:
            return None
        with self._lock:
            wait = self._count(key, time.time())
            if wait is not None:
                self.rejected += 1
            return wait

    def reset(self) -> None:
        with self._lock:
            self._forget()

    def _count(self, key: str, now: float) -> float | None:
        raise NotImplementedError

    def _forget(self) -> None:
        raise NotImplementedError


class SlidingWindow(RateLimiter):
    """At most `limit` requests in any `window` seconds (Fortnox: 25 per 5 s; Norce Connect: 60 per minute)."""

    def __init__(self, limit: int, window: float) -> None:
        super().__init__()
        self.limit, self.window = limit, window
        self._hits: dict[str, list[float]] = {}

    def _count(self, key: str, now: float) -> float | None:
        hits = [t for t in self._hits.get(key, []) if t > now - self.window]
        self._hits[key] = hits
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return None

    def _forget(self) -> None:
        self._hits.clear()


class TokenBucket(RateLimiter):
    """Holds up to `capacity` requests and refills `per_second` (Norce's token endpoint)."""

    def __init__(self, capacity: float, per_second: float) -> None:
        super().__init__()
        self.capacity, self.per_second = capacity, per_second
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, last update)

    def _count(self, key: str, now: float) -> float | None:
        tokens, last = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.per_second

    def _forget(self) -> None:
        self._buckets.clear()
