"""What every part of the orders flow shares: the stored order, how it is read, the flow's
settings as invoice terms, and what the order's timeline says about its invoices."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.errors import FLOW_SETTINGS, ORDER_CREATE_ANYWAY, ORDER_DUPLICATE_INVOICE, REFERENCE_DELETED, SyncError
from core.ports import OrderSource
from core.records import InvoiceTerms, Order
from integrations.flows.order_settings import OrderFlowSettings, parse_settings
from integrations.models import Entity, Integration, LogEntry

DATA_TYPE = "order"
DIRECTION = "commerce_to_erp"
CUSTOMER = "order_customer"


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def store_order(
    *,
    integration: Integration,
    source_id: str,
    payload: dict[str, Any],
    received_via: str,
    reference: str = "",
    label: str = "",
) -> tuple[Entity, bool]:
    """Keep an order durably (idempotent on its source id). Returns (entity, created).

    A pushed order is richer than a fetched or polled one (Norce's OrderRequest carries
    UnitVat, its Query 2.0 order does not), so it replaces a polled payload on a record
    that is not yet synced; nothing else does.
    """
    digest = payload_hash(payload)
    entity, created = Entity.objects.get_or_create(
        integration=integration,
        data_type=DATA_TYPE,
        source_id=source_id,
        defaults={
            "payload": payload,
            "payload_hash": digest,
            "received_via": received_via,
            "reference": reference or source_id,
            "label": label[:200],
        },
    )
    if (
        not created
        and received_via == "push"
        and entity.received_via != "push"
        and entity.status != Entity.Status.SYNCED
    ):
        Entity.objects.filter(pk=entity.pk).update(payload=payload, payload_hash=digest, received_via="push")
        entity.payload, entity.received_via = payload, "push"
    return entity, created


def parse_settings_or_error(raw: dict[str, Any] | None) -> OrderFlowSettings:
    try:
        return parse_settings(raw)
    except ValueError as exc:
        raise SyncError(FLOW_SETTINGS.code, f"Orders flow settings: {exc}") from exc


def freight_articles(settings: OrderFlowSettings) -> list[str]:
    return [settings.freight_article] if settings.freight_article else []


def read_stored_order(source: OrderSource, entity: Entity, settings: OrderFlowSettings) -> Order:
    return source.read_order(
        entity.payload, received_via=entity.received_via, freight_articles=freight_articles(settings)
    )


def order_reference(order: Order, settings: OrderFlowSettings) -> str:
    """The matching key written to the invoice: reference_prefix + order number."""
    return f"{settings.reference_prefix}{order.order_no}"


def invoice_terms(order: Order, settings: OrderFlowSettings) -> InvoiceTerms:
    return InvoiceTerms(
        reference=order_reference(order, settings),
        reference_field=settings.reference_field,
        currency=settings.currency,
        freight_article=settings.freight_article,
        freight_account=settings.freight_account,
        sales_account=settings.sales_account,
        unknown_article=settings.unknown_article,
        terms_of_payment=settings.terms_of_payment,
        document=settings.document,
        release=settings.release_invoices,
    )


def may_have_invoice(entity: Entity) -> bool:
    """Whether an invoice for this order may already exist in the ERP, so it must be looked up.

    False only for a brand-new order: its first attempt (the claim counted it), no
    create mark, and never linked (no deleted reference on its timeline).
    """
    if entity.create_started_at is not None or entity.attempts > 1:
        return True
    return LogEntry.objects.filter(entity=entity, code__in=(REFERENCE_DELETED.code, ORDER_CREATE_ANYWAY.code)).exists()


def superseded_invoices(entity: Entity) -> set[str]:
    """Invoice numbers staff chose to leave behind with "Create a new invoice anyway"."""
    left: set[str] = set()
    for details in LogEntry.objects.filter(entity=entity, code=ORDER_CREATE_ANYWAY.code).values_list(
        "details", flat=True
    ):
        left.update(str(number) for number in (details or {}).get("superseded") or [])
    return left


def duplicate_details(entity: Entity) -> dict[str, Any] | None:
    """The last duplicate found for the order ({"kept", "extra", "live"}), if any."""
    details = (
        LogEntry.objects.filter(entity=entity, code=ORDER_DUPLICATE_INVOICE.code)
        .order_by("-created_at", "-pk")
        .values_list("details", flat=True)
        .first()
    )
    return details or None
