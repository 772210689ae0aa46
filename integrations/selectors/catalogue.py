"""The error catalogue: every code Brygga and its connectors register, and how often each was logged."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from core import errors
from integrations import registry
from integrations.models import LogEntry


def catalogue_entry(code: str) -> errors.ErrorCode | None:
    """The catalogue entry of a code, with every connector's codes loaded."""
    if not code:
        return None
    entry = errors.lookup(code)
    if entry is None:
        registry.load_error_catalogue()
        entry = errors.lookup(code)
    return entry


def error_catalogue() -> list[errors.ErrorCode]:
    """Every registered error code, sorted by system and code.

    Connector packages register their codes on import. A connector package that
    cannot be imported is logged and skipped so the rest of the catalogue still shows.
    """
    registry.load_error_catalogue()
    return sorted(errors.CATALOGUE.values(), key=lambda entry: (entry.system != "brygga", entry.system, entry.code))


def log_counts_by_code() -> dict[str, int]:
    """How many log entries carry each code (for the catalogue page)."""
    return dict(
        LogEntry.objects.exclude(code="").order_by().values("code").annotate(n=Count("id")).values_list("code", "n")
    )


def search_catalogue(entries: Iterable[errors.ErrorCode], *, query: str) -> list[errors.ErrorCode]:
    """The entries whose code, title, hint or system contain every word of `query` (case-insensitive)."""
    words = query.casefold().split()
    if not words:
        return list(entries)
    return [
        entry
        for entry in entries
        if all(word in f"{entry.code} {entry.title} {entry.hint} {entry.system}".casefold() for word in words)
    ]
