"""OData query options of Query 2.0: the subset of ``$filter`` and ``$orderby`` an order poller needs."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


class FilterError(ValueError):
    """A query option the simulator cannot parse: answered with 400, as OData does."""


Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Filterable order properties and the literal type each one takes.
FILTER_FIELDS: dict[str, str] = {
    "Id": "int",
    "ClientId": "int",
    "ApplicationId": "int",
    "StatusId": "int",
    "QuotationId": "int",
    "OrderNo": "string",
    "ClientOrderRef": "string",
    "OrderDate": "datetime",
    "Created": "datetime",
    "Updated": "datetime",
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FILTER_TOKEN = re.compile(
    r"""\s*(?:
    (?P<paren>[()])
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_]\w*)
)""",
    re.VERBOSE,
)


def parse_datetime(text: str) -> datetime:
    """An OData datetime literal; without an offset it is read as UTC."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?", text)
    if not match:
        raise FilterError(f"invalid datetime literal {text!r}")
    base, fraction, offset = match.groups()
    normalised = base + (f".{(fraction or '')[:6].ljust(6, '0')}" if fraction else "")
    normalised += "+00:00" if offset in (None, "Z") else offset
    try:
        return datetime.fromisoformat(normalised).astimezone(UTC)
    except ValueError as exc:
        raise FilterError(f"invalid datetime literal {text!r}: {exc}") from None


def parse_filter(text: str) -> Predicate:
    """Compile an OData ``$filter`` into a predicate over a row of order properties.

    Grammar: ``expr := and_expr ('or' and_expr)*``, ``and_expr := primary ('and'
    primary)*``, ``primary := '(' expr ')' | Property op literal`` with ``op`` one of
    eq ne gt ge lt le and literals null, integers, 'strings' ('' escapes a quote) and
    unquoted datetimes. Keywords are lower-case, as in OData. Anything else raises
    FilterError. Comparisons with null follow OData: only eq/ne can be true.
    """
    return _FilterParser(text).parse()


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = _FILTER_TOKEN.match(text, position)
            if not match or match.lastgroup is None:
                raise FilterError(f"$filter: cannot parse {text[position:].strip()[:30]!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.position = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterError("$filter is empty")
        predicate = self._or()
        if self.position < len(self.tokens):
            raise FilterError(f"$filter: unexpected {self.tokens[self.position][1]!r}")
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self, expected: str) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError(f"$filter ends where {expected} was expected")
        self.position += 1
        return token

    def _accept(self, kind: str, value: str) -> bool:
        if self._peek() == (kind, value):
            self.position += 1
            return True
        return False

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._accept("word", "or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._primary()]
        while self._accept("word", "and"):
            parts.append(self._primary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _primary(self) -> Predicate:
        if self._accept("paren", "("):
            inner = self._or()
            if not self._accept("paren", ")"):
                raise FilterError("$filter: missing ')'")
            return inner
        kind, name = self._next("a property")
        if kind != "word" or name not in FILTER_FIELDS:
            raise FilterError(f"$filter: unknown or unsupported property {name!r}")
        kind, op = self._next("an operator")
        if kind != "word" or op not in _COMPARE:
            raise FilterError(f"$filter: unsupported operator {op!r} after {name}")
        literal = self._literal(name)
        compare = _COMPARE[op]

        def predicate(row: Row) -> bool:
            value = row.get(name)
            if value is None or literal is None:
                return (value is None and literal is None) == (op == "eq") if op in ("eq", "ne") else False
            return compare(value, literal)

        return predicate

    def _literal(self, name: str) -> Any:
        kind, text = self._next("a literal")
        if (kind, text) == ("word", "null"):
            return None
        expected = FILTER_FIELDS[name]
        if expected == "datetime" and kind == "datetime":
            return parse_datetime(text)
        if expected == "int" and kind == "number" and "." not in text:
            return int(text)
        if expected == "string" and kind == "string":
            return text[1:-1].replace("''", "'")
        raise FilterError(f"$filter: {name} is compared with a {expected}, not {text!r}")


def parse_orderby(text: str) -> list[tuple[str, bool]]:
    """``$orderby`` → [(property, descending)]."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or words[0] not in FILTER_FIELDS
            or (len(words) == 2 and words[1] not in ("asc", "desc"))
        ):
            raise FilterError(f"$orderby: cannot parse {part.strip()!r}")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return keys


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise FilterError("unbalanced parentheses")
        current += char
    if depth:
        raise FilterError("unbalanced parentheses")
    parts.append(current.strip())
    return parts
