"""Norce JSON ↔ Brygga's records.

Reads the OrderRequest Norce pushes to the order receiver, the thin
OrderReceivedEvent, and a Query 2.0 ``Orders/Orders`` item; builds the
SendOrderStatusRequest and the OrderResponse Norce expects back.

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
from core.records import Address, Order, OrderLine, Party, Payment

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

# Query 2.0 orders carry a CurrencyId (a row in Core/Currencies), not a code. The
# ids are tenant-specific: this default covers the common single-currency SEK
# shop; the Norce connector setting `currency_ids` ({"1": "SEK", "2": "EUR"})
# replaces it.
DEFAULT_CURRENCY_IDS: dict[int, str] = {1: "SEK"}

# Freight rows are recognised by Type "Freight". Failing that, a fee row (or a
# Query row without any type) whose code or text contains one of these
# is freight; anywhere in a word, as Swedish compounds them ("Hemleverans",
# "EXPRESSFRAKT"), except "porto", which must stand alone. Tenant-specific
# freight part numbers can be configured for Query rows.
FREIGHT_WORDS = re.compile(r"frakt|freight|shipping|leverans|delivery|(?<![a-z])porto(?![a-z])", re.IGNORECASE)

PRODUCT, FREIGHT, FEE = "product", "freight", "fee"

# Query rows may carry the SKU's type id (SkuType in the contracts): Freight 3,
# FreightStructure 36; Invoice 9 (invoice fee), EnvironmentalFee 20, PackingFee 21.
SKU_TYPE_KINDS: dict[int, str] = {3: FREIGHT, 36: FREIGHT, 9: FEE, 20: FEE, 21: FEE}

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


# --- OrderRequest (push) -------------------------------------------------------------------


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise _malformed("body", f"the order must be a JSON object, got {kind}")
    normalised: dict[str, Any] = normalise_keys(body)
    return normalised


def _address(node: dict[str, Any], field: str) -> Address:
    return Address(
        line1=_text(node, "line1", f"{field}.Line1"),
        line2=_text(node, "line2", f"{field}.Line2"),
        zip_code=_text(node, "zipcode", f"{field}.ZipCode"),
        city=_text(node, "city", f"{field}.City"),
        country=_text(node, "country", f"{field}.Country").upper(),
        care_of=_text(node, "careof", f"{field}.CareOf"),
    )


def _company_address(company: dict[str, Any], field: str) -> Address:
    """The first of Company.Addresses (an array, or an object holding one)."""
    value = company.get("addresses")
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, (list, dict))), [value])
    entries = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    first = next((e for e in entries if isinstance(e, dict)), None)
    return _address(first, f"{field}.Addresses[0]") if first else Address()


def _is_company(company: dict[str, Any]) -> bool:
    return bool(_text(company, "code") or _text(company, "name"))


def _has_party(node: dict[str, Any]) -> bool:
    company = node.get("company")
    return bool(node.get("person")) or (isinstance(company, dict) and _is_company(company))


def _organisation_info(company: dict[str, Any]) -> str:
    """An org number among Company.AdditionalInfo (CodeValue: Code2 is the reliable code, Code is buggy)."""
    for entry in company.get("additionalinfo") or []:
        if not isinstance(entry, dict):
            continue
        code = (_text(entry, "code2") or _text(entry, "code")).lower().replace(" ", "")
        if code.startswith(("organi", "orgn")):
            return _text(entry, "value")
    return ""


def party_from_client_customer(node: dict[str, Any], field: str) -> Party:
    """A Party from a ClientCustomer (`{Company, Person}`, keys already lower-cased)."""
    company = _object(node, "company", f"{field}.Company")
    person = _object(node, "person", f"{field}.Person")
    address = _address(_object(person, "address", f"{field}.Person.Address"), f"{field}.Person.Address")
    first, last = _text(person, "firstname"), _text(person, "lastname")
    email = _text(person, "email")
    phone = _first_text(person, "cellphone", "workphone", "privatephone")
    if _is_company(company):
        if address == Address():
            address = _company_address(company, f"{field}.Company")
        return make_party(
            company=True,
            name=_text(company, "name"),
            first_name=first,
            last_name=last,
            email=email or _text(company, "email"),
            phone=phone or _text(company, "phone"),
            numbers=company_numbers(company, f"{field}.Company"),
            customer_code=_text(company, "code"),
            address=address,
        )
    return make_party(
        company=False,
        name=" ".join(p for p in (first, last) if p),
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        customer_code=_text(person, "customercode"),
        address=address,
    )


def _required_number(node: dict[str, Any], key: str, field: str) -> Decimal:
    """A number that must be there (an error naming `field` when it is absent)."""
    value = _number(node, key, field, required=True)
    assert value is not None  # _number raised for a missing required number
    return value


def _quantity(item: dict[str, Any], field: str) -> Decimal:
    """Quantity (an int in the contract), or Quantity2 when that holds a fraction."""
    quantity = _number(item, "quantity", f"{field}.Quantity")
    quantity2 = _number(item, "quantity2", f"{field}.Quantity2")
    if quantity2 is not None and (quantity is None or quantity2 != quantity2.to_integral_value()):
        return quantity2
    if quantity is None:
        raise _malformed(f"{field}.Quantity", "is missing")
    return quantity


def _request_line(item: Any, index: int) -> OrderLine:
    field = f"Items[{index}]"
    if not isinstance(item, dict):
        raise _malformed(field, f"must be an object, got {type(item).__name__}")
    item_type = enum_name(item.get("type"), ITEM_TYPES, f"{field}.Type")
    type_group = enum_name(item.get("typegroup"), ITEM_TYPE_GROUPS, f"{field}.TypeGroup")
    norce_part_no = _text(item, "partno", f"{field}.PartNo")
    # ErpPartNo is the ERP's article number for the SKU; Norce's PartNo otherwise.
    part_no = _text(item, "erppartno", f"{field}.ErpPartNo") or norce_part_no
    description = _text(item, "description", f"{field}.Description") or part_no
    line_no = _whole(item, "lineno", f"{field}.LineNo")
    return OrderLine(
        line_no=line_no if line_no is not None else index + 1,
        kind=line_kind(item_type, type_group, codes=(norce_part_no, part_no), description=description),
        part_no=part_no,
        description=description,
        quantity=_quantity(item, field),
        unit_price=_required_number(item, "unitprice", f"{field}.UnitPrice"),
        vat_rate=_number(item, "vatrate", f"{field}.VatRate"),
        unit_vat=_number(item, "unitvat", f"{field}.UnitVat"),
        unit_price_original=_number(item, "unitpriceoriginal", f"{field}.UnitPriceOriginal"),
    )


def _payment(node: Any, index: int, currency: str) -> Payment:
    field = f"Payments[{index}]"
    if not isinstance(node, dict):
        raise _malformed(field, f"must be an object, got {type(node).__name__}")
    return Payment(
        method=_text(node, "paymentmethodcode", f"{field}.PaymentMethodCode"),
        reference=_text(node, "paymentref", f"{field}.PaymentRef"),
        amount=_number(node, "amount", f"{field}.Amount") or Decimal("0"),
        currency=_text(node, "currencycode", f"{field}.CurrencyCode").upper() or currency,
        name=_text(node, "paymentname", f"{field}.PaymentName"),
    )


def _items(data: dict[str, Any]) -> list[Any]:
    items = _list(data, "items", "Items")
    if not items:
        raise _malformed("Items", "the order has no items")
    return items


def order_type(body: Any) -> str:
    """The OrderType of a pushed OrderRequest as a canonical name ("Order", "ExternalOrder", …)."""
    data = _require_object(body)
    return enum_name(data.get("ordertype"), ORDER_TYPES, "OrderType")


def order_from_request(body: Any) -> Order:
    """Read an OrderRequest pushed by Norce to the order receiver.

    Raises SyncError ``order.malformed`` (naming the field) when the body cannot
    be an order: not an object, no ClientOrderRef, no Items, a wrongly typed
    value. Business gaps (no VAT rate, no currency, no buyer) stay empty.

    Order-level ``Fees`` and ``Discounts`` are not turned into rows: Norce sends
    fees and freight as Items and prices Items after discounts, and reading both
    would count them twice; an order that really used them fails the flow's
    total check against its payments, with the body kept for inspection.
    """
    data = _require_object(body)
    ref = _order_ref(data.get("clientorderref"), "ClientOrderRef")
    if not ref:
        raise _malformed("ClientOrderRef", "is missing")
    lines = [_request_line(item, i) for i, item in enumerate(_items(data))]
    currency = _text(data, "currencycode", "CurrencyCode").upper()
    bill_to = _object(data, "billto", "BillTo")
    sell_to = _object(data, "sellto", "SellTo")
    ship_to = _object(data, "shipto", "ShipTo")
    # The payer (BillTo) is the invoice customer; SellTo when BillTo is empty.
    buyer = (
        party_from_client_customer(bill_to, "BillTo")
        if _has_party(bill_to)
        else party_from_client_customer(sell_to, "SellTo")
    )
    discounts = [d for d in _list(data, "discounts", "Discounts") if isinstance(d, dict)]
    return Order(
        source_id=ref,
        order_no=ref,
        currency=currency,
        buyer=buyer,
        lines=lines,
        placed_at=_datetime(data, "submitdate", "SubmitDate"),
        ship_to=party_from_client_customer(ship_to, "ShipTo") if _has_party(ship_to) else None,
        payments=[_payment(p, i, currency) for i, p in enumerate(_list(data, "payments", "Payments"))],
        customer_reference=_text(data, "customerorderref", "CustomerOrderRef"),
        comment=_text(data, "customerordercomment", "CustomerOrderComment"),
        discount_code=_text(data, "discountcode", "DiscountCode")
        or next((_text(d, "code") for d in discounts if _text(d, "code")), ""),
        delivery_method=_text(
            _object(data, "shippingadvice", "ShippingAdvice"), "deliverymethodcode", "ShippingAdvice.DeliveryMethodCode"
        ),
        # OrderRequest carries Header.ApplicationKey (a GUID), not the numeric id.
        application_id=_text(data, "applicationid", "ApplicationId"),
    )


def event_client_order_ref(body: Any) -> str:
    """The ClientOrderRef of an OrderReceivedEvent (or any order event)."""
    if not isinstance(body, dict):
        kind = "null" if body is None else type(body).__name__
        raise _malformed("body", f"the event must be a JSON object, got {kind}")
    data = normalise_keys(body)
    ref = _order_ref(data.get("clientorderref"), "ClientOrderRef")
    if not ref:
        raise _malformed("ClientOrderRef", "is missing")
    return ref


# --- Query 2.0 order -----------------------------------------------------------------------


def _currency_code(currency_id: int, currency_ids: Mapping[Any, str] | None) -> str:
    """The ISO code for a Query CurrencyId; "" when the table does not know it."""
    table = DEFAULT_CURRENCY_IDS if currency_ids is None else currency_ids
    codes = {str(k).strip(): str(v).strip().upper() for k, v in table.items()}
    return codes.get(str(currency_id), "")


def _query_country(node: dict[str, Any], country_ids: Mapping[Any, str] | None) -> str:
    """ISO country code: CountryCode/Country when present, else CountryId via `country_ids`."""
    code = _first_text(node, "countrycode", "country")
    if code:
        return code.upper()
    country_id = _text(node, "countryid")
    if country_id and country_ids:
        table = {str(k): str(v).upper() for k, v in country_ids.items()}
        return table.get(country_id, "")
    return ""


ROLE_FIELDS = {"buyer": "Buyer", "payer": "Payer", "shipto": "ShipTo"}


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def _query_party(
    order: dict[str, Any], role: str, node: dict[str, Any], country_ids: Mapping[Any, str] | None
) -> Party:
    """A Party from a Query order address (Buyer/Payer/ShipTo) plus the order's role ids.

    A company is recognised by the order's `{role}CompanyId/Code` or by company
    fields on the address (CompanyCode/CompanyName/OrganizationNumber: the 2.0
    spelling is unverified); then Name is the company and Attention the contact.
    Without an organisation number on the order it stays empty here (it lives on
    the company in Customers/Companies).
    """
    field = ROLE_FIELDS[role]
    company_code = _text(node, "companycode") or _text(order, f"{role}companycode")
    company_name = _text(node, "companyname")
    is_company = bool(company_code or company_name or _text(order, f"{role}companyid"))
    name = _text(node, "name", f"{field}.Name")
    contact = _text(node, "attention", f"{field}.Attention") if is_company else name
    first, last = _split_name(contact)
    return make_party(
        company=is_company,
        name=(company_name or name) if is_company else name,
        first_name=first,
        last_name=last,
        email=_text(node, "emailaddress", f"{field}.EmailAddress") or _text(node, "email", f"{field}.Email"),
        phone=_first_text(node, "phonenumber", "shippingphonenumber"),
        numbers=company_numbers(node, field),
        customer_code=company_code or _text(order, f"{role}customercode"),
        address=Address(
            line1=_text(node, "line1", f"{field}.Line1"),
            line2=_text(node, "line2", f"{field}.Line2"),
            zip_code=_text(node, "zipcode", f"{field}.ZipCode"),
            city=_text(node, "city", f"{field}.City"),
            country=_query_country(node, country_ids),
            care_of=_text(node, "careof", f"{field}.CareOf"),
        ),
    )


def _query_line(item: Any, index: int, freight_part_nos: set[str]) -> OrderLine:
    field = f"Items[{index}]"
    if not isinstance(item, dict):
        raise _malformed(field, f"must be an object, got {type(item).__name__}")
    part_no = _text(item, "partno", f"{field}.PartNo")
    description = _text(item, "productname", f"{field}.ProductName") or part_no
    quantity = _required_number(item, "qtyordered", f"{field}.QtyOrdered")
    unit_price = _number(item, "pricesale", f"{field}.PriceSale")
    if unit_price is None:
        line_amount = _number(item, "lineamount", f"{field}.LineAmount")
        if line_amount is None or not quantity:
            raise _malformed(f"{field}.PriceSale", "is missing")
        unit_price = line_amount / quantity
    sku_type = _whole(item, "skutypeid", f"{field}.SkuTypeId")
    if part_no.upper() in freight_part_nos:
        kind = FREIGHT
    elif item.get("type") not in (None, ""):
        item_type = enum_name(item.get("type"), ITEM_TYPES, f"{field}.Type")
        type_group = enum_name(item.get("typegroup"), ITEM_TYPE_GROUPS, f"{field}.TypeGroup")
        kind = line_kind(item_type, type_group, codes=(part_no,), description=description)
    elif sku_type in SKU_TYPE_KINDS:
        kind = SKU_TYPE_KINDS[sku_type]
    else:
        # Documented Query rows carry no type: shipping is an ordinary row with a
        # tenant-specific PartNo, recognised by the configured list or its code.
        kind = FREIGHT if looks_like_freight(part_no) else PRODUCT
    line_no = _whole(item, "linenumber", f"{field}.LineNumber")
    return OrderLine(
        line_no=line_no if line_no is not None else index + 1,
        kind=kind,
        part_no=part_no,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=_number(item, "vatrate", f"{field}.VatRate"),
    )


def order_from_query(
    order: Any,
    *,
    currency_ids: Mapping[Any, str] | None = None,
    country_ids: Mapping[Any, str] | None = None,
    freight_part_nos: Iterable[str] = (),
) -> Order:
    """Read a Query 2.0 ``Orders/Orders`` item expanded with Items, Buyer, Payer and ShipTo.

    PriceSale is the unit price ex VAT after discounts; Query rows carry no unit
    VAT (the flow computes it from VatRate). `currency_ids` / `country_ids` map
    Norce's tenant-specific ids to ISO codes (connector settings).
    """
    data = _require_object(order)
    order_no = _order_ref(data.get("orderno"), "OrderNo")
    # The dedupe key must equal the push's and the event's ClientOrderRef, which
    # is the basket (quotation) id. Query's OrderNo is that same id unless the
    # ERP's order number replaced it after confirmation, so a ClientOrderRef or
    # QuotationId on the Query order wins over OrderNo.
    source_id = (
        _order_ref(data.get("clientorderref"), "ClientOrderRef")
        or _order_ref(data.get("quotationid"), "QuotationId")
        or order_no
    )
    if not source_id:
        raise _malformed("OrderNo", "is missing")
    freight_codes = {p.strip().upper() for p in freight_part_nos}
    lines = [_query_line(item, i, freight_codes) for i, item in enumerate(_items(data))]
    currency = _text(data, "currencycode", "CurrencyCode").upper()
    if not currency:
        currency_id = _whole(data, "currencyid", "CurrencyId")
        currency = _currency_code(currency_id, currency_ids) if currency_id is not None else ""
    payer = _object(data, "payer", "Payer")
    buyer = (
        _query_party(data, "payer", payer, country_ids)
        if payer
        else _query_party(data, "buyer", _object(data, "buyer", "Buyer"), country_ids)
    )
    ship_to = _object(data, "shipto", "ShipTo")
    return Order(
        source_id=source_id,
        order_no=order_no or source_id,
        currency=currency,
        buyer=buyer,
        lines=lines,
        placed_at=_datetime(data, "orderdate", "OrderDate") or _datetime(data, "created", "Created"),
        ship_to=_query_party(data, "shipto", ship_to, country_ids) if ship_to else None,
        # 2.0 spelling of the delivery mark / delivery method is unverified; both readings are tried.
        customer_reference=_first_text(data, "customerorderreference", "customerorderref"),
        delivery_method=_first_text(data, "deliverymethodcode", "deliverymode"),
        application_id=_text(data, "applicationid", "ApplicationId"),
    )


# --- what goes back to Norce ---------------------------------------------------------------


def status_request(
    client_order_ref: str,
    *,
    erp_order_no: str,
    status: str | int = "Confirmed",
    account_id: int | None = None,
) -> dict[str, Any]:
    """A Connect SendOrderStatusRequest telling Norce the ERP's number for the order.

    ClientOrderRef is an int in this contract (the basket id); a reference that
    is not numeric is sent as given and Norce's answer will say why it fails.
    """
    name = enum_name(status, ORDER_STATUSES, "OrderStatus")
    if name not in ORDER_STATUSES:
        raise ValueError(f"unknown Norce order status {status!r}")
    ref = str(client_order_ref).strip()
    body: dict[str, Any] = {
        "ClientOrderRef": int(ref) if ref.isdigit() else ref,
        "ErpOrderNo": erp_order_no,
        "OrderStatus": name,
        "Infos": [{"Code": "ErpRef", "Value": erp_order_no}],
    }
    if account_id is not None:
        body["AccountId"] = int(account_id)
    return body


def order_response(*, ok: bool, description: str, erp_order_no: str | None = None) -> dict[str, Any]:
    """The OrderResponse the order receiver answers a push with."""
    return {
        "StatusCode": "OK" if ok else "Failed",
        "Description": description,
        "HasErpOrderNo": bool(erp_order_no),
        "ErpOrderNo": erp_order_no or None,
    }
