"""Settings given as JSON (a flow's or a connector's), read into typed dataclasses.

One reader for every schema: each field takes the type its dataclass gives it (bool, a whole
number ≥ 0 — also written as digits, "20" — text, a list of texts, or one of those or None),
a value outside its allowed choices is refused, and every problem is named with its field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from types import UnionType
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")


def _digits(value: Any) -> bool:
    """A whole number written as text ("20"): read as the number."""
    return isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()


def _optional(kind: Any) -> bool:
    return isinstance(kind, UnionType) and type(None) in kind.__args__


def _problem(name: str, value: Any, kind: Any) -> str | None:
    if _optional(kind):
        if value is None or value == "":
            return None
        kind = next(k for k in kind.__args__ if k is not type(None))
    if kind is bool:
        return None if isinstance(value, bool) else f"{name} must be true or false"
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok or _digits(value) else f"{name} must be a whole number ≥ 0"
    if kind is str:
        return None if isinstance(value, str) else f"{name} must be text"
    if getattr(kind, "__origin__", None) is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return None if ok else f"{name} must be a list of strings"
    return None


def field_names(schema: type) -> list[str]:
    return [f.name for f in fields(schema)]


def read(
    schema: type[T], raw: Mapping[str, Any] | None, *, choices: Mapping[str, Sequence[Any]] | None = None
) -> tuple[T, list[str]]:
    """The schema's fields read from `raw` (keys it does not have are left to other schemas),
    with the problems found; defaults stand for what `raw` does not give (or gives wrongly)."""
    assert is_dataclass(schema)
    raw = dict(raw or {})
    hints = get_type_hints(schema)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in field_names(schema):
        if name not in raw:
            continue
        value = raw[name]
        problem = _problem(name, value, hints[name])
        allowed = (choices or {}).get(name)
        if problem is None and allowed is not None and value not in allowed:
            problem = f"{name} must be one of {', '.join(str(a) for a in allowed if a != '')}"
        if problem:
            problems.append(problem)
            continue
        if value == "" and _optional(hints[name]):
            value = None
        elif _digits(value) and int in (hints[name], *getattr(hints[name], "__args__", ())):
            value = int(value.strip())
        values[name] = value
    settings = schema(**values)
    check = getattr(settings, "check", None)
    if check is not None and not problems:
        problems.extend(check())
    return settings, problems


def unknown(raw: Mapping[str, Any] | None, known: Iterable[str]) -> str | None:
    """The problem of keys no schema has, naming them and the known ones; None when there are none."""
    names = set(known)
    extra = sorted(set(raw or {}) - names)
    if not extra:
        return None
    return f"Unknown setting(s): {', '.join(extra)}. Known: {', '.join(sorted(names))}"
