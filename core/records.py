"""Brygga's own view of the records it moves, independent of any one API.

Connector mappings translate a system's JSON into these and out again; the
bookkeeping rules compute on them. Money is always Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass
class Address:
    line1: str = ""
    line2: str = ""
    zip_code: str = ""
    city: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    care_of: str = ""


@dataclass
class Party:
    """A buyer, payer or consignee. `kind` is "private" or "company"."""

    kind: str = "private"
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    organisation_number: str = ""
    vat_number: str = ""
    customer_code: str = ""  # the webshop's customer or company code, when known
    address: Address = field(default_factory=Address)

    @property
    def display_name(self) -> str:
        return self.name or " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass
class OrderLine:
    """One order row. `unit_price` excludes VAT and includes discounts (Norce's UnitPrice)."""

    line_no: int
    kind: str  # "product", "freight", "fee"
    part_no: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal | None
    unit_vat: Decimal | None = None
    unit_price_original: Decimal | None = None


@dataclass
class Payment:
    method: str = ""
    reference: str = ""
    amount: Decimal = Decimal("0")
    currency: str = ""
    name: str = ""


@dataclass
class Order:
    source_id: str  # Norce ClientOrderRef: the dedupe key
    order_no: str  # the number people use (ClientOrderRef unless Norce overrides it)
    currency: str
    buyer: Party
    lines: list[OrderLine]
    placed_at: datetime | None = None
    ship_to: Party | None = None
    payments: list[Payment] = field(default_factory=list)
    customer_reference: str = ""  # buyer's own reference (CustomerOrderRef)
    comment: str = ""
    discount_code: str = ""
    delivery_method: str = ""
    application_id: str = ""
