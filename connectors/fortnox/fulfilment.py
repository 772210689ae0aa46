"""Fortnox as a fulfilment source (core.ports.FulfilmentSource): what became of the webshop's
orders, read from the invoices Brygga made for them.

- **Invoiced**: a live invoice (not cancelled, not credited, not itself a credit note) that
  carries an order's key in the reference field, changed since the cursor (``lastmodified``).
  With ``invoice_when="booked"`` only once it is booked (bokförd).
- **Cancelled**: a cancelled (makulerad) invoice carrying an order's key.
- **Deliveries**: none. Fortnox keeps deliveries only on its orders (``/3/orders``), and
  Brygga makes invoices, not Fortnox orders, so there is nothing shipped to read; the source
  yields no delivery and ``life_event`` answers None for one.

Credited invoices (a refund) are no cancellation and are not told here.

Fortnox invoice rows carry their price including VAT when the invoice is ``VATIncluded``
(as Brygga creates them): each line's unit price excluding VAT is the gross price less its
VAT rounded to öre (so unit price + unit VAT is the gross price exactly), computed in Decimal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bookkeeping.vat import HUNDRED, quantize_ore, vat_from_gross
from connectors.fortnox.client import FortnoxClient
from connectors.fortnox.errors import INVOICE_UNREADABLE, NOT_FOUND
from connectors.fortnox.mapping import DEFAULT_REFERENCE_FIELD, invoice_is_live, truthy
from core.errors import SyncError
from core.ports import INVOICE_WHEN_BOOKED, INVOICE_WHEN_CREATED
from core.records import CANCELLED, DELIVERY, INVOICED, Cancellation, Invoiced, InvoicedLine, LifeEvent

FREIGHT_TEXT, FEE_TEXT = "Frakt", "Administrationsavgift"


class FortnoxFulfilment:
    name = "Fortnox"

    def __init__(self, client: FortnoxClient) -> None:
        self.client = client

    def life_events(
        self,
        since: datetime | None,
        *,
        kinds: Sequence[str],
        reference_field: str,
        invoice_when: str = INVOICE_WHEN_CREATED,
    ) -> Iterator[LifeEvent]:
        """Invoices changed after `since` (Fortnox's ``lastmodified``, to the minute; the flow
        reads with an overlap). An invoice is read in full (its rows) only when it is told."""
        field = reference_field or DEFAULT_REFERENCE_FIELD
        wanted = set(kinds) - {DELIVERY}
        if not wanted:
            return
        if since is not None:
            items: Iterator[dict[str, Any]] = self.client.invoices_changed_since(since)
        else:
            items = (item for page in self.client.pages("invoices", "Invoices") for item in page.items)
        for item in items:
            kind = event_kind(item, field=field, invoice_when=invoice_when)
            if kind is None or kind not in wanted:
                continue
            full = self._full(item) if kind == INVOICED else item
            yield read_event(full, kind=kind, field=field)

    def life_event(
        self, key: str, *, reference_field: str, invoice_when: str = INVOICE_WHEN_CREATED
    ) -> LifeEvent | None:
        kind, _, number = key.partition(":")
        if kind not in (INVOICED, CANCELLED) or not number:
            return None
        field = reference_field or DEFAULT_REFERENCE_FIELD
        try:
            invoice = self.client.get_invoice(number)
        except SyncError as exc:
            if exc.code == NOT_FOUND.code or exc.status == 404:
                return None
            raise
        if event_kind(invoice, field=field, invoice_when=invoice_when) != kind:
            return None
        return read_event(invoice, kind=kind, field=field)

    def _full(self, item: dict[str, Any]) -> dict[str, Any]:
        if "InvoiceRows" in item:
            return item
        return {**item, **self.client.get_invoice(str(item.get("DocumentNumber")))}


def event_kind(invoice: dict[str, Any], *, field: str, invoice_when: str) -> str | None:
    """INVOICED or CANCELLED for an invoice of a webshop order, None for anything else (no
    order key, a credit note, a credited invoice, or not booked yet when only booked ones count)."""
    if not str(invoice.get(field) or "").strip() or truthy(invoice.get("Credit")):
        return None
    if truthy(invoice.get("Cancelled")):
        return CANCELLED
    if "CreditInvoiceReference" in invoice and not invoice_is_live(invoice):
        return None
    if invoice_when == INVOICE_WHEN_BOOKED and not truthy(invoice.get("Booked")):
        return None
    return INVOICED


def read_event(invoice: dict[str, Any], *, kind: str, field: str) -> LifeEvent:
    number = str(invoice.get("DocumentNumber") or "").strip()
    key = f"{kind}:{number}"
    try:
        record: Invoiced | Cancellation = (
            invoiced_from_fortnox(invoice, field=field)
            if kind == INVOICED
            else cancellation_from_fortnox(invoice, field)
        )
    except SyncError as exc:
        return LifeEvent(key=key, kind=kind, changed_at=None, payload=invoice, error=exc)
    return LifeEvent(key=key, kind=kind, changed_at=None, payload=invoice, record=record)


def cancellation_from_fortnox(invoice: dict[str, Any], field: str) -> Cancellation:
    number = _required_text(invoice, "DocumentNumber")
    return Cancellation(
        document=number,
        order_reference=str(invoice.get(field) or "").strip(),
        erp_order=number,
        reason="The invoice was cancelled in Fortnox",
    )


def invoiced_from_fortnox(invoice: dict[str, Any], *, field: str) -> Invoiced:
    """The invoice with its lines (text rows without a price left out), freight and
    administration fee as lines of their own, the total the buyer pays and Fortnox's öre rounding."""
    number = _required_text(invoice, "DocumentNumber")
    rows = invoice.get("InvoiceRows")
    if not isinstance(rows, list):
        raise _unreadable(number, "InvoiceRows", rows, "is not a list of rows")
    vat_included = invoice.get("VATIncluded", True) is not False
    lines = [
        line
        for index, row in enumerate(rows)
        if (line := _line(number, index, row, vat_included=vat_included)) is not None
    ]
    for name, text in (("Freight", FREIGHT_TEXT), ("AdministrationFee", FEE_TEXT)):
        fee = _fee_line(number, invoice, name, text, vat_included=vat_included)
        if fee is not None:
            lines.append(fee)
    return Invoiced(
        document=number,
        order_reference=str(invoice.get(field) or "").strip(),
        erp_order=number,
        invoice_date=_required_text(invoice, "InvoiceDate"),
        due_date=str(invoice.get("DueDate") or "").strip(),
        currency=_required_text(invoice, "Currency").upper(),
        total=_money(number, invoice, "Total", required=True),
        vat=_money(number, invoice, "TotalVAT", required=True),
        lines=tuple(lines),
        round_off=_money(number, invoice, "RoundOff"),
        last_for_order=True,
    )


def unit_amounts(price: Decimal, rate: Decimal, *, vat_included: bool) -> tuple[Decimal, Decimal]:
    """(unit price excluding VAT, unit VAT) of a row price. Including VAT: the VAT part rounded
    to öre and the price excluding VAT the rest, so the two add up to the gross price exactly.
    Excluding VAT: the price as it is and its exact VAT."""
    if vat_included:
        vat = vat_from_gross(price, rate)
        return price - vat, vat
    return price, price * rate / HUNDRED


def _line(number: str, index: int, row: Any, *, vat_included: bool) -> InvoicedLine | None:
    where = f"InvoiceRows[{index}]"
    if not isinstance(row, dict):
        raise _unreadable(number, where, row, "is not an object")
    article = str(row.get("ArticleNumber") or "").strip()
    if not article and row.get("Price") in (None, "", 0) and _blank_quantity(row.get("DeliveredQuantity")):
        return None  # a text row
    quantity = _decimal(number, row.get("DeliveredQuantity"), f"{where}.DeliveredQuantity")
    price = _decimal(number, row.get("Price"), f"{where}.Price")
    rate = _decimal(number, row.get("VAT"), f"{where}.VAT")
    discount = _decimal(number, row.get("Discount") or 0, f"{where}.Discount")
    if discount:
        if str(row.get("DiscountType") or "PERCENT").upper() == "AMOUNT":
            if not quantity:
                raise _unreadable(number, f"{where}.Discount", discount, "is an amount off a row of no quantity")
            price -= discount / quantity
        else:
            price = price * (HUNDRED - discount) / HUNDRED
    unit_price, unit_vat = unit_amounts(price, rate, vat_included=vat_included)
    return InvoicedLine(
        part_no=article,
        description=str(row.get("Description") or "").strip(),
        quantity=quantity,
        unit_price=unit_price,
        unit_vat=unit_vat,
        vat_rate=rate,
    )


def _fee_line(number: str, invoice: dict[str, Any], name: str, text: str, *, vat_included: bool) -> InvoicedLine | None:
    amount = _money(number, invoice, name)
    if not amount:
        return None
    vat = _money(number, invoice, f"{name}VAT")
    net = amount - vat if vat_included else amount
    rate = (vat * HUNDRED / net).quantize(Decimal(1)) if net else Decimal(0)
    return InvoicedLine(part_no="", description=text, quantity=Decimal(1), unit_price=net, unit_vat=vat, vat_rate=rate)


def _blank_quantity(value: Any) -> bool:
    try:
        return value in (None, "") or Decimal(str(value)) == 0
    except InvalidOperation:
        return False


def _decimal(number: str, value: Any, field: str) -> Decimal:
    if value is None or value == "" or isinstance(value, bool):
        raise _unreadable(number, field, value, "is missing" if value in (None, "") else "is not a number")
    try:
        result = Decimal(str(value).replace(",", ".").strip())
    except InvalidOperation:
        raise _unreadable(number, field, value, "is not a number") from None
    if not result.is_finite():
        raise _unreadable(number, field, value, "is not a number")
    return result


def _money(number: str, invoice: dict[str, Any], field: str, *, required: bool = False) -> Decimal:
    value = invoice.get(field)
    if value in (None, "") and not required:
        return Decimal(0)
    return quantize_ore(_decimal(number, value, field))


def _required_text(invoice: dict[str, Any], field: str) -> str:
    value = str(invoice.get(field) or "").strip()
    if not value:
        raise _unreadable(str(invoice.get("DocumentNumber") or "?"), field, invoice.get(field), "is missing")
    return value


def _unreadable(number: str, field: str, value: Any, problem: str) -> SyncError:
    return SyncError(
        INVOICE_UNREADABLE.code,
        f"Fortnox invoice {number}: {field} {problem} ({value!r})"[:500],
        details={"field": field, "invoice": number},
    )
