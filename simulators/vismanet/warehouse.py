"""A simulated warehouse for the demo: it ships the company's open sales orders and invoices
the shipments, as the people (or the logistics partner) of a Visma.net company would.

Every round it ships, in full, each open V3 order older than `ship_after` seconds (a confirmed
shipment with a parcel and its tracking number) and invoices, and releases, each confirmed
shipment older than `invoice_after` seconds. The ERP's own notifications follow as usual.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.vismanet.server import VismaNetSimulator


def has_stock_to_ship(order: dict[str, Any]) -> bool:
    """An open order with a stock line not yet shipped in full (services are invoiced, not shipped)."""
    return order["status"] == "Open" and any(
        line["stockItem"] and line["quantity"] > line["shippedQuantity"] for line in order["lines"]
    )


class Warehouse:
    """Ships and invoices a company's orders in a background thread until stop()."""

    # PostNord parcel numbers are SSCCs: "00" + the GS1 company prefix + a serial (18 digits after "00").
    TRACKING_PREFIX = "0037350"

    def __init__(
        self,
        sim: VismaNetSimulator,
        *,
        interval: float = 5.0,
        ship_after: float = 20.0,
        invoice_after: float = 20.0,
        tenant_id: str | None = None,
    ) -> None:
        self.sim, self.interval, self.tenant_id = sim, interval, tenant_id
        self.ship_after, self.invoice_after = timedelta(seconds=ship_after), timedelta(seconds=invoice_after)
        self.shipped: list[str] = []
        self.invoiced: list[str] = []
        self._serial = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Warehouse:
        self._thread = threading.Thread(target=self._loop, name="vismanet-warehouse", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.round()

    def round(self) -> None:
        """One round: ship what waited long enough, then invoice what was shipped long enough ago."""
        with self.sim.lock:
            company = self.sim.company(self.tenant_id)
            now = self.sim.clock()
            to_ship = [
                (order["type"], order["id"])
                for order in company.sales_orders.values()
                if has_stock_to_ship(order) and now - order["createdDateTime"] >= self.ship_after
            ]
            for order_type, number in to_ship:
                self._serial += 1
                tracking = f"{self.TRACKING_PREFIX}{self._serial:013d}"
                self.shipped.append(
                    self.sim.ship_order(order_type, number, tracking=tracking, tenant_id=self.tenant_id)
                )
            to_invoice = [
                shipment["shipmentNumber"]
                for shipment in company.shipments.values()
                if shipment["status"] == "Confirmed" and now - shipment["lastModifiedDateTime"] >= self.invoice_after
            ]
            for number in to_invoice:
                self.invoiced.append(self.sim.invoice_shipment(number, tenant_id=self.tenant_id))
