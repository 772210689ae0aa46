"""Brygga's own view of the records it moves, independent of any one API.

Connector mappings translate a system's JSON into these and out again; the
bookkeeping rules compute on them. Money is always Decimal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.errors import SyncError


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


@dataclass(frozen=True)
class BookedLine:
    """An order line as bookkeeping decided it goes on the invoice.

    `price` is the unit price the ERP is sent: including VAT (exact, unrounded) when the
    invoice carries prices including VAT, else `line.unit_price`. `net`, `vat` and `gross`
    are the row's amounts in whole öre, as the buyer saw them."""

    line: OrderLine
    vat_rate: Decimal
    price: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class BookedOrder:
    """An order checked and computed once by bookkeeping, for an invoice target to format."""

    order: Order
    prices_include_vat: bool
    lines: tuple[BookedLine, ...]
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class InvoiceTerms:
    """How an order becomes an invoice: the flow's choices, the same for every ERP."""

    reference: str  # the order's matching key, written to the ERP's reference field
    reference_field: str  # which of the ERP's fields carries it ("" = the ERP's default)
    currency: str
    freight_article: str = ""
    freight_account: int | None = None
    sales_account: int | None = None
    # Articles the ERP lacks go as text rows on sales_account ("description_row") or stop the order ("error").
    unknown_article: str = "error"
    terms_of_payment: str = ""
    # The ERP document an order becomes: an invoice at once ("invoice"), or an ERP sales order
    # ("order") that the ERP turns into an invoice once it has shipped.
    document: str = "invoice"
    # Whether a created invoice is released (Visma.net) or left for staff to release.
    release: bool = True


@dataclass(frozen=True)
class Invoice:
    """An invoice as the ERP holds it, read back after a create or a lookup."""

    number: str
    reference: str = ""  # the value of the reference field it was looked up by ("" when not read)
    live: bool = True  # neither cancelled, nor credited, nor itself a credit note
    booked: bool = False
    date: str = ""
    customer_name: str = ""
    currency: str = ""
    total: Decimal | None = None  # what the buyer is asked to pay, after the ERP's öresavrundning
    round_off: Decimal = Decimal("0")
    vat: Decimal | None = None
    vat_included: bool = True  # whether its rows were sent with prices including VAT
    kind: str = "invoice"  # "invoice", or "order" for an ERP sales order (InvoiceTerms.document)

    @property
    def summary(self) -> str:
        parts = [
            f"dated {self.date}" if self.date else "",
            f"total {self.total} {self.currency}".strip() if self.total is not None else "",
        ]
        return ", ".join(p for p in parts if p) or "no date or total given"


@dataclass(frozen=True)
class CreatedInvoice:
    """What an invoice target's create returns: the invoice, and what it had to do to make it."""

    invoice: Invoice
    # e.g. articles the ERP lacks, invoiced as text rows: (code, message, hint) for the record's log
    warnings: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class PolledOrder:
    """One order an order source found changed: its stored form, what it reads as, and when it changed.

    `order` is None when it could not be read; `error` then says why."""

    payload: dict[str, Any]
    order: Order | None
    changed_at: datetime | None
    reference: str = ""
    error: SyncError | None = None


# -- master data: what an ERP keeps and a webshop's catalogue is fed with -----------------------
@dataclass(slots=True)
class Product:
    """One article (SKU) as the ERP keeps it."""

    part_no: str
    name: str
    vat_rate: Decimal
    manufacturer: str = ""
    active: bool = True
    sell_online: bool | None = None  # the ERP's "sold in the webshop" mark, None when it has none
    stock_item: bool = True  # kept in stock (not a service or a non-stock article)
    unit: str = ""  # the ERP's unit, as written there
    ean: str = ""
    weight_kg: Decimal | None = None


@dataclass(slots=True)
class Price:
    """One price of an article: from `from_quantity` units on, with or without VAT."""

    part_no: str
    amount: Decimal
    includes_vat: bool
    from_quantity: int = 1
    vat_rate: Decimal | None = None  # the article's, when known (needed to add or remove VAT)


@dataclass(slots=True)
class StockLevel:
    part_no: str
    quantity: Decimal


@dataclass(frozen=True)
class Account:
    """A customer of the ERP: a private person or a company ("private" or "company")."""

    code: str
    kind: str
    name: str
    email: str = ""
    phone: str = ""
    mobile: str = ""
    organisation_number: str = ""
    vat_number: str = ""
    active: bool = True
    invoice_address: Address = field(default_factory=Address)
    delivery_addresses: tuple[Address, ...] = ()


MasterRecord = Product | Price | StockLevel | Account


@dataclass
class CatalogueRecord:
    """One item for a webshop's catalogue: identifiers (always sent) and flat fields
    ("<Level>.<Field>", sent when they changed), under the target's import `method`."""

    method: str
    source_id: str
    identity: dict[str, Any]
    fields: dict[str, Any]
    reference: str = ""
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"method": self.method, "identity": self.identity, "fields": self.fields, **self.extra}

    @property
    def hash(self) -> str:
        return content_hash({"method": self.method, "identity": self.identity, "fields": self.fields})


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def changed_fields(fields: dict[str, Any], confirmed: dict[str, Any]) -> set[str]:
    """The field keys whose value differs from what the target last confirmed."""
    return {key for key, value in fields.items() if key not in confirmed or confirmed[key] != value}


# SeverityId of an import job's kept messages (JobOutcome.messages).
WARNING_SEVERITY, ERROR_SEVERITY = 2, 3


def text_of(value: Any) -> str:
    """A value an API gives as trimmed text ("" for none)."""
    return "" if value is None else str(value).strip()


def decimal_of(value: Any, *, code: str, what: str, source_id: str) -> Decimal:
    """A number an ERP gives (text with a decimal comma too; empty is 0) as a Decimal; a value
    that is no finite number raises a permanent SyncError naming `what` of `source_id`."""
    try:
        number = Decimal(str(value).replace(",", ".").strip() or "0")
    except (InvalidOperation, ValueError):
        raise SyncError(code, f"{what} of {source_id} is not a number: {value!r}", permanent=True) from None
    if not number.is_finite():
        raise SyncError(code, f"{what} of {source_id} is not a number: {value!r}", permanent=True)
    return number


def as_int(value: Any) -> int:
    """A whole number from a value an API or a stored log gives (0 when it is none)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class ImportAccepted:
    """An import a catalogue target accepted: its job, and what was sent (kept on the job)."""

    job_id: str
    header: dict[str, Any]
    body: bytes
    messages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobOutcome:
    """Where an import job is, and once it ended what happened to its rows (1-based, in the
    order they were sent). `messages` is the target's log as kept on the job: warnings and
    errors as {"SeverityId": 2 (warning) or 3 (error), "Message": text, "ImportedRow": row}."""

    finished: bool
    status: str  # "queued", "running", "succeeded", "partly_failed", "failed", "validation_failed"
    status_id: int | None = None  # the target's own number for it
    could_not_run: bool = False  # the whole job failed: its rows are sent again
    inserts: int = 0
    updates: int = 0
    failures: int = 0
    written: int = 0
    ignored: int = 0
    rejected: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    row_errors: dict[int, str] = field(default_factory=dict)
    rows_ignored: dict[int, str] = field(default_factory=dict)
    unplaced_errors: list[str] = field(default_factory=list)  # errors naming no row (they may name a record)
    first_error: str = ""
    code: str = ""  # the target's error code for the job as a whole, when it failed


# -- the order's life after it is in the ERP (ERP → webshop) -----------------------------------
# An order source's order, told back what the ERP did with it: shipped it (a delivery), invoiced
# it, cancelled it. Each is one ERP document; `order_reference` is the order's matching key as
# the ERP document carries it (what the orders flow wrote to the reference field), `erp_order`
# the ERP's own order or invoice number the webshop may know the order by.
DELIVERY, INVOICED, CANCELLED = "delivery", "invoiced", "cancelled"


@dataclass(frozen=True, slots=True)
class DeliveredLine:
    part_no: str
    quantity: Decimal
    description: str = ""
    row_number: int | None = None  # the webshop order's line number, when the ERP keeps it


@dataclass(frozen=True, slots=True)
class Delivery:
    """A shipment the ERP confirmed: what went, when, and under which parcel numbers."""

    document: str  # the ERP's shipment (or delivered order) number: the delivery note's number
    order_reference: str
    erp_order: str
    delivered_on: str  # ISO date
    lines: tuple[DeliveredLine, ...]
    parcels: tuple[str, ...] = ()  # tracking / parcel numbers, where the ERP holds them
    carrier: str = ""  # the ERP's ship-via / delivery mode
    complete: bool = True  # the whole order has now shipped (else PartlyDelivered)


@dataclass(frozen=True, slots=True)
class InvoicedLine:
    part_no: str
    description: str
    quantity: Decimal
    unit_price: Decimal  # excluding VAT
    unit_vat: Decimal
    vat_rate: Decimal


@dataclass(frozen=True, slots=True)
class Invoiced:
    """An invoice the ERP holds for the order (its own, or one made from a shipped sales order)."""

    document: str  # the invoice number
    order_reference: str
    erp_order: str
    invoice_date: str
    due_date: str
    currency: str
    total: Decimal  # what the buyer pays, VAT included
    vat: Decimal
    lines: tuple[InvoicedLine, ...] = ()
    round_off: Decimal = Decimal("0")
    last_for_order: bool = True


@dataclass(frozen=True, slots=True)
class Cancellation:
    document: str  # the cancelled ERP document
    order_reference: str
    erp_order: str
    reason: str = ""


LifeRecord = Delivery | Invoiced | Cancellation


@dataclass(frozen=True, slots=True)
class LifeEvent:
    """One thing a fulfilment source found: its key ("<kind>:<document>", stable across
    reads, so it is told to the webshop once), when it changed, and the record — or why it
    could not be read (the field that broke is named in the error's details)."""

    key: str
    kind: str  # DELIVERY, INVOICED or CANCELLED
    changed_at: datetime | None
    payload: dict[str, Any]  # the ERP's document as read (kept on the entity)
    record: LifeRecord | None = None
    error: SyncError | None = None
