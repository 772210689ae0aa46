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
    # deliver(order key, rows) → the shipment number: an ERP order of the rows, shipped in full
    deliver: Callable[[str, list[tuple[str, int, Decimal, int]]], str] | None = None


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
HARNESSES: dict[str, Callable[[Any], FulfilmentHarness]] = {
    "fortnox": fortnox_harness,
    "vismanet": lambda request: vismanet_harness(request),
}


def vismanet_harness(request: Any) -> FulfilmentHarness:
    """Visma.net over HTTP to its simulator: invoices as the orders flow makes them (net prices,
    a VAT code per line), released to book them; a sales order shipped by the warehouse."""
    from decimal import ROUND_HALF_UP

    from tests.connectors.vismanet.harness import vismanet_connector

    sim = request.getfixturevalue("vismanet")
    connector = vismanet_connector(sim)
    source = port_for(connector, FULFILMENT_SOURCE)
    client = source.client
    customer = client.create_customer({"name": "Anna Svensson", "status": "Active"})
    codes = {25: "MP1", 12: "MP2", 6: "MP3", 0: "MF"}

    def lines(rows: list[tuple[str, int, Decimal, int]]) -> list[dict[str, Any]]:
        return [
            {
                "operation": "Insert",
                "inventoryNumber": part,
                "quantity": qty,
                # the gross price less its VAT, to four decimals as Visma.net keeps unit prices
                "unitPriceInCurrency": (price * 100 / (100 + vat)).quantize(Decimal("0.0001"), ROUND_HALF_UP),
                "vatCodeId": codes[vat],
            }
            for part, qty, price, vat in rows
        ]

    def invoice(key: str, rows: list[tuple[str, int, Decimal, int]]) -> str:
        body = {"customerNumber": customer, "currencyId": "SEK", "externalReference": key, "invoiceLines": lines(rows)}
        return client.create_invoice(body)

    def book(number: str) -> None:
        client.release_invoice(number)

    def cancel(number: str) -> None:
        sim.void_invoice(number)

    def break_invoice(number: str) -> None:
        with sim.lock:
            sim.invoices[number]["invoiceLines"][0]["quantity"] = "n/a"

    def deliver(key: str, rows: list[tuple[str, int, Decimal, int]]) -> str:
        order_type, number = client.create_sales_order(
            {
                "type": "SO",
                "customer": {"id": customer},
                "customerRefNo": key,
                "currency": "SEK",
                "orderLines": [
                    {"inventoryId": part, "quantity": qty, "unitPrice": float(price), "vatCodeId": codes[vat]}
                    for part, qty, price, vat in rows
                ],
            }
        )
        return sim.ship_order(order_type, number, tracking="00370712345678901234")

    return FulfilmentHarness(source, invoice, book, cancel, break_invoice, delivers=True, deliver=deliver)
