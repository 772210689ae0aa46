"""The Connect 4.0 Order service: SendOrderStatus, CreateDeliveryNote, CreateInvoice and
CancelOrder under /commerce/connect/4.0/Order/."""

from __future__ import annotations

import json
import time
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

    def _record_order_call(
        self,
        request: Request,
        log: list[dict[str, Any]],
        *,
        ref_keys: tuple[str, ...],
        erp_keys: tuple[str, ...],
        new_status: str,
        alternative: str | None = None,
    ) -> Response:
        """Accept-and-record for CreateDeliveryNote / CreateInvoice / CancelOrder.

        The order is named by one of `ref_keys` (ClientOrderRef) or `erp_keys` (ERP
        order number); an unknown order is a 400. `alternative` is a key that may
        stand in for both (an invoice needs only its InvoiceNo).
        """
        body = self._json_object(request)
        ref = next((ci_get(body, k) for k in ref_keys if ci_get(body, k) not in (None, "")), None)
        erp_ref = next((ci_get(body, k) for k in erp_keys if ci_get(body, k)), None)
        with self.lock:
            order = None
            if ref is not None or erp_ref is not None:
                order = self._find_order(ref, erp_ref)
                if order is None:
                    return self.error_response(400, f"Order not found: {ref if ref is not None else erp_ref!r}")
                order["StatusId"] = ORDER_STATUSES[new_status]
                self._touch(order)
            elif alternative is None or not ci_get(body, alternative):
                names = ref_keys + erp_keys + ((alternative,) if alternative else ())
                return self.error_response(400, f"{' or '.join(names)} is required")
            log.append(
                {"time": time.time(), "client_order_ref": order["ClientOrderRef"] if order else None, "body": body}
            )
        return Response(status=200, body=None)

    def _create_delivery_note(self, request: Request) -> Response:
        # A DeliveryNote names its order by OrderNo (the ERP order number once confirmed).
        return self._record_order_call(
            request, self.delivery_notes, ref_keys=(), erp_keys=("OrderNo",), new_status="Delivered"
        )

    def _create_invoice(self, request: Request) -> Response:
        return self._record_order_call(
            request,
            self.invoices,
            ref_keys=("ClientOrderRef",),
            erp_keys=("ErpOrderNo",),
            new_status="Invoiced",
            alternative="InvoiceNo",
        )

    def _cancel_order(self, request: Request) -> Response:
        return self._record_order_call(
            request, self.cancellations, ref_keys=("ClientOrderRef",), erp_keys=("ErpOrderNo",), new_status="Cancelled"
        )
