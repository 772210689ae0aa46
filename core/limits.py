"""A rate limit as an API documents it: so many requests per window."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    limit: int  # requests ...
    window: float  # ... per this many seconds
    # Extra seconds added to the window: our clock stamps a request before it is
    # sent, the API counts it on arrival; the margin absorbs that latency.
    margin: float = 0.1
    # Requests of the window kept for priority callers (e.g. stock updates): others may
    # use only `limit - reserve`, so a long bulk import never starves them.
    reserve: int = 0

    def allowed(self, priority: bool) -> int:
        return self.limit if priority or self.reserve <= 0 else max(1, self.limit - self.reserve)
