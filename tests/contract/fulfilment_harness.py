"""Harnesses of the fulfilment-source contract (tests/contract/test_fulfilment_source.py).

A harness builds a FulfilmentSource on a real connector and does, in the ERP's own way, what
the port only reads: invoice an order key, book, cancel, and break an invoice so it cannot be
read. The next ERP adds one entry to HARNESSES and gets the whole suite."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.ports import FULFILMENT_SOURCE, FulfilmentSource
from integrations.engine.clients import port_for
from integrations.engine.tokens import store_tokens
from integrations.models import Connector
from simulators.fortnox.server import FortnoxSimulator
from tests.conftest import build_integration


@dataclass
class FulfilmentHarness:
    source: FulfilmentSource
    # invoice(order key, [(part_no, quantity, gross unit price, VAT rate)]) → the invoice number
    invoice: Callable[[str, list[tuple[str, int, Decimal, int]]], str]
    book: Callable[[str], None]
    cancel: Callable[[str], None]
    break_invoice: Callable[[str], None]  # the invoice can no longer be read (a row price that is no number)
    delivers: bool  # whether the ERP keeps deliveries of the invoices Brygga makes


def fortnox_harness(request: Any) -> FulfilmentHarness:
    fortnox: FortnoxSimulator = request.getfixturevalue("fortnox")
    integration = build_integration(fortnox_url=fortnox.url)
    connector = integration.connectors.get(role=Connector.Role.ERP)
    store_tokens(connector, fortnox.issue_tokens("fortnox-client"))
    source = port_for(connector, FULFILMENT_SOURCE)
    client = source.client
    customer = str(client.create_customer({"Name": "Anna Svensson", "Email": "anna@example.se"})["CustomerNumber"])

    def invoice(key: str, rows: list[tuple[str, int, Decimal, int]]) -> str:
        payload = {
            "CustomerNumber": customer,
            "Currency": "SEK",
            "VATIncluded": True,
            "ExternalInvoiceReference1": key,
            "YourOrderNumber": key,
            "InvoiceRows": [
                {"ArticleNumber": part, "DeliveredQuantity": str(qty), "Price": float(price), "VAT": vat}
                for part, qty, price, vat in rows
            ],
        }
        return str(client.create_invoice(payload)["DocumentNumber"])

    def action(name: str) -> Callable[[str], None]:
        return lambda number: client._invoice_action(number, name) and None

    def break_invoice(number: str) -> None:
        with fortnox.lock:
            fortnox.invoices[number]["InvoiceRows"][0]["Price"] = "n/a"
            fortnox._touch("invoices", number)

    return FulfilmentHarness(source, invoice, action("bookkeep"), action("cancel"), break_invoice, delivers=False)


# ERP → harness factory (called with the pytest request). Visma.net: one line here.
HARNESSES: dict[str, Callable[[Any], FulfilmentHarness]] = {"fortnox": fortnox_harness}
