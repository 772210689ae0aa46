"""Fortnox invoices read as the webshop is told them: amounts computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.fortnox.fulfilment import event_kind, invoiced_from_fortnox, read_event, unit_amounts
from core.errors import SyncError

D = Decimal
FIELD = "ExternalInvoiceReference1"


def fortnox_invoice(**changes):
    invoice = {
        "DocumentNumber": "1042",
        "ExternalInvoiceReference1": "700001",
        "InvoiceDate": "2026-05-04",
        "DueDate": "2026-06-03",
        "Currency": "SEK",
        "VATIncluded": True,
        "Booked": False,
        "Cancelled": False,
        "Credit": "false",
        "CreditInvoiceReference": "0",
        "Freight": 49,
        "FreightVAT": 9.8,
        "AdministrationFee": 0,
        "AdministrationFeeVAT": 0,
        "Total": 547,
        "TotalVAT": 101.59,
        "RoundOff": 0.4,
        "InvoiceRows": [
            {"ArticleNumber": "SKU-1", "Description": "Tröja", "DeliveredQuantity": "2", "Price": 199, "VAT": 25},
            {"ArticleNumber": "BOK-1", "Description": "Bok", "DeliveredQuantity": "1", "Price": 99, "VAT": 12},
            {
                "ArticleNumber": "",
                "Description": "Tack för din beställning",
                "DeliveredQuantity": "0",
                "Price": 0,
                "VAT": 25,
            },
            {
                "ArticleNumber": "MAT-1",
                "Description": "Kaffe",
                "DeliveredQuantity": "3",
                "Price": 50,
                "VAT": 6,
                "Discount": 10,
                "DiscountType": "PERCENT",
            },
        ],
    }
    invoice.update(changes)
    return invoice


def test_unit_price_and_vat_from_a_gross_price_add_up_exactly():
    # 199 at 25 %: VAT 199 × 25/125 = 39.80, net 159.20.
    assert unit_amounts(D("199"), D("25"), vat_included=True) == (D("159.20"), D("39.80"))
    # 99 at 12 %: VAT 99 × 12/112 = 10.607… → 10.61, net 88.39; 88.39 + 10.61 = 99 exactly.
    assert unit_amounts(D("99"), D("12"), vat_included=True) == (D("88.39"), D("10.61"))
    # Excluding VAT: 159.20 at 25 % → VAT 39.80 exactly.
    assert unit_amounts(D("159.20"), D("25"), vat_included=False) == (D("159.20"), D("39.8000"))


def test_an_invoice_becomes_lines_freight_total_and_round_off():
    invoiced = invoiced_from_fortnox(fortnox_invoice(), field=FIELD)
    assert (invoiced.document, invoiced.erp_order, invoiced.order_reference) == ("1042", "1042", "700001")
    assert (invoiced.invoice_date, invoiced.due_date, invoiced.currency) == ("2026-05-04", "2026-06-03", "SEK")
    assert (invoiced.total, invoiced.vat, invoiced.round_off) == (D("547.00"), D("101.59"), D("0.40"))
    shirt, book, coffee, freight = invoiced.lines  # the text row is left out
    assert (shirt.part_no, shirt.quantity, shirt.unit_price, shirt.unit_vat) == (
        "SKU-1",
        D("2"),
        D("159.20"),
        D("39.80"),
    )
    assert (book.unit_price, book.unit_vat, book.vat_rate) == (D("88.39"), D("10.61"), D("12"))
    # 50 less 10 % = 45 gross at 6 %: VAT 45 × 6/106 = 2.547… → 2.55, net 42.45.
    assert (coffee.quantity, coffee.unit_price, coffee.unit_vat) == (D("3"), D("42.45"), D("2.55"))
    # Freight 49 including VAT 9.80: net 39.20 at 9.80 / 39.20 = 25 %.
    assert (freight.description, freight.unit_price, freight.unit_vat, freight.vat_rate) == (
        "Frakt",
        D("39.20"),
        D("9.80"),
        D("25"),
    )


def test_a_row_that_is_not_a_number_names_its_field():
    rows = fortnox_invoice()["InvoiceRows"]
    rows[1]["DeliveredQuantity"] = "ett"
    event = read_event(fortnox_invoice(InvoiceRows=rows), kind="invoiced", field=FIELD)
    assert event.record is None and event.key == "invoiced:1042"
    assert event.error.code == "fortnox.invoice_unreadable"
    assert event.error.details == {"field": "InvoiceRows[1].DeliveredQuantity", "invoice": "1042"}
    with pytest.raises(SyncError, match="Total is missing"):
        invoiced_from_fortnox(fortnox_invoice(Total=None), field=FIELD)


@pytest.mark.parametrize(
    ("changes", "when", "kind"),
    [
        ({}, "created", "invoiced"),
        ({}, "booked", None),
        ({"Booked": True}, "booked", "invoiced"),
        ({"Cancelled": True}, "created", "cancelled"),
        ({"Credit": "true"}, "created", None),  # a credit note
        ({"CreditInvoiceReference": "1050"}, "created", None),  # credited: a refund, not told here
        ({"ExternalInvoiceReference1": ""}, "created", None),  # no webshop order's key
    ],
)
def test_which_invoices_are_events(changes, when, kind):
    assert event_kind(fortnox_invoice(**changes), field=FIELD, invoice_when=when) == kind
