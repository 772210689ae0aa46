"""Visma.net as a fulfilment source (core.ports.FulfilmentSource): what became of webshop orders.

- A delivery is a confirmed (or invoiced) shipment: its lines, the order it ships (the V3 sales
  order named by its lines, whose customerRefNo is the order's key), its parcel numbers (package
  lines' trackingNumber, else the custom field named by the tracking_field setting) and ship-via.
- An invoice is a released customer invoice (Open or Closed) whose reference field carries the
  order's key, or — for an invoice made from a shipment — whose lines name a sales order
  carrying it.
- A cancellation is a V3 order with status Cancelled, or a voided invoice.

A document Brygga cannot read is an event with an error naming the field; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bookkeeping.vat import quantize_ore, unit_vat
from connectors.vismanet.client import VismaNetClient, parse_time
from connectors.vismanet.errors import INVOICE_MALFORMED, SALES_ORDER_MALFORMED, SHIPMENT_MALFORMED
from connectors.vismanet.mapping import (
    BOOKED_STATUSES,
    DEFAULT_REFERENCE_FIELD,
    ORDER_BOOKED,
    ORDER_CANCELLED,
    is_credit_note,
    lookup_id,
    order_number,
    split_order_number,
)
from core.errors import SyncError
from core.ports import INVOICE_WHEN_BOOKED, INVOICE_WHEN_CREATED
from core.records import (
    CANCELLED,
    DELIVERY,
    INVOICED,
    Cancellation,
    DeliveredLine,
    Delivery,
    Invoiced,
    InvoicedLine,
    LifeEvent,
    LifeRecord,
    OrderLine,
    text_of,
)

SHIPPED_STATUSES = frozenset({"Confirmed", "Invoiced", "PartiallyInvoiced", "Completed"})
VOIDED = frozenset({"Voided"})
# V3 order statuses of an order with quantities still to ship (Completed: all shipped).
ORDER_TO_SHIP = frozenset({"Open", "Hold", "Shipping", "BackOrder"})
# Open quantity of a V3 order line, under the names the service may give it.
OPEN_QUANTITY_FIELDS = ("openQuantity", "openQty", "quantityOpen")


class Malformed(Exception):
    """A field of a document that cannot be read."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


_text = text_of
_id = lookup_id


def _number(value: Any, field: str, *, required: bool = True) -> Decimal:
    if value in (None, "") and not required:
        return Decimal(0)
    if isinstance(value, bool):
        raise Malformed(field, f"{field} is not a number: {value!r}")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Malformed(field, f"{field} is not a number: {value!r}") from None
    if not number.is_finite():
        raise Malformed(field, f"{field} is not a number: {value!r}")
    return number


def _day(value: Any, field: str) -> str:
    text = _text(value)[:10]
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise Malformed(field, f"{field} is not a date: {value!r}") from None
    return text


def _list(document: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = document.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Malformed(field, f"{field} is not a list of objects")
    return value


def _order_number(kind: str, nbr: str) -> str:
    """A V3 sales order as Brygga numbers it (mapping.order_number): the number the orders flow
    links the webshop order to and told the webshop as its ERP order number. A life record names
    its order by it, so that the record is matched to that link (and a delivery note to the
    order Norce knows by it)."""
    return order_number({"type": kind, "id": nbr})


def _told_statuses(invoice_when: str) -> frozenset[str]:
    """The invoice statuses that make an invoice an event: released ("booked": Open, Closed), or
    also a balanced one not yet released ("created"; one on hold is not finished yet)."""
    booked = frozenset(BOOKED_STATUSES)
    return booked if invoice_when == INVOICE_WHEN_BOOKED else booked | {"Balanced"}


class VismaNetFulfilment:
    name = "Visma.net"

    def __init__(self, client: VismaNetClient) -> None:
        self.client = client
        self._orders: dict[tuple[str, str], dict[str, Any] | None] = {}

    # -- the port ----------------------------------------------------------------------
    def life_events(
        self,
        since: datetime | None,
        *,
        kinds: Sequence[str],
        reference_field: str,
        invoice_when: str = INVOICE_WHEN_CREATED,
    ) -> Iterator[LifeEvent]:
        field = reference_field or DEFAULT_REFERENCE_FIELD
        told = _told_statuses(invoice_when)
        if DELIVERY in kinds:
            for shipment in self.client.shipments_changed_since(since):
                event = self.delivery_event(shipment)
                if event is not None:
                    yield event
        if INVOICED in kinds or CANCELLED in kinds:
            for invoice in self.client.invoices_changed_since(since):
                status = _text(invoice.get("status"))
                if INVOICED in kinds and status in told:
                    event = self.invoiced_event(invoice, reference_field=field)
                elif CANCELLED in kinds and status in VOIDED:
                    event = self.voided_event(invoice, reference_field=field)
                else:
                    continue
                if event is not None:
                    yield event
        if CANCELLED in kinds:
            for order in self.client.sales_orders_changed_since(since, status="Cancelled"):
                event = self.cancelled_order_event(order)
                if event is not None:
                    yield event

    def life_event(
        self, key: str, *, reference_field: str, invoice_when: str = INVOICE_WHEN_CREATED
    ) -> LifeEvent | None:
        field = reference_field or DEFAULT_REFERENCE_FIELD
        kind, _, document = key.partition(":")
        if not document:
            return None
        if kind == DELIVERY:
            shipment = self.client.get_shipment(document)
            return None if shipment is None else self.delivery_event(shipment)
        if kind == INVOICED:
            invoice = self.client.get_invoice(document, missing_ok=True)
            if invoice is None or _text(invoice.get("status")) not in _told_statuses(invoice_when):
                return None
            return self.invoiced_event(invoice, reference_field=field)
        if kind == CANCELLED:
            if "/" in document:
                order = self.client.get_sales_order(*split_order_number(document))
                return None if order is None else self.cancelled_order_event(order)
            invoice = self.client.get_invoice(document, missing_ok=True)
            return None if invoice is None else self.voided_event(invoice, reference_field=field)
        return None

    # -- deliveries --------------------------------------------------------------------
    def delivery_event(self, shipment: dict[str, Any]) -> LifeEvent | None:
        """A confirmed shipment of a webshop order; None while it is not confirmed or not ours."""
        if _text(shipment.get("status")) not in SHIPPED_STATUSES:
            return None
        number = _text(shipment.get("shipmentNumber"))
        return self._event(
            f"{DELIVERY}:{number or '?'}", DELIVERY, shipment, SHIPMENT_MALFORMED.code, lambda: self._delivery(shipment)
        )

    def _delivery(self, shipment: dict[str, Any]) -> Delivery | None:
        number = _text(shipment.get("shipmentNumber"))
        if not number:
            raise Malformed("shipmentNumber", "The shipment has no shipmentNumber")
        details = _list(shipment, "shipmentDetailLines")
        if not details:
            raise Malformed("shipmentDetailLines", f"Shipment {number} has no shipmentDetailLines")
        lines = []
        orders: list[tuple[str, str]] = []
        for index, detail in enumerate(details):
            where = f"shipmentDetailLines[{index}]"
            part = _text(detail.get("inventoryNumber") or _id(detail.get("inventory")))
            if not part:
                raise Malformed(f"{where}.inventoryNumber", f"Shipment {number}: {where} has no inventoryNumber")
            quantity = _number(detail.get("shippedQty"), f"{where}.shippedQty")
            lines.append(DeliveredLine(part_no=part, quantity=quantity, description=_text(detail.get("description"))))
            named = (_text(detail.get("orderType")) or "SO", _text(detail.get("orderNbr")))
            if named[1] and named not in orders:
                orders.append(named)
        for line in _list(shipment, "shipmentOrderLines"):
            named = (_text(line.get("orderType")) or "SO", _text(line.get("orderNbr")))
            if named[1] and named not in orders:
                orders.append(named)
        if not orders:
            raise Malformed("shipmentDetailLines[].orderNbr", f"Shipment {number} names no sales order")
        delivered_on = _day(shipment.get("shipmentDate"), "shipmentDate")
        kind, nbr = orders[0]
        order = self._order(kind, nbr)
        reference = _text((order or {}).get("customerRefNo"))
        if not reference:
            return None  # not an order Brygga made (no webshop key on it)
        ship_via = shipment.get("shipVia")
        carrier = _text(ship_via.get("description") or ship_via.get("id")) if isinstance(ship_via, dict) else ""
        return Delivery(
            document=number,
            order_reference=reference,
            # The sales order as the orders flow links it and told the webshop ("SO/000123").
            erp_order=_order_number(kind, nbr),
            delivered_on=delivered_on,
            lines=tuple(lines),
            parcels=self._parcels(shipment),
            carrier=carrier or _text(ship_via),
            complete=self._complete(kind, nbr, order or {}, details),
        )

    def _parcels(self, shipment: dict[str, Any]) -> tuple[str, ...]:
        """Package lines' trackingNumber; else the custom field of the tracking_field setting.

        Visma.net's shipment DTO documents no tracking-number field (open question 12): both are
        read, the package lines first."""
        parcels = [_text(p.get("trackingNumber")) for p in _list(shipment, "shipmentPackageLines")]
        found = tuple(dict.fromkeys(p for p in parcels if p))
        if found:
            return found
        custom = _text(shipment.get(self.client.options.tracking_field))
        return (custom,) if custom else ()

    def _complete(self, kind: str, nbr: str, order: dict[str, Any], details: list[dict[str, Any]]) -> bool:
        """Whether no quantity of the order is left open: the order's lines say so when they carry
        an open quantity, else the order's status, else the shipment's own openQty."""
        if _text(order.get("status")) in ORDER_BOOKED:
            return True
        lines = order.get("lines") if isinstance(order.get("lines"), list) else None
        if not lines:
            lines = self.client.sales_order_lines(kind, nbr) if order else []
        open_values = [
            line[name] for line in lines if isinstance(line, dict) for name in OPEN_QUANTITY_FIELDS if name in line
        ]
        if open_values:
            return all(_number(v, "openQuantity", required=False) <= 0 for v in open_values)
        shipment_open = [d.get("openQty") for d in details if d.get("openQty") not in (None, "")]
        return all(_number(v, "openQty") <= 0 for v in shipment_open)

    # -- invoices ----------------------------------------------------------------------
    def invoiced_event(self, invoice: dict[str, Any], *, reference_field: str) -> LifeEvent | None:
        # which statuses count (created or booked) is settled by the callers
        if is_credit_note(invoice) or _text(invoice.get("status")) not in _told_statuses(INVOICE_WHEN_CREATED):
            return None
        number = _text(invoice.get("referenceNumber"))
        return self._event(
            f"{INVOICED}:{number or '?'}",
            INVOICED,
            invoice,
            INVOICE_MALFORMED.code,
            lambda: self._invoiced(invoice, reference_field),
        )

    def _invoiced(self, invoice: dict[str, Any], reference_field: str) -> Invoiced | None:
        number = _text(invoice.get("referenceNumber"))
        if not number:
            raise Malformed("referenceNumber", "The customer invoice has no referenceNumber")
        raw_lines = _list(invoice, "invoiceLines")
        reference, erp_order = self._invoice_reference(invoice, raw_lines, reference_field)
        if not reference:
            return None
        lines = []
        for index, line in enumerate(raw_lines):
            where = f"invoiceLines[{index}]"
            code = _id(line.get("vatCode")) or _text(line.get("vatCodeId"))
            rate = self.client.vat_rate(code) if code else None
            if rate is None:
                raise Malformed(f"{where}.vatCode", f"Invoice {number}: {where} has VAT code {code or 'none'}, unknown")
            price = _number(line.get("unitPriceInCurrency", line.get("unitPrice")), f"{where}.unitPriceInCurrency")
            quantity = _number(line.get("quantity"), f"{where}.quantity")
            part = _text(line.get("inventoryNumber"))
            description = _text(line.get("description"))
            vat = quantize_ore(
                unit_vat(
                    OrderLine(
                        line_no=index + 1,
                        kind="product",
                        part_no=part,
                        description=description,
                        quantity=quantity,
                        unit_price=price,
                        vat_rate=rate,
                    )
                )
            )
            # Visma.net keeps net unit prices to four decimals: the webshop is told the gross unit
            # price rounded to the öre, split into its VAT (to the öre) and the rest, so that
            # unit price + unit VAT is exactly the gross price the buyer saw.
            gross = quantize_ore(price + price * rate / 100)
            lines.append(InvoicedLine(part, description, quantity, gross - vat, vat, rate))
        total = _number(invoice.get("amountInCurrency", invoice.get("amount")), "amount")
        vat_total = _number(invoice.get("vatTotalInCurrency", invoice.get("vatTotal")), "vatTotal")
        currency = _text(invoice.get("currencyId"))
        if not currency:
            raise Malformed("currencyId", f"Invoice {number} has no currencyId")
        due = invoice.get("documentDueDate")
        return Invoiced(
            document=number,
            order_reference=reference,
            erp_order=erp_order,
            invoice_date=_day(invoice.get("documentDate"), "documentDate"),
            due_date=_day(due, "documentDueDate") if due else "",
            currency=currency,
            total=quantize_ore(total),
            vat=quantize_ore(vat_total),
            lines=tuple(lines),
            round_off=_number(invoice.get("roundingDiff"), "roundingDiff", required=False),
            last_for_order=self._last_invoice(erp_order),
        )

    def _last_invoice(self, erp_order: str) -> bool:
        """Whether an invoice is its order's last: not while the sales order it was made from still
        has quantities to ship (the invoice of a partial shipment), for the webshop would take the
        order as invoiced in full. An invoice made from no sales order, or of one that cannot be
        read, is the order's only one."""
        if not erp_order:
            return True
        order = self._order(*split_order_number(erp_order))
        return order is None or _text(order.get("status")) not in ORDER_TO_SHIP

    def _invoice_reference(
        self, invoice: dict[str, Any], lines: list[dict[str, Any]], reference_field: str
    ) -> tuple[str, str]:
        """(order key, ERP order number): the reference field, else the sales order its lines name.
        The ERP order number is the sales order as the orders flow links it ("SO/000123"), ""
        for an invoice made from no sales order."""
        nbr = next((_text(line.get("soOrderNbr")) for line in lines if _text(line.get("soOrderNbr"))), "")
        reference = _text(invoice.get(reference_field))
        if not nbr:
            return reference, ""
        kind = next((_text(line.get("soOrderType")) for line in lines if _text(line.get("soOrderType"))), "SO")
        if reference:
            return reference, _order_number(kind, nbr)
        order = self._order(kind, nbr)
        return _text((order or {}).get("customerRefNo")), _order_number(kind, nbr)

    # -- cancellations -----------------------------------------------------------------
    def cancelled_order_event(self, order: dict[str, Any]) -> LifeEvent | None:
        if _text(order.get("status")) not in ORDER_CANCELLED:
            return None
        number = order_number(order)
        return self._event(
            f"{CANCELLED}:{number}", CANCELLED, order, SALES_ORDER_MALFORMED.code, lambda: self._cancelled_order(order)
        )

    def _cancelled_order(self, order: dict[str, Any]) -> Cancellation | None:
        nbr = _text(order.get("id"))
        if not nbr:
            raise Malformed("id", "The sales order has no id (number)")
        reference = _text(order.get("customerRefNo"))
        if not reference:
            return None
        number = order_number(order)
        return Cancellation(document=number, order_reference=reference, erp_order=number, reason="Cancelled")

    def voided_event(self, invoice: dict[str, Any], *, reference_field: str) -> LifeEvent | None:
        if _text(invoice.get("status")) not in VOIDED or is_credit_note(invoice):
            return None
        number = _text(invoice.get("referenceNumber"))
        return self._event(
            f"{CANCELLED}:{number or '?'}",
            CANCELLED,
            invoice,
            INVOICE_MALFORMED.code,
            lambda: self._voided(invoice, reference_field),
        )

    def _voided(self, invoice: dict[str, Any], reference_field: str) -> Cancellation | None:
        number = _text(invoice.get("referenceNumber"))
        if not number:
            raise Malformed("referenceNumber", "The customer invoice has no referenceNumber")
        reference, erp_order = self._invoice_reference(invoice, _list(invoice, "invoiceLines"), reference_field)
        if not reference:
            return None
        return Cancellation(document=number, order_reference=reference, erp_order=erp_order, reason="Invoice voided")

    # -- helpers -----------------------------------------------------------------------
    def _order(self, kind: str, nbr: str) -> dict[str, Any] | None:
        if (kind, nbr) not in self._orders:
            self._orders[(kind, nbr)] = self.client.get_sales_order(kind, nbr)
        return self._orders[(kind, nbr)]

    def _event(
        self,
        key: str,
        kind: str,
        document: dict[str, Any],
        code: str,
        build: Callable[[], LifeRecord | None],
    ) -> LifeEvent | None:
        changed = parse_time(document.get("lastModifiedDateTime") or document.get("lastModified"), self.client.zone)
        try:
            record = build()
        except Malformed as exc:
            error = SyncError(code, exc.message, permanent=True, details={"field": exc.field})
            return LifeEvent(key=key, kind=kind, changed_at=changed, payload=document, error=error)
        if record is None:
            return None
        return LifeEvent(key=key, kind=kind, changed_at=changed, payload=document, record=record)
