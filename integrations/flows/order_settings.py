"""Settings of the orders → ERP invoices flow, validated per key.

They are the same for every webshop and ERP; what only one system understands (a Fortnox
grant, a Norce application id) is in that connector's settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core import settings as schema
from integrations import registry


def reference_fields() -> tuple[str, ...]:
    """The invoice fields any declared ERP can carry the order's key in."""
    fields_: list[str] = []
    for system in registry.systems().values():
        fields_.extend(f for f in system.reference_fields if f not in fields_)
    return tuple(fields_)


@dataclass(frozen=True)
class OrderFlowSettings:
    # Which ERP invoice field carries the order number as the matching key (exactly-once
    # lookup, and later payout matching), from the ERP's declaration (Fortnox:
    # ExternalInvoiceReference1, ExternalInvoiceReference2 or YourOrderNumber); empty = the
    # ERP's first, its default.
    reference_field: str = ""
    reference_prefix: str = ""
    # Look a brand-new order up in the ERP before creating its invoice, as every other record
    # without a reference is (a retry, a deleted reference, an attempt that may have created it).
    # Off by default: an order Brygga never started invoicing cannot have an invoice made by
    # Brygga, and skipping the lookup keeps a new order at one ERP call. Turn it on when
    # invoices carrying the order number may come from elsewhere (a shop moving from another
    # integration that wrote the same reference field).
    look_up_new_orders: bool = False
    # How buyers become ERP customers.
    #   private: "email" (find or create one customer per e-mail) or "single" (all on default_customer_number)
    #   company: "organisation_number" or "email"
    private_customer_match: str = "email"
    company_customer_match: str = "organisation_number"
    default_customer_number: str = ""
    # Send row prices including VAT (B2C webshops) so the gross total is exact.
    prices_include_vat: bool = True
    # Freight rows: article number to use; empty = a text row booked on freight_account.
    freight_article: str = ""
    freight_account: int | None = 3520
    # Unknown article: "error" (record needs attention) or "description_row" (row without article, sales_account).
    unknown_article: str = "error"
    sales_account: int | None = 3001
    terms_of_payment: str = ""
    # The ERP document an order becomes: "invoice" at once, or "order" — an ERP sales order
    # (reserving stock) that the ERP invoices once it has shipped (Visma.net SalesOrders V3).
    document: str = "invoice"
    # Release (post) the invoice once it is created; off leaves it for staff to release (Visma.net).
    release_invoices: bool = True
    currency: str = "SEK"
    # Tell the webshop the order is Confirmed, with the invoice number, once the invoice exists.
    send_status_to_commerce: bool = True
    # Fail-safe poll: look back this many minutes before the cursor.
    poll_overlap_minutes: int = 15
    # Orders per task when a batch is run (poll / run now).
    batch_size: int = 50

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def choices() -> dict[str, tuple[str, ...]]:
    return {
        "reference_field": ("", *reference_fields()),
        "private_customer_match": ("email", "single"),
        "company_customer_match": ("organisation_number", "email", "single"),
        "unknown_article": ("error", "description_row"),
        "document": ("invoice", "order"),
    }


def parse_settings(raw: dict[str, Any] | None) -> OrderFlowSettings:
    """Build settings from a flow's JSON, raising ValueError naming every bad key."""
    settings, problems = schema.read(OrderFlowSettings, raw, choices=choices())
    extra = schema.unknown(raw, schema.field_names(OrderFlowSettings))
    if extra:
        problems.insert(0, extra)
    single = settings.private_customer_match == "single" or settings.company_customer_match == "single"
    if single and not settings.default_customer_number:
        problems.append("default_customer_number is required when a customer match is 'single'")
    if settings.unknown_article == "description_row" and not settings.sales_account:
        problems.append("sales_account is required when unknown_article is 'description_row'")
    if not settings.freight_article and not settings.freight_account:
        problems.append("freight_account is required when no freight_article is set")
    if problems:
        raise ValueError("; ".join(problems))
    return settings


def validate_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    return parse_settings(raw).as_dict()
