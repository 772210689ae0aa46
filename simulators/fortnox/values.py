"""Amounts, numbers, texts and dates as the Fortnox API reads and writes them."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from simulators.fortnox.errors import ApiError, Code

STOCKHOLM = ZoneInfo("Europe/Stockholm")

ORE = Decimal("0.01")
HUNDRED = Decimal(100)


def round_ore(value: Decimal) -> Decimal:
    """Round to öre (2 decimals), half up, as Fortnox does."""
    return value.quantize(ORE, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, field_name: str = "") -> Decimal:
    """A JSON number or numeric string as Decimal ("2", "2.5", "2,5"); 400 2000108 otherwise."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC)
    try:
        number = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise ApiError(
            400, f"Värdet måste vara numeriskt ({value}){' i ' + field_name if field_name else ''}", Code.NOT_NUMERIC
        ) from None
    if not number.is_finite():
        raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC)
    return number


def number(value: Decimal) -> float | int:
    """Decimal → JSON number (integers stay integers)."""
    return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)


def quantity_text(value: Decimal) -> str:
    """DeliveredQuantity as Fortnox returns it: a string with (at least) two decimals."""
    return str(value.quantize(ORE)) if value == value.quantize(ORE) else format(value.normalize(), "f")


def as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def natural_key(value: Any) -> tuple[int, Decimal, str]:
    text = as_text(value)
    try:
        numeric = Decimal(text)
    except InvalidOperation:
        return (1, Decimal(0), text.lower())
    return (0, numeric, "") if numeric.is_finite() else (1, Decimal(0), text.lower())


def parse_day(value: Any, field_name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, f"Ogiltigt datum ({value}) i {field_name}", Code.INVALID_VALUE) from None
