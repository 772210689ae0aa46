"""The rate limiter connectors are handed: a sliding window shared by every worker and process.

The window lives in one database row per key (see integrations.models.RateLimitBucket).
`acquire()` locks the row, drops hits older than the window and either records a
new hit or learns how long to wait. Because the lock is in the database, all
django-q2 workers on all machines share one budget, as the APIs count it.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction

from core.errors import HTTP_RATE_LIMITED, SyncError
from core.limits import RateLimit
from integrations.models import RateLimitBucket


def rate_limits_enabled() -> bool:
    return bool(settings.BRYGGA.get("RATE_LIMITS", True))


def try_acquire(key: str, rate: RateLimit, *, now: float | None = None, priority: bool = False) -> float:
    """Record a hit if the window allows it and return 0; otherwise return seconds to wait."""
    span = rate.window + rate.margin
    allowed = rate.allowed(priority)
    with transaction.atomic():
        RateLimitBucket.objects.get_or_create(key=key)
        bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        # Read the clock only once the lock is held: a caller that waited for the lock
        # must not record the earlier moment at which it started waiting.
        now = time.time() if now is None else now
        hits = [h for h in bucket.hits if h > now - span]
        if len(hits) < allowed:
            hits.append(now)
            bucket.hits = hits
            bucket.save(update_fields=["hits", "updated_at"])
            return 0.0
        if len(hits) != len(bucket.hits):
            bucket.hits = hits
            bucket.save(update_fields=["hits", "updated_at"])
        hits.sort()
        return max(0.005, hits[-allowed] + span - now)


def acquire(key: str, rate: RateLimit, *, max_wait: float = 300.0, priority: bool = False) -> float:
    """Block until a request may be sent under `rate`; return the seconds waited."""
    if not rate_limits_enabled():
        return 0.0
    waited = 0.0
    while True:
        wait = try_acquire(key, rate, priority=priority)
        if wait <= 0:
            return waited
        if waited + wait > max_wait:
            raise SyncError(
                HTTP_RATE_LIMITED.code,
                f"Rate limit {rate.limit}/{rate.window:g}s for {key} still full after {waited:.0f}s",
                retry_after=wait,
            )
        time.sleep(wait)
        waited += wait


def penalise(key: str, rate: RateLimit, seconds: float) -> None:
    """After an unexpected 429, fill the window so no worker sends for `seconds`."""
    if not rate_limits_enabled():
        return
    now = time.time()
    until = now + seconds - (rate.window + rate.margin)
    with transaction.atomic():
        RateLimitBucket.objects.get_or_create(key=key)
        bucket = RateLimitBucket.objects.select_for_update().get(key=key)
        bucket.hits = [max(until, now - rate.window)] * rate.limit
        bucket.save(update_fields=["hits", "updated_at"])


class DatabaseRateLimiter:
    """The `core.ports.RateLimiter` every connector client is handed."""

    def acquire(self, key: str, rate: RateLimit, *, priority: bool = False) -> float:
        return acquire(key, rate, priority=priority)

    def penalise(self, key: str, rate: RateLimit, seconds: float) -> None:
        penalise(key, rate, seconds)
