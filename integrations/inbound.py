"""Reading what arrives from outside (order pushes, events) so that any input gives a clear answer.

The raw bytes of a body are kept as they came; what goes to PostgreSQL text and JSON
columns is made storable first: PostgreSQL text cannot hold NUL (U+0000) and its JSON
cannot hold a lone UTF-16 surrogate, so those are removed from parsed values and
escaped in readable text. JSON is parsed strictly: NaN, Infinity, numbers beyond a
double (1e400) and nesting deeper than a real order needs are refused with a reason.
The text and credential helpers the connectors' webhooks share are in core.inbound.
"""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.http.request import RawPostDataException

from core.inbound import LONE_SURROGATE, storable_text

# The largest body an inbound webhook accepts (and keeps).
MAX_BODY = 5 * 1024 * 1024
# A Norce OrderRequest nests about six levels deep; far more is not an order.
MAX_DEPTH = 64
# A refused (unauthenticated) request keeps at most this much of its body.
REFUSED_BODY_KEPT = 64 * 1024

_CHUNK = 64 * 1024


class Unreadable(ValueError):
    """A body that cannot be used; `reason` says why, for the sender and for staff."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Body:
    """What arrived: at most `MAX_BODY` bytes, and whether the sender sent more."""

    raw: bytes
    too_large: bool
    charset: str = ""

    @property
    def text(self) -> str:
        """The body as readable text for a text column (NUL and lone surrogates escaped)."""
        return storable_text(decode(self.raw, charset=self.charset))


def read_body(*, request: HttpRequest, limit: int = MAX_BODY) -> Body:
    """Read the request body up to `limit` bytes, whatever Django's upload limit is.

    The stream is read directly, so a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE still
    reaches the receiver, which answers it itself (and keeps what it read).
    """
    charset = str(getattr(request, "content_params", {}).get("charset", "") or "")
    try:
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = request.read(min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
    except RawPostDataException:  # something read request.body already
        raw = request.body[: limit + 1]
    return Body(raw=raw[:limit], too_large=len(raw) > limit, charset=charset)


def decode(raw: bytes, *, charset: str = "") -> str:
    """The body as text: the declared charset when Python knows it, else JSON's own detection
    (UTF-8, -16 or -32, with or without a byte order mark). Undecodable bytes become U+FFFD."""
    if charset:
        try:
            if codecs.lookup(charset)._is_text_encoding:  # e.g. not rot13 or zlib
                return raw.decode(charset, errors="replace").lstrip("\ufeff")
        except (LookupError, UnicodeError, ValueError, TypeError):
            pass
    try:
        encoding = json.detect_encoding(raw)
    except (TypeError, ValueError):
        encoding = "utf-8"
    return raw.decode(encoding, errors="replace").lstrip("\ufeff")


def clean_string(value: str) -> str:
    """A string from a parsed body as the JSON column and the target systems get it:
    NUL removed, a lone surrogate replaced by U+FFFD."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return LONE_SURROGATE.sub("\ufffd", value)


def clean_value(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) cleaned; see clean_string."""
    if isinstance(value, str):
        return clean_string(value)
    if isinstance(value, dict):
        return {clean_string(k): clean_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    return value


def _refuse_constant(name: str) -> Any:
    raise Unreadable(f"Body is not valid JSON: {name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise Unreadable(f"Body is not valid JSON: the number {text[:40]} is too large")
    return number


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


@dataclass(frozen=True)
class Parsed:
    """A parsed body, storable; `altered` when characters had to be removed for that."""

    value: Any
    altered: bool


def parse_body(text: str, *, max_depth: int = MAX_DEPTH) -> Parsed:
    """Parse a JSON body into values every column can store.

    Raises Unreadable (status 400) with a reason for text that is not JSON, for NaN,
    Infinity and numbers beyond a double, and for nesting deeper than `max_depth`.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable(f"Body is nested too deeply (more than {max_depth} levels)") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python reads
        raise Unreadable(f"Body is not valid JSON: {exc}") from None
    if _depth_exceeds(value, max_depth):
        raise Unreadable(f"Body is nested too deeply (more than {max_depth} levels)")
    cleaned = clean_value(value)
    return Parsed(value=cleaned, altered=cleaned != value)
