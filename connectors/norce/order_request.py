"""Norce's pushed OrderRequest and order events → Brygga's records.

Reads the OrderRequest Norce pushes to the order receiver and the thin
OrderReceivedEvent, through the shared readers in ``mapping``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.norce.mapping import (
    ITEM_TYPE_GROUPS,
    ITEM_TYPES,
    ORDER_TYPES,
    _datetime,
    _first_text,
    _items,
    _list,
    _malformed,
    _number,
    _object,
    _order_ref,
    _require_object,
    _required_number,
    _text,
    _whole,
    company_numbers,
    enum_name,
    line_kind,
    make_party,
    normalise_keys,
)
from core.records import Address, Order, OrderLine, Party, Payment


# --- OrderRequest (push) -------------------------------------------------------------------
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
