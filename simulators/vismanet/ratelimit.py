"""Visma.net's rate limit: a fixed window per company + client per hour (policy
``4-fixed-window``), reported on every answer in ``X-RateLimit-*`` headers.

Visma does not publish the number; the simulator's default is 3600 requests per hour,
agreed with the connector (whose budget is a setting and which obeys the headers).
"""

from __future__ import annotations

import math
import time

from simulators.limits import RateLimiter

HOURLY_LIMIT = 3600
WINDOW_SECONDS = 3600.0
POLICY = "4-fixed-window"


class FixedWindow(RateLimiter):
    """At most `limit` requests per key in each window of `window` seconds, windows aligned
    to the first request of the key (the window resets `window` seconds after it opened)."""

    def __init__(self, limit: int = HOURLY_LIMIT, window: float = WINDOW_SECONDS) -> None:
        super().__init__()
        self.limit, self.window = limit, window
        self._windows: dict[str, tuple[float, int]] = {}  # key → (window start, requests counted)

    def _current(self, key: str, now: float) -> tuple[float, int]:
        start, used = self._windows.get(key, (now, 0))
        if now >= start + self.window:
            start, used = now, 0
        return start, used

    def _count(self, key: str, now: float) -> float | None:
        start, used = self._current(key, now)
        if used >= self.limit:
            self._windows[key] = (start, used)
            return start + self.window - now
        self._windows[key] = (start, used + 1)
        return None

    def _forget(self) -> None:
        self._windows.clear()

    def headers(self, key: str | None) -> dict[str, str]:
        """The X-RateLimit-* headers of an answer to `key` (no key: an unidentified caller)."""
        now = time.time()
        with self._lock:
            start, used = self._current(key, now) if key else (now, 0)
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": str(max(0, math.ceil(start + self.window - now))),
            "X-RateLimit-Policy": POLICY,
        }
