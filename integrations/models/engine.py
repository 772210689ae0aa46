"""State the engine shares between its workers and processes."""

from __future__ import annotations

from django.db import models


class RateLimitBucket(models.Model):
    """Sliding-window request log shared by every worker and process (see integrations.engine.ratelimit)."""

    key = models.CharField(max_length=200, unique=True)
    hits = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key
