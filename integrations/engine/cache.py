"""The shared cache connectors are handed (core.cache.SharedCache): Django's default cache,
with keys scoped to one connector.

config.settings makes the default cache Redis when REDIS_URL is set, else the database cache
(table brygga_cache): either way one cache for every worker and process. A failing cache is
treated as empty, so a connector then reads from its system as if nothing were kept.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from integrations.models import Connector

log = logging.getLogger("brygga.engine.cache")


class ConnectorCache:
    """Entries of one connector in the default cache, under ``brygga:connector:<pk>:<key>``."""

    def __init__(self, connector: Connector) -> None:
        self.prefix = f"brygga:connector:{connector.pk}:"

    def get(self, key: str) -> Any | None:
        try:
            return cache.get(self.prefix + key)
        except Exception as exc:  # noqa: BLE001 - a cache that fails is a cache that misses
            log.warning("cache read of %s failed: %s", self.prefix + key, exc)
            return None

    def set(self, key: str, value: Any, *, seconds: float) -> None:
        try:
            cache.set(self.prefix + key, value, timeout=max(1, round(seconds)))
        except Exception as exc:  # noqa: BLE001
            log.warning("cache write of %s failed: %s", self.prefix + key, exc)

    def delete(self, key: str) -> None:
        try:
            cache.delete(self.prefix + key)
        except Exception as exc:  # noqa: BLE001
            log.warning("cache delete of %s failed: %s", self.prefix + key, exc)
