"""Visma.net's ``{"field": {"value": x}}`` wrapper on create and update bodies.

Every scalar of an update DTO is sent as ``{"value": x}``; a nested object is wrapped as a
whole and its own fields are wrapped too (``"mainAddress": {"value": {"city": {"value":
"Oslo"}}}``). Arrays of lines are not wrapped: each line is an object whose fields are wrapped,
except the line's ``operation`` ("Insert", "Update", "Delete"), which goes bare. GET bodies are
plain and are never passed through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

# Fields that go bare wherever they stand (the line operation; a few legacy booleans).
BARE_FIELDS = frozenset({"operation", "overrideWithClassValues"})


def wrap(body: Mapping[str, Any]) -> dict[str, Any]:
    """The update DTO for a plain dict; None values are left out (Visma leaves them unchanged)."""
    return {key: _field(key, value) for key, value in body.items() if value is not None}


def _field(key: str, value: Any) -> Any:
    if key in BARE_FIELDS:
        return value
    if isinstance(value, (list, tuple)):
        return [wrap(item) if isinstance(item, Mapping) else _plain(item) for item in value]
    if isinstance(value, Mapping):
        return {"value": wrap(value)}
    return {"value": _plain(value)}


def _plain(value: Any) -> Any:
    """A JSON value: Decimals as numbers with the same digits (int when whole)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def unwrap(body: Any) -> Any:
    """The plain form of a wrapped body (for tests and logs): the inverse of `wrap`."""
    if isinstance(body, list):
        return [unwrap(item) for item in body]
    if not isinstance(body, Mapping):
        return body
    plain: dict[str, Any] = {}
    for key, value in body.items():
        if key in BARE_FIELDS or isinstance(value, list):
            plain[key] = unwrap(value)
        elif isinstance(value, Mapping) and set(value) == {"value"}:
            plain[key] = unwrap(value["value"])
        else:
            plain[key] = unwrap(value)
    return plain
