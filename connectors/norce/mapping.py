"""Norce JSON ↔ Brygga's records: the readers shared by every order shape.

The pushed OrderRequest and the thin OrderReceivedEvent are read in
``order_request``, a Query 2.0 ``Orders/Orders`` item in ``query_order``, and
the SendOrderStatusRequest and OrderResponse Norce expects back are built in
``replies``; all of them read through the field readers, enum tables and
party assembly here.

Norce's .NET side binds JSON case-insensitively and its documentation shows
enums as names while the contracts serialise them as integers, so the readers
accept property names in any case, enums as names or integers, and numbers as
numbers or numeric strings. Structural problems raise ``order.malformed``
naming the field; missing business data (a VAT rate, a customer name) is kept
empty for the order flow to report on the stored record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import ORDER_MALFORMED, SyncError
from core.records import Address, Party

# Norce is a Swedish platform; a SubmitDate/OrderDate written without an offset
# (as .NET does for unspecified DateTimes) is taken to be Stockholm local time.
NORCE_TIME_ZONE = ZoneInfo("Europe/Stockholm")

# Enum tables (name → integer) from the Connect contracts.
ORDER_TYPES: dict[str, int] = {
    "Order": 1,
    "PurchaseOrder": 2,
    "RecurringOrder": 3,
    "RecurringOrderTemplate": 4,
    "ExternalOrder": 5,
}
ORDER_STATUSES: dict[str, int] = {
    "Created": 0,
    "Allocation": 1,
    "Confirmed": 2,
    "BackOrder": 3,
    "Delivered": 4,
    "Invoiced": 5,
    "Cancelled": 6,
    "CreditControl": 7,
    "PartlyDelivered": 8,
    "Acknowledged": 9,
    "ErpConfirmed": 10,
    "ReadyForPickup": 11,
    "PickedUp": 12,
    "NotPickedUp": 13,
    "OnHold": 14,
    "WaitingForCancel": 15,
    "WaitingForOnHoldRemoved": 16,
    "CancelError": 17,
    "AcknowledgementError": 18,
    "ReadyForReservation": 19,
    "Reserved": 20,
}
# OrderItem.Type and .TypeGroup are strings in the contracts; the documented
# member order gives the integers. Type's numbering agrees with the SKU type
# enum (ErpStandard 1, Refurbished 2, Freight 3, Insurance 4, Download 7,
# Structure 8, Invoice 9), which is what an integer here would be.
ITEM_TYPES: dict[str, int] = {
    "Undefined": 0,
    "ErpStandard": 1,
    "Refurbished": 2,
    "Freight": 3,
    "Insurance": 4,
    "GiftCertificate": 5,
    "Bid": 6,
    "Download": 7,
    "Structure": 8,
    "Invoice": 9,
}
ITEM_TYPE_GROUPS: dict[str, int] = {
    "Undefined": 0,
    "Physical": 1,
    "Virtual": 2,
    "Fee": 3,
    "Service": 4,
    "AddedFee": 5,
}
FEE_GROUPS = ("Fee", "AddedFee")

# Freight rows are recognised by Type "Freight". Failing that, a fee row (or a
# Query row without any type) whose code or text contains one of these
# is freight; anywhere in a word, as Swedish compounds them ("Hemleverans",
# "EXPRESSFRAKT"), except "porto", which must stand alone. Tenant-specific
# freight part numbers can be configured for Query rows.
FREIGHT_WORDS = re.compile(r"frakt|freight|shipping|leverans|delivery|(?<![a-z])porto(?![a-z])", re.IGNORECASE)

PRODUCT, FREIGHT, FEE = "product", "freight", "fee"

SE_VAT_NUMBER = re.compile(r"^SE(\d{10})01$")


# --- low-level readers ---------------------------------------------------------------------


def normalise_keys(value: Any) -> Any:
    """`value` with every object key lower-cased, recursively (Norce may send any casing)."""
    if isinstance(value, dict):
        return {str(k).lower(): normalise_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise_keys(v) for v in value]
    return value


def _malformed(field: str, problem: str) -> SyncError:
    return SyncError(ORDER_MALFORMED.code, f"{field}: {problem}", details={"field": field})


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise _malformed("body", f"the order must be a JSON object, got {kind}")
    normalised: dict[str, Any] = normalise_keys(body)
    return normalised


def _object(node: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    """A nested object, {} when absent or null."""
    value = node.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _malformed(field, f"must be an object, got {type(value).__name__}")
    return value


def _list(node: dict[str, Any], key: str, field: str) -> list[Any]:
    """A nested array, [] when absent or null."""
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed(field, f"must be an array, got {type(value).__name__}")
    return value


def _text(node: dict[str, Any], key: str, field: str = "") -> str:
    """A scalar as stripped text, "" when absent or null."""
    value = node.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise _malformed(field or key, f"must be text, got {type(value).__name__}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _first_text(node: dict[str, Any], *keys: str) -> str:
    for key in keys:
        text = _text(node, key)
        if text:
            return text
    return ""


def _number(node: dict[str, Any], key: str, field: str, *, required: bool = False) -> Decimal | None:
    """A number or numeric string as Decimal; None when absent (or an error when `required`)."""
    value = node.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _malformed(field, "is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise _malformed(field, f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _malformed(field, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise _malformed(field, f"{value!r} is not a number")
    return number


def _required_number(node: dict[str, Any], key: str, field: str) -> Decimal:
    """A number that must be there (an error naming `field` when it is absent)."""
    value = _number(node, key, field, required=True)
    assert value is not None  # _number raised for a missing required number
    return value


def _whole(node: dict[str, Any], key: str, field: str) -> int | None:
    """A whole number (int or numeric string); None when absent."""
    number = _number(node, key, field)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise _malformed(field, f"{node.get(key)!r} is not a whole number")
    return int(number)


def enum_name(value: Any, table: Mapping[str, int], field: str) -> str:
    """The canonical member name for a name (any case) or integer; "" when absent.

    An unknown integer or name is kept as given (as text): Norce adds members
    over time, and an unknown item type simply reads as a product row.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _malformed(field, f"{value!r} is neither a name nor a number")
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        return next((name for name, n in table.items() if n == number), str(number))
    return next((name for name in table if name.lower() == text.lower()), text)


def _order_ref(value: Any, field: str) -> str:
    """An order reference given as text or as a whole number, stripped; "" when absent."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _malformed(field, f"must be text or a whole number, got {value!r}")
    return str(value).strip()


def _datetime(node: dict[str, Any], key: str, field: str) -> datetime | None:
    """An ISO 8601 timestamp; a value without a zone is Stockholm time (see NORCE_TIME_ZONE)."""
    text = _text(node, key, field)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _malformed(field, f"{text!r} is not an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=NORCE_TIME_ZONE)


def _items(data: dict[str, Any]) -> list[Any]:
    items = _list(data, "items", "Items")
    if not items:
        raise _malformed("Items", "the order has no items")
    return items


# --- classification and Swedish numbers ----------------------------------------------------
def looks_like_freight(*texts: str) -> bool:
    """Whether a part number or description names shipping (Swedish or English)."""
    return any(text and FREIGHT_WORDS.search(text) for text in texts)


def line_kind(item_type: str, type_group: str, *, codes: Iterable[str] = (), description: str = "") -> str:
    """ "freight", "fee" or "product" for a row with this Type / TypeGroup (canonical names).

    Type "Freight" is freight. Norce documents freight as a row with Type Freight
    and/or TypeGroup Fee, so a Fee/AddedFee row is freight when its code or text
    looks like shipping, and any other fee otherwise. Type "Invoice" is the
    invoice-fee SKU type, so a fee as well.
    """
    if item_type == "Freight":
        return FREIGHT
    if type_group in FEE_GROUPS:
        return FREIGHT if looks_like_freight(*codes, description) else FEE
    if item_type == "Invoice":
        return FEE
    return PRODUCT


def format_organisation_number(value: str) -> str:
    """A Swedish organisation number as NNNNNN-NNNN when it has ten digits; otherwise as given."""
    compact = re.sub(r"[\s-]", "", value)
    if re.fullmatch(r"\d{10}", compact):
        return f"{compact[:6]}-{compact[6:]}"
    return value.strip()


def organisation_number(org_no: str, vat_no: str) -> str:
    """The organisation number: as given, else derived from a Swedish VAT number (SE + org no + 01)."""
    if org_no:
        return format_organisation_number(org_no)
    compact = re.sub(r"[\s-]", "", vat_no).upper()
    match = SE_VAT_NUMBER.match(compact)
    if match:
        return format_organisation_number(match.group(1))
    if re.fullmatch(r"\d{10}", compact):  # shops that put the org number in VatNo
        return format_organisation_number(compact)
    return ""


def vat_number(vat_no: str) -> str:
    """A VAT number (two-letter country prefix), compacted; "" when `vat_no` is something else."""
    compact = re.sub(r"[\s.-]", "", vat_no).upper()
    return compact if re.fullmatch(r"[A-Z]{2}[0-9A-Z]{2,13}", compact) else ""


# --- parties: one reading of company numbers for the push and the poll -------------------
# Where shops and Norce put a company's organisation number (keys lower-cased): the
# contract's Company has only VatNo, so tenants add it as an extra property (both
# spellings), Query addresses carry OrganizationNumber, and AdditionalInfo may hold it.
ORGANISATION_NUMBER_KEYS = (
    "organisationnumber",
    "organizationnumber",
    "organisationno",
    "organizationno",
    "orgno",
    "orgnr",
)
VAT_NUMBER_KEYS = ("vatno", "vatnumber")


def company_numbers(node: dict[str, Any], field: str) -> tuple[str, str]:
    """(organisation number, VAT number) of a company: a pushed Company or a Query address.

    The organisation number is read from any of ORGANISATION_NUMBER_KEYS or an
    AdditionalInfo entry, formatted NNNNNN-NNNN when Swedish; without one it is
    derived from a Swedish VAT number (SE + the ten digits + 01).
    """
    vat_no = _first_field(node, VAT_NUMBER_KEYS, f"{field}.VatNo")
    org_no = _first_field(node, ORGANISATION_NUMBER_KEYS, f"{field}.OrganisationNumber") or _organisation_info(node)
    return organisation_number(org_no, vat_no), vat_number(vat_no)


def _first_field(node: dict[str, Any], keys: Iterable[str], field: str) -> str:
    """The first non-empty text among `keys` (an object or array there is malformed)."""
    for key in keys:
        text = _text(node, key, field)
        if text:
            return text
    return ""


def _organisation_info(company: dict[str, Any]) -> str:
    """An org number among Company.AdditionalInfo (CodeValue: Code2 is the reliable code, Code is buggy)."""
    for entry in company.get("additionalinfo") or []:
        if not isinstance(entry, dict):
            continue
        code = (_text(entry, "code2") or _text(entry, "code")).lower().replace(" ", "")
        if code.startswith(("organi", "orgn")):
            return _text(entry, "value")
    return ""


def make_party(
    *,
    company: bool,
    name: str,
    first_name: str,
    last_name: str,
    email: str,
    phone: str,
    numbers: tuple[str, str] = ("", ""),
    customer_code: str,
    address: Address,
) -> Party:
    """The one place a Party is assembled from what either order shape carries."""
    organisation_no, vat_no = numbers if company else ("", "")
    return Party(
        kind="company" if company else "private",
        name=name,
        first_name=first_name,
        last_name=last_name,
        email=email.strip(),
        phone=phone,
        organisation_number=organisation_no,
        vat_number=vat_no,
        customer_code=customer_code,
        address=address,
    )
