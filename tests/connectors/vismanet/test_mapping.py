"""Booked orders → Visma.net bodies, with the expected amounts worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bookkeeping.invoices import book_order
from connectors.vismanet.mapping import (
    customer_payload,
    invoice_from_visma,
    invoice_payload,
    order_from_visma,
    sales_order_payload,
)
from core.errors import SyncError
from core.records import Address, InvoiceTerms, Order, OrderLine, Party

ZONE = ZoneInfo("Europe/Stockholm")
CODES = {Decimal(25): "MP1", Decimal(12): "MP2", Decimal(6): "MP3", Decimal(0): "MF"}.get


def order() -> Order:
    # Shelf prices incl. VAT: 99 kr at 12 % ×2, 249 kr at 25 % ×1, freight 49 kr at 25 %.
    lines = [
        OrderLine(1, "product", "KA-1", "Kaffe", Decimal(2), Decimal("88.39"), Decimal(12), Decimal("10.61")),
        OrderLine(2, "product", "TS-1", "T-shirt", Decimal(1), Decimal("199.20"), Decimal(25), Decimal("49.80")),
        OrderLine(3, "freight", "FRAKT", "Frakt", Decimal(1), Decimal("39.20"), Decimal(25), Decimal("9.80")),
    ]
    buyer = Party(kind="private", first_name="Anna", last_name="Berg", email="anna@example.se")
    return Order("W1001", "1001", "SEK", buyer, lines, placed_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))


def terms(**changes) -> InvoiceTerms:
    base = {"reference": "W1001", "reference_field": "", "currency": "SEK", "freight_article": "FRAKT"}
    return InvoiceTerms(**{**base, "sales_account": 3001, **changes})


@pytest.mark.parametrize("include_vat", [True, False])
def test_invoice_lines_carry_the_net_unit_price_and_the_vat_code_whatever_the_flow_books(include_vat):
    booked = book_order(order(), prices_include_vat=include_vat)
    body = invoice_payload(booked, customer_number="10001", terms=terms(), vat_code_for=CODES, zone=ZONE)
    assert body["customerNumber"] == "10001" and body["currencyId"] == "SEK" and body["hold"] is False
    assert body["externalReference"] == "W1001" and body["customerRefNumber"] == "1001"
    assert body["documentDate"] == "2026-04-01"  # 00:30 in Stockholm
    assert [
        (
            line["operation"],
            line.get("inventoryNumber"),
            line["quantity"],
            line["unitPriceInCurrency"],
            line["vatCodeId"],
        )
        for line in body["invoiceLines"]
    ] == [
        ("Insert", "KA-1", Decimal(2), Decimal("88.39"), "MP2"),
        ("Insert", "TS-1", Decimal(1), Decimal("199.20"), "MP1"),
        ("Insert", "FRAKT", Decimal(1), Decimal("39.20"), "MP1"),
    ]


def test_the_vat_the_buyer_paid_is_stated_per_vat_code():
    booked = book_order(order(), prices_include_vat=True)
    body = invoice_payload(booked, customer_number="1", terms=terms(), vat_code_for=CODES, zone=ZONE)
    # 12 %: 2 × 88.39 = 176.78 net, 2 × 10.61 = 21.22 VAT (Visma alone would make 176.78 × 0.12 = 21.21)
    # 25 %: 199.20 + 39.20 = 238.40 net, 49.80 + 9.80 = 59.60 VAT
    assert body["taxDetailLines"] == [
        {"taxId": "MP2", "taxableAmount": Decimal("176.78"), "vatAmount": Decimal("21.22")},
        {"taxId": "MP1", "taxableAmount": Decimal("238.40"), "vatAmount": Decimal("59.60")},
    ]
    # what the buyer paid: 2 × 99 + 249 + 49 = 496
    assert booked.gross == Decimal("496.00")
    off = invoice_payload(
        booked, customer_number="1", terms=terms(), vat_code_for=CODES, zone=ZONE, send_vat_amounts=False
    )
    assert "taxDetailLines" not in off


def test_the_chosen_reference_field_carries_the_key():
    booked = book_order(order(), prices_include_vat=True)
    body = invoice_payload(
        booked, customer_number="1", terms=terms(reference_field="customerRefNumber"), vat_code_for=CODES, zone=ZONE
    )
    assert body["customerRefNumber"] == "W1001" and body["externalReference"] == "W1001"


def test_an_unknown_item_goes_as_a_line_on_the_sales_account_or_stops_the_order():
    booked = book_order(order(), prices_include_vat=True)
    body = invoice_payload(
        booked,
        customer_number="1",
        terms=terms(unknown_article="description_row"),
        vat_code_for=CODES,
        zone=ZONE,
        known_items={"TS-1", "FRAKT"},
    )
    line = body["invoiceLines"][0]
    assert "inventoryNumber" not in line and line["accountNumber"] == "3001" and line["description"] == "KA-1 Kaffe"
    with pytest.raises(SyncError) as caught:
        invoice_payload(booked, customer_number="1", terms=terms(), vat_code_for=CODES, zone=ZONE, known_items=set())
    assert caught.value.code == "vismanet.inventory_item_not_found"


def test_a_rate_without_a_vat_code_is_named():
    booked = book_order(order(), prices_include_vat=True)
    with pytest.raises(SyncError) as caught:
        invoice_payload(booked, customer_number="1", terms=terms(), vat_code_for=lambda rate: None, zone=ZONE)
    assert caught.value.code == "vismanet.vat_code" and caught.value.details["vat_rate"] == "12"


def test_a_customer_for_a_company_buyer():
    party = Party(
        kind="company",
        name="Linds Café AB",
        first_name="Maja",
        last_name="Lind",
        email="info@linds.se",
        organisation_number="556700-1122",
        address=Address(line1="Storgatan 1", zip_code="11122", city="Stockholm", country="se", care_of="Maja"),
    )
    body = customer_payload(party, "sek", customer_class="WEB")
    assert body == {
        "name": "Linds Café AB",
        "status": "Active",
        "currencyId": "SEK",
        "customerClassId": "WEB",
        "corporateId": "556700-1122",
        "mainAddress": {
            "addressLine1": "Storgatan 1",
            "addressLine2": "c/o Maja",
            "postalCode": "11122",
            "city": "Stockholm",
            "countryId": "SE",
        },
        "mainContact": {"name": "Maja Lind", "email": "info@linds.se"},
    }


def test_a_v3_order_body_is_plain_with_the_key_in_customer_ref_no():
    booked = book_order(order(), prices_include_vat=True)
    body = sales_order_payload(booked, customer_number="10001", terms=terms(), vat_code_for=CODES, zone=ZONE)
    assert body["customer"] == {"id": "10001"} and body["customerRefNo"] == "W1001" and body["type"] == "SO"
    assert body["orderLines"][0] == {
        "inventoryId": "KA-1",
        "description": "Kaffe",
        "quantity": 2,
        "unitPrice": 88.39,
        "vatCodeId": "MP2",
    }


def test_invoices_and_orders_read_back():
    invoice = invoice_from_visma(
        {
            "referenceNumber": "000123",
            "documentType": "Invoice",
            "status": "Open",
            "amount": 496.0,
            "vatTotal": 80.82,
            "externalReference": "W1001",
            "currencyId": "SEK",
            "documentDate": "2026-04-01T00:00:00",
        },
        reference_field="",
    )
    assert (invoice.number, invoice.reference, invoice.live, invoice.booked) == ("000123", "W1001", True, True)
    assert invoice.total == Decimal("496.00") and invoice.vat == Decimal("80.82") and not invoice.vat_included
    assert not invoice_from_visma({"status": "Voided"}, reference_field="").live
    assert not invoice_from_visma({"status": "Open", "documentType": "CreditNote"}, reference_field="").live
    assert not invoice_from_visma({"status": "Balanced"}, reference_field="").booked
    order_ = order_from_visma({"type": "SO", "id": "000223", "status": "Open", "customerRefNo": "W1001"})
    assert (order_.number, order_.kind, order_.live) == ("SO/000223", "order", True)
    assert not order_from_visma({"id": "1", "status": "Cancelled"}).live
