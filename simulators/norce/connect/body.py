"""Reading an import body: its items parsed one by one from the stream, their property names
read case-insensitively (as ASP.NET binds them), identifiers and numbers."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from simulators.norce.connect.enums import (
    ACCOUNT_FIELD,
    COMPANY_FIELD,
    CUSTOMER_FIELD,
    PRODUCT_CULTURE_FIELD,
    PRODUCT_FIELD,
    SKU_CULTURE_FIELD,
    SKU_FIELD,
    SKU_ONHAND_FIELD,
    SKU_PRICE_LIST_FIELD,
    VARIANT_CULTURE_FIELD,
    VARIANT_FIELD,
)
from simulators.norce.connect.header import _RENAMES

MAX_ITEM_CHARS = 16 << 20  # one item larger than this is treated as invalid JSON

_KNOWN_PROPERTIES = {
    "PartNo",
    "ManufacturerCode",
    "ManufacturerPartNo",
    "Code",
    "Variants",
    "Skus",
    "Cultures",
    "CultureCode",
    "PriceListCode",
    "QuantityBreak",
    "CurrencyCode",
    "WarehouseCode",
    "LocationCode",
    "StandardPrice",
    "VatRates",
    "AssortmentCode",
    "PriceRuleValue",
    "LoginName",
    "Password",
    "Roles",
    "Status",
    "Customers",
    *(
        _RENAMES.get(n, n)
        for table in (
            PRODUCT_FIELD,
            PRODUCT_CULTURE_FIELD,
            VARIANT_FIELD,
            VARIANT_CULTURE_FIELD,
            SKU_FIELD,
            SKU_CULTURE_FIELD,
            SKU_PRICE_LIST_FIELD,
            SKU_ONHAND_FIELD,
            CUSTOMER_FIELD,
            COMPANY_FIELD,
            ACCOUNT_FIELD,
        )
        for n in table
    ),
}
_CANONICAL = {name.lower(): name for name in _KNOWN_PROPERTIES}


def _norm(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with known property names in their canonical case (unchanged if already so)."""
    for key in data:
        if key not in _KNOWN_PROPERTIES:
            break
    else:
        return data
    return {_CANONICAL.get(k.lower(), k) if isinstance(k, str) else k: v for k, v in data.items()}


def _ident(value: Any) -> str | None:
    """An identifier as a string; None when missing or empty."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> int | float | None:
    """A JSON number, or a numeric string (as .NET's decimal binding takes it); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def _valid_ean(value: Any) -> bool:
    text = str(value).strip()
    return text.isdigit() and len(text) in (8, 12, 13, 14)


# -- incremental body parsing ---------------------------------------------------------------


class BodyError(ValueError):
    """A body that is not a JSON array or back-to-back JSON objects: answered with 400."""


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def iter_json_items(
    read: Callable[[int], bytes], *, chunk_size: int = 1 << 20, tee: Callable[[bytes], Any] | None = None
) -> Iterator[Any]:
    """The items of a body read in chunks: a JSON array (``[{...}, {...}]``) or JSON
    values back to back with no brackets or commas (``{...}{...}``), as the older .NET
    client streams them. Only a window of the text is held at a time. `tee` gets every
    chunk as read. Raises BodyError where the body stops being JSON.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    buffer, position, consumed, eof = "", 0, 0, False

    def more() -> None:
        nonlocal buffer, position, consumed, eof
        data = read(chunk_size)
        if tee is not None and data:
            tee(data)
        try:
            text = utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise BodyError(f"the body is not UTF-8: {exc.reason}") from None
        eof = not data
        consumed += position
        buffer, position = buffer[position:] + text, 0

    def skip_whitespace() -> bool:
        """Move past whitespace; False at the end of the body."""
        nonlocal position
        while True:
            position = _WHITESPACE.match(buffer, position).end()
            if position < len(buffer):
                return True
            if eof:
                return False
            more()

    def fail(message: str) -> BodyError:
        return BodyError(f"invalid JSON body at character {consumed + position}: {message}")

    if not skip_whitespace():
        return
    array = buffer[position] == "["
    if array:
        position += 1
    first = True
    while True:
        if not skip_whitespace():
            if array:
                raise fail("the array is not closed")
            return
        if array:
            char = buffer[position]
            if char == "]":
                position += 1
                if skip_whitespace():
                    raise fail("data after the closing ']'")
                return
            if not first:
                if char != ",":
                    raise fail(f"expected ',' or ']' but found {char!r}")
                position += 1
                if not skip_whitespace():
                    raise fail("the array is not closed")
        elif buffer[position] not in "{[":
            raise fail("expected a JSON array or JSON objects")
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if eof or len(buffer) - position > MAX_ITEM_CHARS:
                    raise fail(exc.msg) from None
                more()
                continue
            if end == len(buffer) and not eof and not isinstance(value, (dict, list)):
                more()  # a number may go on in the next chunk
                continue
            break
        position, first = end, False
        yield value


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        self.offset += len(chunk)
        return chunk
