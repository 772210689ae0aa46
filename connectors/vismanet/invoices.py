"""Visma.net as an invoice target (core.ports.InvoiceTarget): customers, and customer invoices
(or, with InvoiceTerms.document "order", SalesOrders V3 orders) for webshop orders."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.vismanet.client import VismaNetClient
from connectors.vismanet.errors import INVENTORY_ITEM_NOT_FOUND, RELEASE_PENDING
from connectors.vismanet.mapping import (
    BOOKED_STATUSES,
    DEFAULT_REFERENCE_FIELD,
    REFERENCE_FIELDS,
    customer_payload,
    invoice_from_visma,
    invoice_is_live,
    invoice_payload,
    is_credit_note,
    order_from_visma,
    sales_order_payload,
    split_order_number,
)
from core.errors import FLOW_SETTINGS, SyncError
from core.records import BookedOrder, CreatedInvoice, Invoice, InvoiceTerms, Party

log = logging.getLogger("brygga.connectors.vismanet")

# Brygga's customer matches → Visma.net's customer list filters and the fields compared.
CUSTOMER_SEARCH = {"email": "email", "organisation_number": "corporateId"}
DOCUMENTS = ("invoice", "order")


class VismaNetInvoices:
    name = "Visma.net"

    def __init__(self, client: VismaNetClient) -> None:
        self.client = client

    @property
    def commit_wait(self) -> float:
        return self.client.commit_wait

    def check_terms(self, terms: InvoiceTerms) -> None:
        if terms.document not in DOCUMENTS:
            raise SyncError(
                FLOW_SETTINGS.code,
                f'document: orders become Visma.net customer invoices ("invoice") or sales orders ("order"), '
                f"not {terms.document!r}",
            )
        if terms.reference_field and terms.reference_field not in REFERENCE_FIELDS:
            raise SyncError(
                FLOW_SETTINGS.code,
                f"reference_field: Visma.net invoices carry the order's key in one of {', '.join(REFERENCE_FIELDS)}, "
                f"not {terms.reference_field!r}",
            )

    # -- lookups -----------------------------------------------------------------------
    def live_invoices(self, *, reference: str, reference_field: str, document: str = "invoice") -> list[Invoice]:
        """Exact hits of the reference field, oldest first; voided invoices, credit notes and the
        invoices those credit notes reverse are not live."""
        if document == "order":
            orders = self.client.sales_orders_by_reference(reference)
            found = [order_from_visma(order) for order in orders]
            return sorted((i for i in found if i.live), key=lambda i: _number_key(i.number))
        field = reference_field or DEFAULT_REFERENCE_FIELD
        items = [item for item in self.client.invoices({field: reference}) if str(item.get(field) or "") == reference]
        credited = _credited(items)
        invoices = [
            invoice_from_visma(item, reference_field=field, credited=str(item.get("referenceNumber")) in credited)
            for item in items
            if not is_credit_note(item)
        ]
        return sorted((i for i in invoices if i.live), key=lambda i: _number_key(i.number))

    def invoices_changed_since(
        self, since: datetime, *, reference_field: str, document: str = "invoice"
    ) -> Iterator[Invoice]:
        if document == "order":
            for order in self.client.sales_orders_changed_since(since):
                yield order_from_visma(order)
            return
        field = reference_field or DEFAULT_REFERENCE_FIELD
        for item in self.client.invoices_changed_since(since):
            yield invoice_from_visma(item, reference_field=field)

    def get_invoice(self, number: str, *, reference_field: str, document: str = "invoice") -> Invoice:
        """The invoice (or V3 order) as Visma.net holds it now. One that is gone — an unreleased
        invoice is deleted, not cancelled — is read as not live."""
        if document == "order":
            kind, nbr = split_order_number(number)
            order = self.client.get_sales_order(kind, nbr)
            return Invoice(number=number, live=False, kind="order") if order is None else order_from_visma(order)
        field = reference_field or DEFAULT_REFERENCE_FIELD
        item = self.client.get_invoice(number, missing_ok=True)
        if item is None:
            return Invoice(number=number, live=False)
        # A reversed invoice keeps its status; its credit note (carrying the same reference) says so.
        reference = str(item.get(field) or "")
        siblings = self.client.invoices({field: reference}) if reference and invoice_is_live(item) else []
        credited = number in _credited([i for i in siblings if str(i.get(field) or "") == reference])
        return invoice_from_visma(item, reference_field=field, credited=credited)

    # -- creates -----------------------------------------------------------------------
    def create_invoice(self, *, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        """POST the invoice (or the V3 order), release it when terms.release, and read it back.

        An inventory item Visma.net lacks: with unknown_article "description_row" the missing
        items go as lines on the sales account (a warning says which), else the order stops with
        them named."""
        if terms.document == "order":
            return self._create_order(booked=booked, customer=customer, terms=terms)
        field = terms.reference_field or DEFAULT_REFERENCE_FIELD
        warnings: tuple[tuple[str, str, str], ...] = ()
        try:
            number = self.client.create_invoice(self._payload(booked, customer, terms))
        except SyncError as exc:
            if exc.code != INVENTORY_ITEM_NOT_FOUND.code:
                raise
            order = booked.order
            parts = sorted({r.line.part_no for r in booked.lines if r.line.kind == "product" and r.line.part_no})
            known = self.client.known_items(parts)
            missing = [part for part in parts if part not in known]
            if terms.unknown_article != "description_row" or not missing:
                names = ", ".join(missing) if missing else "(named by Visma.net)"
                raise SyncError(
                    INVENTORY_ITEM_NOT_FOUND.code,
                    f"Order {order.order_no}: inventory item {names} does not exist in Visma.net. "
                    f"Visma.net said: {exc.message}",
                    details={**exc.details, "missing_articles": missing},
                ) from exc
            if terms.freight_article:
                known.add(terms.freight_article)
            number = self.client.create_invoice(self._payload(booked, customer, terms, known_items=known))
            warnings = (
                (
                    INVENTORY_ITEM_NOT_FOUND.code,
                    f"Order {order.order_no}: inventory item(s) {', '.join(missing)} not in Visma.net; invoiced as "
                    "lines on the sales account",
                    "Create the inventory items in Visma.net to get stock and statistics right.",
                ),
            )
        if terms.release:
            self._release(number)
        item = self.client.get_invoice(number)
        assert item is not None
        return CreatedInvoice(invoice=invoice_from_visma(item, reference_field=field), warnings=warnings)

    def _payload(
        self, booked: BookedOrder, customer: str, terms: InvoiceTerms, *, known_items: set[str] | None = None
    ) -> dict[str, Any]:
        options = self.client.options
        return invoice_payload(
            booked,
            customer_number=customer,
            terms=terms,
            vat_code_for=self.client.vat_code_for,
            zone=self.client.zone,
            branch=options.branch,
            send_vat_amounts=options.send_vat_amounts,
            known_items=known_items,
        )

    def _release(self, number: str) -> None:
        """Release the invoice. Visma.net may queue the release (actionResult "Queued"): the
        invoice is then read until it is released, for at most release_wait_seconds."""
        try:
            answer = self.client.release_invoice(number)
        except SyncError:
            # A release whose answer was lost may have been done, and its repeat is then refused
            # (412 on the changed ETag, then "cannot be released"): released is released.
            item = self.client.get_invoice(number, missing_ok=True) or {}
            if str(item.get("status") or "") in BOOKED_STATUSES:
                return
            raise
        result = str(answer.get("actionResult") or "Done")
        if result == "Failed":
            raise SyncError(
                RELEASE_PENDING.code,
                f"Visma.net could not release invoice {number}: {answer.get('errorInfo') or 'no reason given'}",
                permanent=True,
                hint="Open the invoice in Visma.net, correct what the message names and release it there.",
            )
        if result == "Done":
            return
        deadline = time.monotonic() + self.client.options.release_wait_seconds
        while True:
            item = self.client.get_invoice(number) or {}
            if str(item.get("status") or "") in BOOKED_STATUSES:
                return
            if time.monotonic() >= deadline:
                # The invoice exists (unreleased so far); its totals are still right. Released later by Visma.
                log.warning("Visma.net invoice %s: release still %s after the wait", number, result)
                return
            time.sleep(1.0)

    def _create_order(self, *, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        body = sales_order_payload(
            booked,
            customer_number=customer,
            terms=terms,
            vat_code_for=self.client.vat_code_for,
            zone=self.client.zone,
        )
        kind, nbr = self.client.create_sales_order(body)
        order = self.client.get_sales_order(kind, nbr) or {"type": kind, "id": nbr, "customerRefNo": terms.reference}
        return CreatedInvoice(invoice=order_from_visma(order))

    # -- customers ---------------------------------------------------------------------
    def find_customer(self, *, match: str, value: str) -> str | None:
        """The customer whose e-mail (main contact) or corporate id equals `value`, active first."""
        field = CUSTOMER_SEARCH[match]
        wanted = _normalise(field, value)
        if not wanted:
            return None
        hits = [
            item
            for item in self.client.find_customers(field, value.strip())
            if _normalise(field, _customer_field(item, field)) == wanted
        ]
        hits.sort(key=lambda item: (str(item.get("status") or "Active") != "Active", _number_key(item.get("number"))))
        return str(hits[0]["number"]) if hits else None

    def create_customer(self, *, party: Party, currency: str) -> str:
        payload = customer_payload(party, currency, customer_class=self.client.options.customer_class)
        return self.client.create_customer(payload)

    # -- corrections -------------------------------------------------------------------
    def finish_invoice(self, invoice: Invoice, *, terms: InvoiceTerms) -> Invoice:
        """An invoice an interrupted attempt created, still unreleased while the terms release:
        released now, as the create would have (a sales order needs nothing more)."""
        if terms.document == "order" or not terms.release or invoice.booked or not invoice.live:
            return invoice
        self._release(invoice.number)
        return self.get_invoice(invoice.number, reference_field=terms.reference_field)

    def cancel_invoice(self, number: str) -> None:
        """Delete an unreleased invoice (Visma.net deletes rather than cancels)."""
        self.client.delete_invoice(number)

    def credit_invoice(self, number: str) -> str:
        """Reverse a released invoice into a credit note; the credit note's number when named."""
        answer = self.client.reverse_invoice(number)
        for key in ("referenceNumber", "creditNoteNumber", "documentNumber"):
            if answer.get(key):
                return str(answer[key])
        return ""


def _credited(items: list[dict[str, Any]]) -> set[str]:
    """Invoices a credit note among `items` reverses: the one it names, else one of the same amount."""
    invoices = sorted((i for i in items if not is_credit_note(i)), key=lambda i: _number_key(i.get("referenceNumber")))
    credited: set[str] = set()
    for note in (i for i in items if is_credit_note(i) and str(i.get("status") or "") != "Voided"):
        named = next((str(note[k]) for k in ("origInvoiceNumber", "originalDocument", "origRefNbr") if note.get(k)), "")
        if not named:
            amount = _decimal(note.get("amount"))
            named = next(
                (
                    str(i.get("referenceNumber"))
                    for i in invoices
                    if str(i.get("referenceNumber")) not in credited and _decimal(i.get("amount")) == amount
                ),
                "",
            )
        if named:
            credited.add(named)
    return credited


def _customer_field(item: dict[str, Any], field: str) -> str:
    if field == "email":
        contact = item.get("mainContact") or {}
        return str(contact.get("email") or item.get("email") or "")
    return str(item.get(field) or "")


def _normalise(field: str, value: str) -> str:
    value = (value or "").strip().casefold()
    if field == "corporateId":
        value = value.replace("-", "").replace(" ", "")
    return value


def _number_key(value: Any) -> tuple[int, str]:
    text = "" if value is None else str(value)
    digits = text.rsplit("/", 1)[-1]
    return (int(digits), text) if digits.isdigit() else (10**18, text)


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value in (None, "") else abs(Decimal(str(value)))
    except ArithmeticError:
        return None
