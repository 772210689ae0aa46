"""Brygga's life records (core.records Delivery, Invoiced, Cancellation) → the bodies of Norce
Connect's Order service: DeliveryNote, Invoice and CancelOrderRequest.

Pure and deterministic. Money leaves as JSON numbers from the exact Decimal (an int when
whole, else the float with the same digits); dates as Norce's .NET DateTime text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.records import Cancellation, Delivery, Invoiced

# DeliveryNotePackages[].StatusId: 4 Delivered (the parcel has left the ERP's warehouse).
PACKAGE_DELIVERED = 4


def client_order_ref(source_id: str) -> int | str:
    """ClientOrderRef is an int in the Order service (the basket id); one that is not numeric
    is sent as given, and Norce's answer says why it fails."""
    ref = str(source_id).strip()
    return int(ref) if ref.isdigit() else ref


def norce_date(day: str) -> str:
    """An ISO date as the DateTime Norce's examples show ("2025-05-02T00:00:00"); "" stays ""."""
    day = (day or "").strip()
    return f"{day[:10]}T00:00:00" if day else ""


def number(value: Decimal) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def delivery_note(delivery: Delivery, *, order_no: str) -> dict[str, Any]:
    """A DeliveryNote naming its order by `order_no` (the ERP's number Norce was told on
    confirmation); NoteNo is the ERP's shipment, so a second note for it can be recognised."""
    items = []
    for line in delivery.lines:
        item: dict[str, Any] = {"ItemNo": line.part_no, "Qty": number(line.quantity)}
        if line.row_number is not None:
            item["RowNumber"] = line.row_number
        if line.description:
            item["Description"] = line.description
        items.append(item)
    body: dict[str, Any] = {
        "OrderNo": order_no,
        "NoteNo": delivery.document,
        "DeliveryDate": norce_date(delivery.delivered_on),
        "DeliveryNoteItems": items,
    }
    if delivery.carrier:
        body["DeliveryMode"] = delivery.carrier
    if delivery.parcels:
        body["DeliveryNotePackages"] = [
            {"ParcelNumber": parcel, "StatusId": PACKAGE_DELIVERED} for parcel in delivery.parcels
        ]
    return body


def invoice(invoiced: Invoiced, *, source_id: str, suppress_psp_call: bool) -> dict[str, Any]:
    """An Invoice: the ERP's numbers, what the buyer pays (Payment.Amount, VAT and öre rounding
    included), and each line excluding VAT with its unit VAT and rate (Norce needs the items to
    capture at the PSP)."""
    body: dict[str, Any] = {
        "ClientOrderRef": client_order_ref(source_id),
        "InvoiceNo": invoiced.document,
        "ErpOrderNo": invoiced.erp_order,
        "InvoiceDate": norce_date(invoiced.invoice_date),
        "InvoiceDueDate": norce_date(invoiced.due_date),
        "CurrencyCode": invoiced.currency,
        "Payment": {"Amount": number(invoiced.total), "CurrencyCode": invoiced.currency},
        "Vat": number(invoiced.vat),
        "InvoiceRoundOff": number(invoiced.round_off),
        "IsLastInvoiceForOrder": invoiced.last_for_order,
        "SuppressPspCall": suppress_psp_call,
        "Items": [
            {
                "LineNo": index,
                **({"PartNo": line.part_no} if line.part_no else {}),
                "Description": line.description,
                "Quantity": number(line.quantity),
                "UnitPrice": number(line.unit_price),
                "UnitVat": number(line.unit_vat),
                "VatRate": number(line.vat_rate),
            }
            for index, line in enumerate(invoiced.lines, start=1)
        ],
    }
    return {key: value for key, value in body.items() if value != ""}


def cancel_order(cancellation: Cancellation, *, source_id: str) -> dict[str, Any]:
    """A CancelOrderRequest. No Payments are named, so Norce cancels nothing at the PSP."""
    body: dict[str, Any] = {"ClientOrderRef": client_order_ref(source_id)}
    if cancellation.erp_order:
        body["ErpOrderNo"] = cancellation.erp_order
    return body
