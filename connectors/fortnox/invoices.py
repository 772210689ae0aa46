"""Fortnox as an invoice target (core.ports.InvoiceTarget): customers and invoices for orders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from connectors.fortnox.client import FortnoxClient
from connectors.fortnox.errors import ARTICLE_NOT_FOUND
from connectors.fortnox.mapping import (
    DEFAULT_REFERENCE_FIELD,
    REFERENCE_FIELDS,
    customer_payload,
    invoice_from_fortnox,
    invoice_payload,
)
from core.errors import FLOW_SETTINGS, SyncError
from core.records import BookedOrder, CreatedInvoice, Invoice, InvoiceTerms, Party

# Brygga's customer matches → Fortnox's customer search fields.
CUSTOMER_SEARCH = {"email": "email", "organisation_number": "organisationnumber"}


class FortnoxInvoices:
    name = "Fortnox"

    def __init__(self, client: FortnoxClient) -> None:
        self.client = client

    @property
    def commit_wait(self) -> float:
        return self.client.commit_wait

    def check_terms(self, terms: InvoiceTerms) -> None:
        if terms.document != "invoice":
            raise SyncError(
                FLOW_SETTINGS.code,
                f'document: orders become Fortnox invoices here (document "invoice"), not {terms.document!r}',
            )
        if terms.reference_field and terms.reference_field not in REFERENCE_FIELDS:
            raise SyncError(
                FLOW_SETTINGS.code,
                f"reference_field: Fortnox invoices carry the order's key in one of {', '.join(REFERENCE_FIELDS)}, "
                f"not {terms.reference_field!r}",
            )

    def live_invoices(self, *, reference: str, reference_field: str, document: str = "invoice") -> list[Invoice]:
        field = reference_field or DEFAULT_REFERENCE_FIELD
        return [
            invoice_from_fortnox(item, reference_field=field) for item in self.client.live_invoices(field, reference)
        ]

    def invoices_changed_since(
        self, since: datetime, *, reference_field: str, document: str = "invoice"
    ) -> Iterator[Invoice]:
        field = reference_field or DEFAULT_REFERENCE_FIELD
        for item in self.client.invoices_changed_since(since):
            yield invoice_from_fortnox(item, reference_field=field)

    def get_invoice(self, number: str, *, reference_field: str, document: str = "invoice") -> Invoice:
        field = reference_field or DEFAULT_REFERENCE_FIELD
        return invoice_from_fortnox(self.client.get_invoice(number), reference_field=field)

    def create_invoice(self, *, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        """POST the invoice. When Fortnox lacks an article: with unknown_article "description_row"
        the missing articles go as text rows on the sales account (a warning says which),
        else the order stops with the articles named."""
        field = terms.reference_field or DEFAULT_REFERENCE_FIELD
        payload = invoice_payload(booked, customer_number=customer, terms=terms)
        try:
            created = self.client.create_invoice(payload)
        except SyncError as exc:
            if exc.code != ARTICLE_NOT_FOUND.code:
                raise
            order = booked.order
            parts = sorted(
                {row.line.part_no for row in booked.lines if row.line.kind == "product" and row.line.part_no}
            )
            known = self.client.known_articles(parts)
            missing = [part for part in parts if part not in known]
            if terms.unknown_article != "description_row" or not missing:
                names = ", ".join(missing) if missing else "(named by Fortnox)"
                raise SyncError(
                    ARTICLE_NOT_FOUND.code,
                    f"Order {order.order_no}: article {names} does not exist in Fortnox. Fortnox said: {exc.message}",
                    details={**exc.details, "missing_articles": missing},
                ) from exc
            if terms.freight_article:
                known.add(terms.freight_article)
            payload = invoice_payload(booked, customer_number=customer, terms=terms, known_articles=known)
            warning = (
                ARTICLE_NOT_FOUND.code,
                f"Order {order.order_no}: article(s) {', '.join(missing)} not in Fortnox; invoiced as text rows",
                "Create the articles in Fortnox to get stock and statistics right.",
            )
            return CreatedInvoice(
                invoice=invoice_from_fortnox(self.client.create_invoice(payload), reference_field=field),
                warnings=(warning,),
            )
        return CreatedInvoice(invoice=invoice_from_fortnox(created, reference_field=field))

    def finish_invoice(self, invoice: Invoice, *, terms: InvoiceTerms) -> Invoice:
        """A created Fortnox invoice needs nothing more: it is as the create left it."""
        return invoice

    def find_customer(self, *, match: str, value: str) -> str | None:
        found = self.client.find_customer(CUSTOMER_SEARCH[match], value)
        return None if found is None else str(found["CustomerNumber"])

    def create_customer(self, *, party: Party, currency: str) -> str:
        return str(self.client.create_customer(customer_payload(party, currency))["CustomerNumber"])

    def cancel_invoice(self, number: str) -> None:
        self.client.cancel_invoice(number)

    def credit_invoice(self, number: str) -> str:
        return str(self.client.credit_invoice(number).get("CreditInvoiceReference") or "")
