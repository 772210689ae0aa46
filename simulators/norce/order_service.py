"""The Connect 4.0 Order service: SendOrderStatus, CreateDeliveryNote, CreateInvoice and
CancelOrder under /commerce/connect/4.0/Order/.

Bodies are read the way ASP.NET binds them: property names in any case (so both
``DeliveryNoteItems`` and the docs' ``DeliverynoteItems``), enums as names or integers, and
ClientOrderRef as an int (a numeric string binds too). A body that does not bind, or names an
order Norce does not have, is a 400 naming the field. Each order keeps the delivery notes,
invoices and cancellation it got; a NoteNo or InvoiceNo sent again is accepted (Norce documents
no uniqueness) and counted in `duplicate_documents`, for tests to see.

`fail_after_commit` (a count) makes the next N of these writes commit and then answer 503: the
answer lost after Norce did the work."""

from __future__ import annotations

import json
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.base import Request, Response, Simulator
from simulators.norce.common import ORDER_STATUS_NAMES, ORDER_STATUSES, ci_get


class OrderService(Simulator):
    """What the ERP reports back about the orders of `NorceSimulator`."""

    def _json_object(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise json.JSONDecodeError("expected a JSON object", request.body.decode("utf-8", "replace"), 0)
        return body

    def _find_order(self, client_order_ref: Any, erp_order_no: Any) -> dict[str, Any] | None:
        """By ClientOrderRef (int in Connect, string in OrderRequest: both accepted) or by ERP order number."""
        if client_order_ref not in (None, "", 0) and not isinstance(client_order_ref, bool):
            return self.orders.get(str(client_order_ref).strip())
        if erp_order_no:
            wanted = str(erp_order_no)
            return next((o for o in self.orders.values() if wanted in (o.get("ErpOrderNo"), o["OrderNo"])), None)
        return None

    @staticmethod
    def _order_status(value: Any) -> int | None:
        """An OrderStatus given as name ("Confirmed", any case) or number (2 or "2")."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if value in ORDER_STATUS_NAMES else None
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return int(text) if int(text) in ORDER_STATUS_NAMES else None
            return next((number for name, number in ORDER_STATUSES.items() if name.lower() == text.lower()), None)
        return None

    def _send_order_status(self, request: Request) -> Response:
        body = self._json_object(request)
        ref, erp_order_no = ci_get(body, "ClientOrderRef"), ci_get(body, "ErpOrderNo")
        if ref in (None, "") and not erp_order_no:
            return self.error_response(400, "ClientOrderRef or ErpOrderNo is required")
        status = self._order_status(ci_get(body, "OrderStatus"))
        if status is None:
            return self.error_response(400, f"Invalid OrderStatus {ci_get(body, 'OrderStatus')!r}")
        with self.lock:
            order = self._find_order(ref, erp_order_no)
            if order is None:
                return self.error_response(400, f"Order not found: ClientOrderRef {ref!r}, ErpOrderNo {erp_order_no!r}")
            order["StatusId"] = status
            if erp_order_no:
                order["ErpOrderNo"] = order["OrderNo"] = str(erp_order_no)
            infos = [
                {"Code": ci_get(i, "Code"), "Value": ci_get(i, "Value")}
                for i in ci_get(body, "Infos") or []
                if isinstance(i, dict)
            ]
            order["Infos"].extend(infos)
            for item_status in ci_get(body, "ItemStatuses") or []:
                if not isinstance(item_status, dict):
                    continue
                line_no, value = ci_get(item_status, "LineNo"), self._order_status(ci_get(item_status, "ItemStatus"))
                for item in order["Items"]:
                    if value is not None and str(item.get("LineNo")) == str(line_no):
                        item["StatusId"] = value
            self._touch(order)
            self.order_statuses.append(
                {
                    "time": time.time(),
                    "client_order_ref": order["ClientOrderRef"],
                    "erp_order_no": erp_order_no,
                    "status": status,
                    "status_name": ORDER_STATUS_NAMES[status],
                    "infos": infos,
                    "body": body,
                }
            )
        return Response(status=200, body=None)

    # -- reading bodies ---------------------------------------------------------------------
    @staticmethod
    def _invalid(field: str, problem: str) -> ValueError:
        return ValueError(f"{field}: {problem}")

    def _number(self, value: Any, field: str, *, required: bool = False) -> Decimal | None:
        if value is None or value == "":
            if required:
                raise self._invalid(field, "is required")
            return None
        if isinstance(value, bool):
            raise self._invalid(field, f"{value!r} is not a number")
        try:
            number = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise self._invalid(field, f"{value!r} is not a number") from None
        if not number.is_finite():
            raise self._invalid(field, f"{value!r} is not a number")
        return number

    def _text(self, value: Any, field: str, *, required: bool = False) -> str:
        if value is None or value == "":
            if required:
                raise self._invalid(field, "is required")
            return ""
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self._invalid(field, f"{value!r} is not text")
        return str(value).strip()

    def _flag(self, value: Any, field: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self._invalid(field, f"{value!r} is not true, false or null")

    def _date(self, value: Any, field: str) -> str:
        text = self._text(value, field)
        if not text:
            return ""
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self._invalid(field, f"{text!r} is not a date") from None
        return text

    def _client_order_ref(self, value: Any, field: str = "ClientOrderRef") -> int | None:
        """ClientOrderRef binds to an int: a number, or digits as text."""
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
            raise self._invalid(field, f"{value!r} is not an integer")
        return int(value)

    def _objects(self, value: Any, field: str) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._invalid(field, "must be a list of objects")
        return value

    def _package_status(self, value: Any, field: str) -> int | None:
        if value is None:
            return None
        status = self._order_status("Cancelled" if str(value).lower() == "canceled" else value)
        if status is None:
            raise self._invalid(field, f"{value!r} is not a status name or number")
        return status

    def _answer(self, committed: dict[str, Any]) -> Response:
        """200 with an empty body, or (fail_after_commit) a 503 after the write was kept."""
        if self.fail_after_commit > 0:
            self.fail_after_commit -= 1
            self.lost_answers += 1
            committed["answer_lost"] = True
            return self.error_response(503, "Service Unavailable")
        return Response(status=200, body=None)

    def _note_duplicate(self, kind: str, number: str, order: dict[str, Any] | None) -> bool:
        if not number:
            return False
        seen = {(d["kind"], d["number"]) for d in self._documents}
        self._documents.append({"kind": kind, "number": number})
        if (kind, number) in seen:
            self.duplicate_documents.append(
                {"kind": kind, "number": number, "client_order_ref": order["ClientOrderRef"] if order else None}
            )
            return True
        return False

    # -- the three writes -------------------------------------------------------------------
    def _create_delivery_note(self, request: Request) -> Response:
        # A DeliveryNote names its order by OrderNo (the ERP order number once confirmed).
        body = self._json_object(request)
        try:
            order_no = self._text(ci_get(body, "OrderNo"), "OrderNo", required=True)
            note_no = self._text(ci_get(body, "NoteNo"), "NoteNo")
            delivered_on = self._date(ci_get(body, "DeliveryDate"), "DeliveryDate")
            self._text(ci_get(body, "DeliveryMode"), "DeliveryMode")
            items = []
            for n, raw in enumerate(self._objects(ci_get(body, "DeliveryNoteItems"), "DeliveryNoteItems")):
                where = f"DeliveryNoteItems[{n}]"
                quantity = self._number(ci_get(raw, "Qty"), f"{where}.Qty", required=True)
                assert quantity is not None
                row = ci_get(raw, "RowNumber")
                if row is not None and (isinstance(row, bool) or not isinstance(row, int)):
                    raise self._invalid(f"{where}.RowNumber", f"{row!r} is not an integer")
                items.append(
                    {
                        "ItemNo": self._text(ci_get(raw, "ItemNo"), f"{where}.ItemNo", required=True),
                        "Qty": quantity,
                        "RowNumber": row,
                    }
                )
            packages = []
            for n, raw in enumerate(self._objects(ci_get(body, "DeliveryNotePackages"), "DeliveryNotePackages")):
                where = f"DeliveryNotePackages[{n}]"
                packages.append(
                    {
                        "ParcelNumber": self._text(ci_get(raw, "ParcelNumber"), f"{where}.ParcelNumber", required=True),
                        "StatusId": self._package_status(ci_get(raw, "StatusId"), f"{where}.StatusId"),
                    }
                )
        except ValueError as exc:
            return self.error_response(400, str(exc))
        with self.lock:
            order = self._find_order(None, order_no)
            if order is None:
                return self.error_response(400, f"Order not found: OrderNo {order_no!r}")
            note = {"NoteNo": note_no, "DeliveryDate": delivered_on, "Items": items, "Packages": packages}
            order.setdefault("_delivery_notes", []).append(note)
            order["StatusId"] = ORDER_STATUSES["Delivered" if self._fully_delivered(order) else "PartlyDelivered"]
            self._touch(order)
            entry = {"time": time.time(), "client_order_ref": order["ClientOrderRef"], "body": body}
            entry["duplicate"] = self._note_duplicate("delivery_note", note_no, order)
            self.delivery_notes.append(entry)
            return self._answer(entry)

    @staticmethod
    def _fully_delivered(order: dict[str, Any]) -> bool:
        """Every ordered product (freight and fees aside) delivered in full over the order's notes."""
        delivered: dict[str, Decimal] = {}
        for note in order.get("_delivery_notes", []):
            for item in note["Items"]:
                delivered[item["ItemNo"]] = delivered.get(item["ItemNo"], Decimal(0)) + item["Qty"]
        wanted: dict[str, Decimal] = {}
        for item in order.get("Items", []):
            if item.get("Type") in ("Freight", 3) or not item.get("PartNo"):
                continue
            wanted[item["PartNo"]] = wanted.get(item["PartNo"], Decimal(0)) + Decimal(str(item.get("Quantity") or 0))
        return all(delivered.get(part, Decimal(0)) >= quantity for part, quantity in wanted.items())

    def _create_invoice(self, request: Request) -> Response:
        body = self._json_object(request)
        try:
            ref = self._client_order_ref(ci_get(body, "ClientOrderRef"))
            invoice_no = self._text(ci_get(body, "InvoiceNo"), "InvoiceNo")
            erp_order_no = self._text(ci_get(body, "ErpOrderNo"), "ErpOrderNo")
            if ref is None and not invoice_no:
                raise self._invalid("InvoiceNo", "InvoiceNo or ClientOrderRef is required")
            for name in ("InvoiceDate", "InvoiceDueDate", "DeliveryDate"):
                self._date(ci_get(body, name), name)
            for name in ("InvoiceRoundOff", "Vat", "TotalAmount"):
                self._number(ci_get(body, name), name)
            payment = ci_get(body, "Payment")
            if payment is not None and not isinstance(payment, dict):
                raise self._invalid("Payment", "must be an object")
            amount = self._number(ci_get(payment or {}, "Amount"), "Payment.Amount")
            suppress = self._flag(ci_get(body, "SuppressPspCall"), "SuppressPspCall")
            last = self._flag(ci_get(body, "IsLastInvoiceForOrder"), "IsLastInvoiceForOrder")
            for n, raw in enumerate(self._objects(ci_get(body, "Items"), "Items")):
                where = f"Items[{n}]"
                self._text(ci_get(raw, "PartNo"), f"{where}.PartNo")
                self._number(ci_get(raw, "Quantity"), f"{where}.Quantity", required=True)
                self._number(ci_get(raw, "UnitPrice"), f"{where}.UnitPrice", required=True)
                self._number(ci_get(raw, "UnitVat"), f"{where}.UnitVat")
                self._number(ci_get(raw, "VatRate"), f"{where}.VatRate")
        except ValueError as exc:
            return self.error_response(400, str(exc))
        with self.lock:
            order = None
            if ref is not None or erp_order_no:
                order = self._find_order(ref, erp_order_no)
                if order is None:
                    return self.error_response(400, f"Order not found: {ref if ref is not None else erp_order_no!r}")
                order.setdefault("_invoices", []).append(invoice_no)
                if last is not False:  # null means the last one
                    order["StatusId"] = ORDER_STATUSES["Invoiced"]
                self._touch(order)
            entry = {"time": time.time(), "client_order_ref": order["ClientOrderRef"] if order else None, "body": body}
            entry["duplicate"] = self._note_duplicate("invoice", invoice_no, order)
            if not suppress:
                # Norce captures the payment at the PSP for this invoice.
                self.psp_captures.append({"invoice_no": invoice_no, "amount": amount, "entry": len(self.invoices)})
            self.invoices.append(entry)
            return self._answer(entry)

    def _cancel_order(self, request: Request) -> Response:
        body = self._json_object(request)
        try:
            ref = self._client_order_ref(ci_get(body, "ClientOrderRef"))
            erp_order_no = self._text(ci_get(body, "ErpOrderNo"), "ErpOrderNo")
            if ref is None and not erp_order_no:
                raise self._invalid("ClientOrderRef", "ClientOrderRef or ErpOrderNo is required")
            for n, raw in enumerate(self._objects(ci_get(body, "Payments"), "Payments")):
                self._text(ci_get(raw, "PaymentRef"), f"Payments[{n}].PaymentRef", required=True)
        except ValueError as exc:
            return self.error_response(400, str(exc))
        with self.lock:
            order = self._find_order(ref, erp_order_no)
            if order is None:
                return self.error_response(400, f"Order not found: {ref if ref is not None else erp_order_no!r}")
            order["StatusId"] = ORDER_STATUSES["Cancelled"]
            order["_cancellations"] = order.get("_cancellations", 0) + 1
            self._touch(order)
            entry = {"time": time.time(), "client_order_ref": order["ClientOrderRef"], "body": body}
            entry["duplicate"] = order["_cancellations"] > 1
            if entry["duplicate"]:
                self.duplicate_documents.append(
                    {
                        "kind": "cancellation",
                        "number": order["ClientOrderRef"],
                        "client_order_ref": order["ClientOrderRef"],
                    }
                )
            self.cancellations.append(entry)
            return self._answer(entry)
