"""Norce told what became of its orders (core.ports.OrderLifeTarget): delivery notes, invoices
and cancellations through Connect's Order service, and what Norce already holds read back
from the Query API."""

from __future__ import annotations

from connectors.norce import order_life_bodies as bodies
from connectors.norce.client import NorceClient
from connectors.norce.errors import DELIVERY_STATUS_FAILED
from core.errors import SyncError
from core.records import Cancellation, Delivery, Invoiced, LifeRecord

# Query 2.0 order StatusId (CONTRACTS' OrderStatus).
INVOICED_STATUS, CANCELLED_STATUS = 5, 6


class NorceOrderLife:
    name = "Norce"

    def __init__(self, client: NorceClient) -> None:
        self.client = client
        # These calls are order statuses as much as SendOrderStatus is: they may use the share of
        # the Connect window kept for stock and statuses (CONNECT_PRIORITY_RESERVE).
        self.client.priority = True

    def send_delivery(self, delivery: Delivery, *, source_id: str, set_status: bool) -> None:
        """The delivery note, then (with `set_status`) SendOrderStatus Delivered or PartlyDelivered.

        Norce's reference says a delivery note "sets delivered / partly delivered", but not how
        Norce would know the ERP split the rest of the order into a later shipment; the ERP
        does, so the status call follows by default (one more Connect request). A status that
        fails after the note landed raises DELIVERY_STATUS_FAILED with details `record_kept`, so
        the note is not sent again for it."""
        order_no = delivery.erp_order or source_id
        self.client.create_delivery_note(bodies.delivery_note(delivery, order_no=order_no))
        if not set_status:
            return
        status = "Delivered" if delivery.complete else "PartlyDelivered"
        try:
            self.client.send_order_status(source_id, erp_order_no=order_no, status=status)
        except SyncError as exc:
            raise SyncError(
                DELIVERY_STATUS_FAILED.code,
                f"Norce holds delivery note {delivery.document}, but status {status} failed: {exc.message}",
                details={**exc.details, "record_kept": True, "status_code": exc.code},
            ) from exc

    def send_invoice(self, invoiced: Invoiced, *, source_id: str, suppress_psp_call: bool) -> None:
        self.client.create_invoice(bodies.invoice(invoiced, source_id=source_id, suppress_psp_call=suppress_psp_call))

    def send_cancellation(self, cancellation: Cancellation, *, source_id: str) -> None:
        self.client.cancel_order(bodies.cancel_order(cancellation, source_id=source_id))

    def already_told(self, record: LifeRecord, *, source_id: str) -> bool | None:
        """Read from the order's StatusId in the Query API (Norce lists no delivery notes or
        invoices there that we could match by number):

        - a cancellation is held once the order is Cancelled;
        - the last invoice of an order is held once the order is Invoiced; a cancelled order
          may or may not have been told the invoice first, and a partial invoice leaves no
          trace on the status: cannot tell;
        - a delivery note leaves no number on the order: cannot tell (None)."""
        if isinstance(record, Delivery):
            return None
        order = self.client.get_order(source_id)
        if order is None:
            return None
        status = order.get("StatusId")
        if isinstance(record, Cancellation):
            return status == CANCELLED_STATUS
        if not record.last_for_order or status == CANCELLED_STATUS:
            return None
        return status == INVOICED_STATUS
