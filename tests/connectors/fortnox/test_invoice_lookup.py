"""Which Fortnox invoices count as live for an order: not cancelled, not credited, not a credit note."""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors.fortnox.mapping import invoice_is_live
from tests.connectors.fortnox.test_client import client, connector, fake, no_rate_limits  # noqa: F401 - fixtures


def test_credited_invoices_and_credit_notes_are_not_live(client, fake):
    fake.on(
        "GET",
        "/3/invoices",
        (
            200,
            {
                "Invoices": [
                    {
                        "DocumentNumber": "1",
                        "ExternalInvoiceReference1": "700001",
                        "Cancelled": False,
                        "Credit": "false",
                        "CreditInvoiceReference": "5",
                    },
                    {
                        "DocumentNumber": "5",
                        "ExternalInvoiceReference1": "700001",
                        "Cancelled": False,
                        "Credit": "true",
                        "CreditInvoiceReference": "1",
                    },
                    {
                        "DocumentNumber": "2",
                        "ExternalInvoiceReference1": "700001",
                        "Cancelled": True,
                        "Credit": "false",
                        "CreditInvoiceReference": "0",
                    },
                    {
                        "DocumentNumber": "9",
                        "ExternalInvoiceReference1": "700001",
                        "Cancelled": False,
                        "Credit": "false",
                        "CreditInvoiceReference": "0",
                    },
                ]
            },
        ),
    )
    assert [i["DocumentNumber"] for i in client.live_invoices("ExternalInvoiceReference1", "700001")] == ["9"]
    assert client.live_invoices("ExternalInvoiceReference1", "700001")[0]["DocumentNumber"] == "9"


def test_a_list_item_without_the_credit_fields_is_read_in_full(client, fake):
    fake.on(
        "GET",
        "/3/invoices",
        (
            200,
            {
                "Invoices": [
                    {"DocumentNumber": "1", "ExternalInvoiceReference1": "700001", "Cancelled": False},
                    {"DocumentNumber": "3", "ExternalInvoiceReference1": "700001", "Cancelled": False},
                ]
            },
        ),
    )
    fake.on(
        "GET",
        "/3/invoices/1",
        (200, {"Invoice": {"DocumentNumber": "1", "Credit": "false", "CreditInvoiceReference": "4", "Total": 100}}),
    )
    fake.on(
        "GET",
        "/3/invoices/3",
        (200, {"Invoice": {"DocumentNumber": "3", "Credit": "false", "CreditInvoiceReference": "0", "Total": 100}}),
    )
    assert client.live_invoices("ExternalInvoiceReference1", "700001")[0]["DocumentNumber"] == "3"
    assert [urlsplit(r.url).path for r in fake.sent] == ["/3/invoices", "/3/invoices/1", "/3/invoices/3"]


def test_invoice_is_live():
    assert invoice_is_live({"Cancelled": False, "Credit": "false", "CreditInvoiceReference": "0"})
    assert invoice_is_live({"Cancelled": "false", "Credit": False, "CreditInvoiceReference": ""})
    assert not invoice_is_live({"Cancelled": "true"})
    assert not invoice_is_live({"Credit": True})
    assert not invoice_is_live({"CreditInvoiceReference": 12})
