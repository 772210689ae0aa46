"""The shared cache port: what a connector may keep for a while beyond one task (a company's
VAT codes, a lookup table), shared by every worker and process. The engine implements it; a
test may hand in its own (a dict will do)."""

from __future__ import annotations

from typing import Any, Protocol


class SharedCache(Protocol):
    """A key/value store with expiry, scoped to one connector by whoever builds it.

    Values are plain data (dicts, lists, strings, numbers, bytes). Any entry may be gone before
    it expires: a reader treats a miss as "read it from the system again". A failure of the
    store is a miss, never an error."""

    def get(self, key: str) -> Any | None:
        """The value kept under `key`, None when there is none (or it expired)."""
        ...

    def set(self, key: str, value: Any, *, seconds: float) -> None:
        """Keep `value` under `key` for `seconds`."""
        ...

    def delete(self, key: str) -> None: ...
