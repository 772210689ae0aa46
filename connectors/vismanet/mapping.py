"""Brygga's booked orders → Visma.net customer invoice, customer and SalesOrders V3 bodies; Visma.net
invoices and orders → Brygga's.

Pure and deterministic. Bodies are built plain here; connectors.vismanet.wrapper wraps the ERP
API's (SalesOrders V3 takes plain JSON). Visma.net AR documents are entered net of VAT (the
wire contract's assumption M: gross-price entry is a per-customer option Brygga does not use),
so each line's unit price is the order line's price excluding VAT, whatever the flow's
prices_include_vat says; the VAT the buyer was charged is stated per VAT code when
send_vat_amounts is on, so the invoice total is the order's to the öre.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bookkeeping.vat import quantize_ore, rate_key
from connectors.vismanet.errors import INVENTORY_ITEM_NOT_FOUND, VAT_CODE
from core.errors import FLOW_SETTINGS, ORDER_MISSING_DATA, SyncError
from core.records import BookedLine, BookedOrder, Invoice, InvoiceTerms, Order, Party

# The invoice fields an order's matching key may go in; the first is the default. Both are
# filters of GET /v1/customerinvoice.
REFERENCE_FIELDS = ("externalReference", "customerRefNumber")
DEFAULT_REFERENCE_FIELD = REFERENCE_FIELDS[0]
# Lengths as Visma.net's screens allow them (the API documents none; these are Acumatica's).
MAX_LENGTH = {"externalReference": 40, "customerRefNumber": 40, "description": 256, "name": 255, "invoiceText": 256}
FREIGHT_DESCRIPTION = "Frakt"
BOOKED_STATUSES = frozenset({"Open", "Closed"})
DEAD_STATUSES = frozenset({"Voided", "Canceled", "Cancelled", "Reversed"})
CREDIT_TYPES = frozenset({"CreditNote", "Credit Note", "CreditMemo"})
ORDER_CANCELLED = frozenset({"Cancelled", "Canceled", "Voided"})
ORDER_BOOKED = frozenset({"Completed", "Invoiced"})

VatCodeFor = Callable[[Decimal], "str | None"]


def invoice_payload(
    booked: BookedOrder,
    *,
    customer_number: str,
    terms: InvoiceTerms,
    vat_code_for: VatCodeFor,
    zone: ZoneInfo,
    branch: str = "",
    send_vat_amounts: bool = True,
    known_items: set[str] | None = None,
) -> dict[str, Any]:
    """The plain CustomerInvoiceUpdateDto for one booked order (wrapped by the client)."""
    order = booked.order
    payload: dict[str, Any] = {
        "customerNumber": customer_number,
        "currencyId": (order.currency or terms.currency).upper(),
        "hold": False,
        **references(order, terms),
        "invoiceText": _clip(f"Webshop order {order.order_no}", "invoiceText"),
    }
    day = local_day(order.placed_at, zone)
    if day:
        payload["documentDate"] = day
    if branch:
        payload["branchNumber"] = branch
    if terms.terms_of_payment:
        payload["creditTermsId"] = terms.terms_of_payment
    codes: dict[Decimal, str] = {}
    lines = []
    for row in booked.lines:
        code = codes.get(row.vat_rate) or _vat_code(row, vat_code_for)
        codes[row.vat_rate] = code
        lines.append(invoice_line(row, order=order, terms=terms, vat_code=code, known_items=known_items))
    payload["invoiceLines"] = lines
    if send_vat_amounts:
        payload["taxDetailLines"] = tax_details(booked, codes)
    return payload


def invoice_line(
    row: BookedLine, *, order: Order, terms: InvoiceTerms, vat_code: str, known_items: set[str] | None = None
) -> dict[str, Any]:
    """One invoice line: an inventory item, or a line on an account (freight without an item,
    fees, and unknown items when unknown_article is "description_row")."""
    line = row.line
    description = _clip(line.description, "description")
    head: dict[str, Any]
    if line.kind == "freight":
        if terms.freight_article:
            head = {"inventoryNumber": terms.freight_article, "description": description or FREIGHT_DESCRIPTION}
        else:
            head = _account_line(description or FREIGHT_DESCRIPTION, terms.freight_account)
    elif not line.part_no:
        head = _account_line(description or line.kind, terms.sales_account)
    elif known_items is not None and line.part_no not in known_items:
        if terms.unknown_article != "description_row":
            raise SyncError(
                INVENTORY_ITEM_NOT_FOUND.code,
                f"Inventory item {line.part_no!r} on order {order.order_no} (line {line.line_no}) does not exist in "
                "Visma.net",
                details={"part_no": line.part_no, "order_no": order.order_no, "line_no": line.line_no},
            )
        head = _account_line(f"{line.part_no} {line.description}".strip(), terms.sales_account)
    else:
        head = {"inventoryNumber": line.part_no}
        if description:
            head["description"] = description
    return {
        "operation": "Insert",
        **head,
        "quantity": Decimal(line.quantity),
        # Excluding VAT: the order line's own net unit price (Norce's UnitPrice, after discount).
        "unitPriceInCurrency": Decimal(line.unit_price),
        "vatCodeId": vat_code,
    }


def tax_details(booked: BookedOrder, codes: dict[Decimal, str]) -> list[dict[str, Any]]:
    """Per VAT code: the net amount and the VAT the buyer was charged (the booked rows' sums)."""
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    for row in booked.lines:
        code = codes[row.vat_rate]
        net, vat = sums.get(code, (Decimal("0.00"), Decimal("0.00")))
        sums[code] = (net + row.net, vat + row.vat)
    return [{"taxId": code, "taxableAmount": net, "vatAmount": vat} for code, (net, vat) in sums.items()]


def references(order: Order, terms: InvoiceTerms) -> dict[str, str]:
    """externalReference always carries the order's key, customerRefNumber the order number;
    the key also goes in the chosen reference field."""
    key = terms.reference
    refs = {"externalReference": key, "customerRefNumber": _clip(order.order_no, "customerRefNumber")}
    field = terms.reference_field or DEFAULT_REFERENCE_FIELD
    refs[field] = key
    if len(key) > MAX_LENGTH[field]:
        raise SyncError(
            FLOW_SETTINGS.code,
            f"The reference {key!r} is longer than the {MAX_LENGTH[field]} characters Visma.net keeps in {field}; "
            "shorten 'reference_prefix'",
            details={"field": field},
        )
    return refs


def customer_payload(party: Party, currency: str, *, customer_class: str = "") -> dict[str, Any]:
    """The plain CustomerUpdateDto for a buyer; empty fields are left out."""
    name = party.display_name.strip()
    if not name:
        raise SyncError(
            ORDER_MISSING_DATA.code,
            "The buyer has no name: Visma.net needs one for the customer",
            details={"field": "buyer.name", "email": party.email},
        )
    address = party.address
    line2 = address.line2.strip()
    care_of = address.care_of.strip()
    if care_of and not line2:
        line2 = care_of if care_of.lower().startswith("c/o") else f"c/o {care_of}"
    main_address = _without_empty(
        {
            "addressLine1": address.line1.strip(),
            "addressLine2": line2,
            "postalCode": address.zip_code.strip(),
            "city": address.city.strip(),
            "countryId": address.country.strip().upper()[:2],
        }
    )
    contact = _without_empty(
        {
            "name": " ".join(p for p in (party.first_name, party.last_name) if p).strip() or name,
            "email": party.email.strip(),
            "phone1": party.phone.strip(),
        }
    )
    fields: dict[str, Any] = {
        "name": _clip(name, "name"),
        "status": "Active",
        "currencyId": currency.upper(),
        "customerClassId": customer_class,
        "corporateId": party.organisation_number.strip(),
        "vatRegistrationId": party.vat_number.strip().replace(" ", "").upper(),
        "mainAddress": main_address or None,
        "mainContact": contact,
    }
    return {key: value for key, value in fields.items() if value}


def sales_order_payload(
    booked: BookedOrder, *, customer_number: str, terms: InvoiceTerms, vat_code_for: VatCodeFor, zone: ZoneInfo
) -> dict[str, Any]:
    """A SalesOrders V3 order (plain JSON) for one booked order; customerRefNo carries its key."""
    order = booked.order
    lines = []
    for row in booked.lines:
        line = row.line
        part = terms.freight_article if line.kind == "freight" else line.part_no
        if not part:
            raise SyncError(
                ORDER_MISSING_DATA.code,
                f"Order {order.order_no} line {line.line_no} has no item number: a Visma.net sales order line needs "
                "an inventory item (set freight_article for freight)",
                details={"line_no": line.line_no},
            )
        lines.append(
            {
                "inventoryId": part,
                "description": _clip(line.description, "description") or None,
                "quantity": _number(Decimal(line.quantity)),
                "unitPrice": _number(Decimal(line.unit_price)),
                "vatCodeId": _vat_code(row, vat_code_for),
            }
        )
    body: dict[str, Any] = {
        "type": "SO",
        "customer": {"id": customer_number},
        "customerRefNo": terms.reference,
        "customerOrder": order.order_no,
        "currency": (order.currency or terms.currency).upper(),
        "date": local_day(order.placed_at, zone) or None,
        "description": f"Webshop order {order.order_no}",
        "orderLines": [{k: v for k, v in line.items() if v is not None} for line in lines],
    }
    return {key: value for key, value in body.items() if value is not None}


def invoice_from_visma(item: dict[str, Any], *, reference_field: str, credited: bool = False) -> Invoice:
    """Brygga's view of a Visma.net customer invoice (a list item or a whole invoice)."""
    status = str(item.get("status") or "")
    return Invoice(
        number=str(item.get("referenceNumber") or ""),
        reference=str(item.get(reference_field or DEFAULT_REFERENCE_FIELD) or "").strip(),
        live=invoice_is_live(item) and not credited,
        booked=status in BOOKED_STATUSES,
        date=str(item.get("documentDate") or "")[:10],
        customer_name=str((item.get("customer") or {}).get("name") or ""),
        currency=str(item.get("currencyId") or ""),
        total=_money(item.get("amountInCurrency", item.get("amount"))),
        round_off=_money(item.get("roundingDiff")) or Decimal("0"),
        vat=_money(item.get("vatTotalInCurrency", item.get("vatTotal"))),
        vat_included=False,
    )


def lookup_id(value: Any) -> str:
    """A GET body's lookup object's id ({"id": …}, {"number": …} or {"vatId": …}), or a bare value."""
    if isinstance(value, dict):
        value = value.get("id") or value.get("number") or value.get("vatId")
    return "" if value is None else str(value).strip()


def invoice_is_live(item: dict[str, Any]) -> bool:
    """Neither voided nor itself a credit note."""
    return str(item.get("status") or "") not in DEAD_STATUSES and not is_credit_note(item)


def is_credit_note(item: dict[str, Any]) -> bool:
    return str(item.get("documentType") or "") in CREDIT_TYPES


def order_number(order: dict[str, Any]) -> str:
    """A V3 order as Brygga numbers it: "<type>/<number>" (e.g. "SO/000123")."""
    return f"{order.get('type') or 'SO'}/{order.get('id') or order.get('orderNo') or ''}"


def split_order_number(number: str) -> tuple[str, str]:
    kind, _, nbr = number.rpartition("/")
    return (kind or "SO"), nbr


def order_from_visma(order: dict[str, Any]) -> Invoice:
    """A V3 sales order as Brygga's Invoice (kind "order")."""
    status = str(order.get("status") or "")
    total = _money(order.get("orderTotal"))
    return Invoice(
        number=order_number(order),
        reference=str(order.get("customerRefNo") or "").strip(),
        live=status not in ORDER_CANCELLED,
        booked=status in ORDER_BOOKED,
        date=str(order.get("date") or "")[:10],
        customer_name=str((order.get("customer") or {}).get("name") or ""),
        currency=str(order.get("currency") or ""),
        total=total,
        vat=_money(order.get("vatTotal")),
        vat_included=False,
        kind="order",
    )


def local_day(moment: datetime | None, zone: ZoneInfo) -> str:
    """The order's date in the company's zone (a Visma.net document date), "" when unknown."""
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.date().isoformat()


# -- helpers ------------------------------------------------------------------------
def _vat_code(row: BookedLine, vat_code_for: VatCodeFor) -> str:
    code = vat_code_for(row.vat_rate)
    if not code:
        rate = rate_key(row.vat_rate)
        raise SyncError(
            VAT_CODE.code,
            f"Visma.net has no sales VAT code for {rate} % (line {row.line.line_no}); map it in the connector's "
            f'vat_codes setting, e.g. {{"{rate}": "MP1"}}',
            details={"vat_rate": str(rate), "line_no": row.line.line_no},
        )
    return code


def _account_line(description: str, account: int | None) -> dict[str, Any]:
    head: dict[str, Any] = {"description": _clip(description, "description")}
    if account:
        head["accountNumber"] = str(account)
    return head


def _clip(text: str, field: str) -> str:
    return (text or "").strip()[: MAX_LENGTH[field]].strip()


def _without_empty(fields: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in fields.items() if value}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _money(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return None
    try:
        return quantize_ore(Decimal(str(value)))
    except ArithmeticError:
        return None
