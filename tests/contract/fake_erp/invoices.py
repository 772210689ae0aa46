"""The fake ERP as an invoice target: rows carry their own amounts, VAT as bookkeeping computed it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from core.errors import FLOW_SETTINGS, SyncError
from core.records import BookedOrder, CreatedInvoice, Invoice, InvoiceTerms, Party
from tests.contract.fake_erp.client import ARTICLE_MISSING, FakeErpClient


class FakeInvoices:
    name = "Fake ERP"
    commit_wait = 0.0

    def __init__(self, client: FakeErpClient) -> None:
        self.client = client
        self.books = client.books

    def check_terms(self, terms: InvoiceTerms) -> None:
        if terms.document != "invoice":
            raise SyncError(FLOW_SETTINGS.code, f"document: the fake ERP keeps invoices only, not {terms.document!r}")
        if terms.reference_field not in ("", "OrderRef"):
            raise SyncError(FLOW_SETTINGS.code, f"reference_field: the fake ERP has no field {terms.reference_field!r}")

    def _invoice(self, item: dict[str, Any]) -> Invoice:
        return Invoice(
            number=item["number"],
            reference=item["reference"],
            live=item["state"] in ("open", "booked") and not item["credit_of"],
            booked=item["state"] == "booked",
            currency=item["currency"],
            customer_name=self.books.customers.get(item["customer"], {}).get("name", ""),
            total=item["total"],
            vat=item["vat"],
            vat_included=False,
        )

    def live_invoices(self, *, reference: str, reference_field: str, document: str = "invoice") -> list[Invoice]:
        found = [self._invoice(i) for i in self.books.invoices.values() if i["reference"] == reference]
        return sorted((i for i in found if i.live), key=lambda i: int(i.number))

    def invoices_changed_since(
        self, since: datetime, *, reference_field: str, document: str = "invoice"
    ) -> Iterator[Invoice]:
        for item in list(self.books.invoices.values()):
            yield self._invoice(item)

    def get_invoice(self, number: str, *, reference_field: str, document: str = "invoice") -> Invoice:
        return self._invoice(self.books.invoices[number])

    def create_invoice(self, *, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        def rows(known: set[str] | None) -> list[dict[str, Any]]:
            out = []
            for row in booked.lines:
                line = row.line
                article = terms.freight_article if line.kind == "freight" else line.part_no
                if known is not None and article not in known:
                    article = ""
                out.append({"article": article, "text": line.description, "amount": row.net, "vat": row.vat})
            return out

        body = {
            "customer": customer,
            "reference": terms.reference,
            "currency": booked.order.currency or terms.currency,
            "rows": rows(None),
        }
        try:
            return CreatedInvoice(invoice=self._invoice(self.client.create_invoice(body)))
        except SyncError as exc:
            if exc.code != ARTICLE_MISSING or terms.unknown_article != "description_row":
                raise
            body["rows"] = rows(self.books.articles)
            warning = (exc.code, f"article(s) {', '.join(exc.details['missing'])} invoiced as text rows", "")
            return CreatedInvoice(invoice=self._invoice(self.client.create_invoice(body)), warnings=(warning,))

    def finish_invoice(self, invoice: Invoice, *, terms: InvoiceTerms) -> Invoice:
        return invoice  # the fake ERP's invoices are final as created

    def find_customer(self, *, match: str, value: str) -> str | None:
        wanted = value.strip().lower()
        for number, customer in sorted(self.books.customers.items()):
            if customer.get(match, "").lower() == wanted:
                return number
        return None

    def create_customer(self, *, party: Party, currency: str) -> str:
        with self.books.lock:
            number = self.books.next_number(self.books.customers, 101)
            self.books.customers[number] = {
                "name": party.display_name,
                "email": party.email.strip(),
                "organisation_number": party.organisation_number.strip(),
            }
            return number

    def cancel_invoice(self, number: str) -> None:
        self.books.invoices[number]["state"] = "cancelled"

    def credit_invoice(self, number: str) -> str:
        with self.books.lock:
            original = self.books.invoices[number]
            credit = self.books.next_number(self.books.invoices, 5001)
            self.books.invoices[credit] = {
                **original,
                "number": credit,
                "total": -original["total"],
                "vat": -original["vat"],
                "credit_of": number,
            }
            original["state"] = "credited"
            return credit
