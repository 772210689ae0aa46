"""One Visma.net company (a tenant): its settings, its data and its number series."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulators.vismanet.catalogue import Segment

DEFAULT_WAREHOUSE = "MAIN"
DEFAULT_BRANCH = "1"

# Swedish VAT codes as a Swedish Visma.net company names them (assumption agreed with the
# connector, which reads /v1/vat and can override the mapping): rate in percent.
SWEDISH_VAT = {
    "MP1": ("Utgående moms 25 %", Decimal(25)),
    "MP2": ("Utgående moms 12 %", Decimal(12)),
    "MP3": ("Utgående moms 6 %", Decimal(6)),
    "MF": ("Momsfri försäljning 0 %", Decimal(0)),
}
VAT_CODE_BY_RATE = {int(rate): code for code, (_, rate) in SWEDISH_VAT.items()}

COUNTRIES = {"SE": "Sverige", "NO": "Norge", "DK": "Danmark", "FI": "Finland", "DE": "Tyskland", "GB": "Storbritannien"}
CUSTOMER_CLASSES = {"WEB": "Webshop customers", "B2B": "Business customers", "STD": "Standard"}
SHIP_VIAS = {"POSTNORD": "PostNord", "DHL": "DHL Freight", "BRING": "Bring", "PICKUP": "Upphämtning"}


@dataclass
class Company:
    """The state of one company; all access under the simulator's lock."""

    tenant_id: str
    name: str
    organization_cd: str = "1"
    corporate_id: str = "559000-1234"
    currency: str = "SEK"
    licensed: bool = True  # False: a tenant the app may use whose company has no licence (12027)
    round_to_whole: bool = False  # öresavrundning of invoice amounts (off by default)
    closed_periods: set[str] = field(default_factory=set)  # financial periods "YYYYMM" that are closed
    branches: set[str] = field(default_factory=lambda: {DEFAULT_BRANCH})
    warehouses: dict[str, str] = field(default_factory=lambda: {DEFAULT_WAREHOUSE: "Huvudlager"})
    vat_codes: dict[str, tuple[str, Decimal]] = field(default_factory=lambda: dict(SWEDISH_VAT))
    webhook_url: str | None = None

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    inventory: dict[str, dict[str, Any]] = field(default_factory=dict)  # stored (and materialised) items
    # item → warehouse → quantity on hand; items absent here have none (generated ones: computed)
    stock: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    prices: dict[int, dict[str, Any]] = field(default_factory=dict)  # recordId → sales price
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)  # invoices and credit notes
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    sales_orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # "SO/000001" → order
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    background: dict[str, dict[str, Any]] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)

    _series: dict[str, int] = field(default_factory=dict)
    _row_version: int = 0

    def next_number(self, series: str, start: int, width: int = 6, taken: Any = ()) -> str:
        """The next number of a number series (skipping numbers given by hand)."""
        value = self._series.get(series, start - 1)
        while True:
            value += 1
            candidate = f"{value:0{width}d}"
            if candidate not in taken:
                self._series[series] = value
                return candidate

    def next_row_version(self) -> int:
        self._row_version += 1
        return self._row_version

    def vat_rate(self, code: str) -> Decimal | None:
        entry = self.vat_codes.get(code)
        return None if entry is None else entry[1]

    def reservations(self) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
        """(item, warehouse) → (soBooked, soAllocated): quantities on open sales order lines not
        yet shipped, and the part of them on shipments not yet confirmed."""
        result: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        for order in self.sales_orders.values():
            if order["status"] in ("Open", "Hold", "Shipping", "BackOrder"):
                for line in order["lines"]:
                    key = (line["inventoryId"], line["warehouseId"])
                    booked, allocated = result.get(key, (Decimal(0), Decimal(0)))
                    result[key] = (booked + line["quantity"] - line["shippedQuantity"], allocated)
        for shipment in self.shipments.values():
            if shipment["status"] in ("Open", "Hold"):
                for line in shipment["shipmentDetailLines"]:
                    key = (line["inventoryNumber"], line["warehouse"])
                    booked, allocated = result.get(key, (Decimal(0), Decimal(0)))
                    result[key] = (booked, allocated + line["shippedQty"])
        return result
