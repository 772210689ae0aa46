"""Values as the Visma.net API reads and writes them: the ``{"value": ...}`` wrapper of
create/update bodies, amounts in Decimal, dates and the change filters of lists."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from simulators.vismanet.errors import ApiError, Fault, validation

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ORE = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)

# Fields sent bare although they sit among wrapped ones: the line `operation`, and the
# legacy `overrideWithClassValues` (confidence M). Arrays of lines are never wrapped;
# the elements of `subaccount` arrays are bare {segmentId, segmentValue} objects.
BARE_FIELDS = frozenset({"operation", "overrideWithClassValues"})
BARE_ARRAYS = frozenset({"subaccount"})
LINE_OPERATIONS = ("Insert", "Update", "Delete")


def round_ore(value: Decimal) -> Decimal:
    """Round to öre (two decimals), half up."""
    return value.quantize(ORE, rounding=ROUND_HALF_UP)


def parse_json(body: bytes) -> Any:
    """A request body with every JSON number as Decimal (amounts never pass through float)."""
    if not body.strip():
        return None
    try:
        return json.loads(body.decode("utf-8-sig"), parse_float=Decimal, parse_int=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation(f"The request body is not valid JSON: {exc}") from None


def unwrap(data: Any, path: str = "") -> dict[str, Any]:
    """The plain fields of a wrapped create/update body.

    ``{"name": {"value": "X"}, "mainAddress": {"value": {"city": {"value": "Oslo"}}},
    "invoiceLines": [{"operation": "Insert", "quantity": {"value": 2}}]}`` becomes
    ``{"name": "X", "mainAddress": {"city": "Oslo"}, "invoiceLines": [{"operation": "Insert",
    "quantity": 2}]}``. A scalar that arrives unwrapped, or a wrapped `operation`, is a
    400 (10006) naming the field by its path.
    """
    if not isinstance(data, dict):
        raise validation(f"The request body{' at ' + path if path else ''} must be a JSON object")
    plain: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{path}.{key}" if path else key
        if key in BARE_FIELDS:
            if isinstance(value, dict):
                raise validation(f"The field '{name}' is sent bare, without a value wrapper")
            if key == "operation" and value not in LINE_OPERATIONS:
                raise validation(f"The field '{name}' must be one of {', '.join(LINE_OPERATIONS)}")
            plain[key] = value
        elif isinstance(value, list):
            if key in BARE_ARRAYS:
                plain[key] = value
            else:
                plain[key] = [unwrap(line, f"{name}[{i}]") for i, line in enumerate(value)]
        elif isinstance(value, dict) and set(value) == {"value"}:
            inner = value["value"]
            plain[key] = unwrap(inner, name) if isinstance(inner, dict) else inner
        else:
            raise validation(f"The field '{name}' must be wrapped as {{\"value\": ...}}")
    return plain


def to_decimal(value: Any, field: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise validation(f"The field '{field}' must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise validation(f"The field '{field}' must be a number") from None
    if not number.is_finite():
        raise validation(f"The field '{field}' must be a number")
    return number


def to_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise validation(f"The field '{field}' must be true or false")


def parse_document_date(value: Any, field: str) -> date:
    """A date field of a body: ``2026-05-04``, or a date-time ``2026-05-04T00:00:00``."""
    text = str(value or "").strip()
    try:
        return datetime.fromisoformat(text).date() if "T" in text or " " in text else date.fromisoformat(text)
    except ValueError:
        raise validation(f"The field '{field}' is not a date: {value!r}") from None


def day_time(value: date) -> str:
    """A date as the GET DTOs write it: ``2026-05-04T00:00:00``."""
    return f"{value.isoformat()}T00:00:00"


def stamp(value: datetime | None) -> str | None:
    """A change timestamp as the GET DTOs write it: company-local time without offset, milliseconds."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds")


def money(value: Decimal | None) -> float | None:
    """A Decimal amount for a JSON body (two decimals hold exactly in a float's shortest repr)."""
    return None if value is None else float(value)


def row_version(counter: int) -> str:
    """The `timeStamp` of a record (base64 of an 8-byte row version); the ETag is it quoted."""
    return base64.b64encode(counter.to_bytes(8, "big")).decode()


# -- change filters --------------------------------------------------------------------------------

FILTER_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
)
CONDITIONS = (">", ">=", "<", "<=")


def parse_filter_datetime(value: str, field: str) -> datetime:
    """``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ss[.FFF]`` or ``yyyy-MM-ddTHH:mm:ss[.FFF]``, company time."""
    text = value.strip()
    for fmt in FILTER_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if ".%f" in fmt and len(text.rsplit(".", 1)[1]) > 3:
            break  # at most milliseconds (.FFF)
        return parsed
    raise ApiError(400, f"Invalid value for '{field}': '{value}' is not a supported date format", Fault.VALIDATION)


class ChangeFilter:
    """A ``<name>`` + ``<name>Condition`` pair of list query parameters, both required together."""

    def __init__(self, query: dict[str, str], name: str) -> None:
        self.name = name
        raw, condition = query.get(name, ""), query.get(f"{name}Condition", "")
        self.active = bool(raw or condition)
        if not self.active:
            return
        if not raw or not condition:
            raise validation(f"'{name}' and '{name}Condition' must be given together")
        if condition not in CONDITIONS:
            raise validation(f"Invalid value for '{name}Condition': '{condition}' (use >, >=, < or <=)")
        self.when, self.condition = parse_filter_datetime(raw, name), condition

    def accepts(self, value: datetime | None) -> bool:
        if not self.active:
            return True
        if value is None:
            return False
        when = self.when
        return {
            ">": value > when,
            ">=": value >= when,
            "<": value < when,
            "<=": value <= when,
        }[self.condition]
