import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bookkeeping.invoices import book_order, check_invoice
from bookkeeping.vat import order_totals, quantize_ore
from connectors.fortnox import mapping
from core.errors import SyncError
from core.records import Address, Order, OrderLine, Party
from integrations.flows.order_records import invoice_terms, order_reference
from integrations.flows.order_settings import OrderFlowSettings

D = Decimal


def make_line(no, part_no, description, qty, price, unit_vat, rate, kind="product"):
    return OrderLine(
        line_no=no,
        kind=kind,
        part_no=part_no,
        description=description,
        quantity=D(qty),
        unit_price=D(price),
        vat_rate=D(rate),
        unit_vat=D(unit_vat),
    )


def make_order(**changes) -> Order:
    buyer = Party(
        kind="private",
        first_name="Anna",
        last_name="Svensson",
        email="Anna@Example.se",
        phone="0701234567",
        address=Address(line1="Storgatan 1", zip_code="111 22", city="Stockholm", country="se", care_of="Berg"),
    )
    ship_to = Party(
        name="Anna Svensson",
        address=Address(line1="Lillgatan 2", line2="Lgh 1101", zip_code="222 33", city="Lund", country="SE"),
    )
    lines = [
        # 199 kr incl. 25 %, after a line discount from 249 kr
        OrderLine(
            line_no=1,
            kind="product",
            part_no="SKU-25",
            description="T-shirt",
            quantity=D(2),
            unit_price=D("159.20"),
            vat_rate=D(25),
            unit_vat=D("39.80"),
            unit_price_original=D("199.20"),
        ),
        # the awkward one: 99 kr at 12 % → 88.39 + 10.61
        make_line(2, "SKU-12", "Kaffe 500 g", "3", "88.39", "10.61", "12"),
        make_line(3, "SKU-6", "Bok", "1", "94.34", "5.66", "6"),
        make_line(4, "", "Rabattkod SOMMAR", "1", "-40.00", "-10.00", "25"),
        make_line(5, "FRAKT", "Frakt PostNord", "1", "39.20", "9.80", "25", kind="freight"),
    ]
    order = Order(
        source_id="abc-1001",
        order_no="1001",
        currency="SEK",
        buyer=buyer,
        ship_to=ship_to,
        lines=lines,
        placed_at=datetime(2026, 5, 3, 22, 30, tzinfo=UTC),
        customer_reference="PO 4711",
        comment="  Leave at the door  ",
    )
    return replace(order, **changes)


SETTINGS = OrderFlowSettings()


def invoice_payload(order, *, customer_number, settings, known_articles=None):
    """The Invoice body for an order booked and termed as the orders flow does it."""
    booked = book_order(order, prices_include_vat=settings.prices_include_vat)
    return mapping.invoice_payload(
        booked, customer_number=customer_number, terms=invoice_terms(order, settings), known_articles=known_articles
    )


def invoice_matches_order(invoice, order):
    booked = book_order(order, prices_include_vat=invoice.get("VATIncluded", True) is not False)
    return check_invoice(booked, mapping.invoice_from_fortnox(invoice, reference_field=""), erp="Fortnox")


KNOWN = {"SKU-25", "SKU-12", "SKU-6"}


def rows_by_description(payload):
    return {row["Description"]: row for row in payload["InvoiceRows"]}


def test_header_fields():
    payload = invoice_payload(make_order(), customer_number="17", settings=SETTINGS, known_articles=KNOWN)
    assert payload["CustomerNumber"] == "17"
    assert payload["InvoiceDate"] == "2026-05-04"  # 22:30 UTC is past midnight in Stockholm
    assert payload["Currency"] == "SEK"
    assert payload["VATIncluded"] is True
    assert payload["YourOrderNumber"] == "1001"
    assert payload["ExternalInvoiceReference1"] == "1001"
    assert payload["YourReference"] == "PO 4711"
    assert payload["Remarks"] == "Leave at the door"
    assert "TermsOfPayment" not in payload
    assert payload["CustomerName"] == "Anna Svensson"
    assert payload["Address1"] == "Storgatan 1"
    assert payload["Address2"] == "c/o Berg"
    assert (payload["ZipCode"], payload["City"], payload["Country"]) == ("111 22", "Stockholm", "Sverige")
    assert payload["DeliveryName"] == "Anna Svensson"
    assert (payload["DeliveryAddress1"], payload["DeliveryAddress2"]) == ("Lillgatan 2", "Lgh 1101")
    assert (payload["DeliveryZipCode"], payload["DeliveryCity"], payload["DeliveryCountry"]) == (
        "222 33",
        "Lund",
        "Sverige",
    )


def test_rows_with_prices_including_vat():
    payload = invoice_payload(make_order(), customer_number="17", settings=SETTINGS, known_articles=KNOWN)
    rows = payload["InvoiceRows"]
    assert rows[0] == {
        "ArticleNumber": "SKU-25",
        "Description": "T-shirt",
        "DeliveredQuantity": "2",
        "Price": 199,
        "VAT": 25,
    }
    assert rows[1] == {
        "ArticleNumber": "SKU-12",
        "Description": "Kaffe 500 g",
        "DeliveredQuantity": "3",
        "Price": 99,
        "VAT": 12,
    }
    assert rows[2]["VAT"] == 6 and rows[2]["Price"] == 100
    # a discount without part number is a text row on the sales account
    assert rows[3] == {
        "Description": "Rabattkod SOMMAR",
        "DeliveredQuantity": "1",
        "Price": -50,
        "VAT": 25,
        "AccountNumber": 3001,
    }
    # freight without a freight article: text row on the freight account
    assert rows[4] == {
        "Description": "Frakt PostNord",
        "DeliveredQuantity": "1",
        "Price": 49,
        "VAT": 25,
        "AccountNumber": 3520,
    }


def test_row_gross_sums_equal_order_gross_exactly():
    order = make_order()
    payload = invoice_payload(order, customer_number="17", settings=SETTINGS, known_articles=KNOWN)
    invoice_gross = sum(
        quantize_ore(D(str(row["Price"])) * D(row["DeliveredQuantity"])) for row in payload["InvoiceRows"]
    )
    totals = order_totals(order)
    assert totals.gross == D("794.00")
    assert invoice_gross == totals.gross
    # per rate as well: Fortnox splits VAT out of the gross rows per rate
    for rate, (net, vat) in totals.vat_by_rate.items():
        rate_gross = sum(
            quantize_ore(D(str(row["Price"])) * D(row["DeliveredQuantity"]))
            for row in payload["InvoiceRows"]
            if row["VAT"] == int(rate)
        )
        assert rate_gross == net + vat


def test_rows_with_prices_excluding_vat_sum_to_order_net():
    order = make_order()
    settings = replace(SETTINGS, prices_include_vat=False)
    payload = invoice_payload(order, customer_number="17", settings=settings, known_articles=KNOWN)
    assert payload["VATIncluded"] is False
    assert [row["Price"] for row in payload["InvoiceRows"]] == [159.2, 88.39, 94.34, -40, 39.2]
    net = sum(quantize_ore(D(str(row["Price"])) * D(row["DeliveredQuantity"])) for row in payload["InvoiceRows"])
    assert net == order_totals(order).net


def test_awkward_price_keeps_its_exact_digits_in_json():
    order = make_order(lines=[make_line(1, "SKU-12", "Kaffe", "1", "88.39", "10.61", "12")])
    settings = replace(SETTINGS, prices_include_vat=False)
    body = json.dumps(invoice_payload(order, customer_number="1", settings=settings))
    assert '"Price": 88.39' in body


def test_freight_article():
    settings = replace(SETTINGS, freight_article="FRAKT-ART")
    payload = invoice_payload(make_order(), customer_number="17", settings=settings, known_articles=KNOWN)
    assert payload["InvoiceRows"][4] == {
        "ArticleNumber": "FRAKT-ART",
        "Description": "Frakt PostNord",
        "DeliveredQuantity": "1",
        "Price": 49,
        "VAT": 25,
    }


def test_unknown_article_error_names_part_number_and_order():
    with pytest.raises(SyncError) as caught:
        invoice_payload(make_order(), customer_number="17", settings=SETTINGS, known_articles={"SKU-25", "SKU-12"})
    error = caught.value
    assert error.code == "fortnox.article_not_found"
    assert "SKU-6" in error.message and "1001" in error.message
    assert error.permanent and error.hint


def test_unknown_article_description_row():
    settings = replace(SETTINGS, unknown_article="description_row", sales_account=3041)
    payload = invoice_payload(
        make_order(), customer_number="17", settings=settings, known_articles={"SKU-25", "SKU-12"}
    )
    row = payload["InvoiceRows"][2]
    assert row == {"Description": "SKU-6 Bok", "DeliveredQuantity": "1", "Price": 100, "VAT": 6, "AccountNumber": 3041}


def test_without_known_articles_every_part_number_is_an_article():
    payload = invoice_payload(make_order(), customer_number="17", settings=SETTINGS)
    assert [row.get("ArticleNumber") for row in payload["InvoiceRows"]] == ["SKU-25", "SKU-12", "SKU-6", None, None]


def test_both_reference_fields_carry_the_prefixed_key():
    settings = replace(SETTINGS, reference_field="ExternalInvoiceReference2", reference_prefix="norce-")
    payload = invoice_payload(make_order(), customer_number="17", settings=settings)
    assert payload["ExternalInvoiceReference1"] == "norce-1001"
    assert payload["ExternalInvoiceReference2"] == "norce-1001"
    assert payload["YourOrderNumber"] == "1001"
    assert order_reference(make_order(), settings) == "norce-1001"


def test_your_order_number_as_reference_field():
    settings = replace(SETTINGS, reference_field="YourOrderNumber", reference_prefix="W")
    payload = invoice_payload(make_order(), customer_number="17", settings=settings)
    assert payload["YourOrderNumber"] == "W1001"
    assert payload["ExternalInvoiceReference1"] == "W1001"


def test_too_long_reference_is_a_settings_error_not_a_clipped_key():
    settings = replace(SETTINGS, reference_prefix="x" * 79)
    with pytest.raises(SyncError) as caught:
        invoice_payload(make_order(), customer_number="17", settings=settings)
    assert caught.value.code == "config.flow_settings"


def test_texts_are_clipped_to_fortnox_lengths():
    order = make_order(customer_reference="R" * 80, comment="C" * 2000)
    order.lines[0].description = "D" * 300
    payload = invoice_payload(order, customer_number="17", settings=SETTINGS)
    assert len(payload["YourReference"]) == 50
    assert len(payload["Remarks"]) == 1024
    assert len(payload["InvoiceRows"][0]["Description"]) == 255


def test_terms_currency_and_fractional_quantity():
    order = make_order(currency="eur", lines=[make_line(1, "SKU-25", "Tyg", "1.50", "80", "20", "25")])
    settings = replace(SETTINGS, terms_of_payment="30")
    payload = invoice_payload(order, customer_number="17", settings=settings)
    assert payload["Currency"] == "EUR"
    assert payload["TermsOfPayment"] == "30"
    assert payload["InvoiceRows"][0]["DeliveredQuantity"] == "1.5"


def test_missing_vat_rate_is_reported():
    order = make_order()
    order.lines[1].vat_rate = None
    with pytest.raises(SyncError) as caught:
        invoice_payload(order, customer_number="17", settings=SETTINGS)
    assert caught.value.code == "order.missing_vat"


def test_payload_is_deterministic_and_json_serialisable():
    first = invoice_payload(make_order(), customer_number="17", settings=SETTINGS, known_articles=KNOWN)
    # The same articles, inserted in the opposite order.
    reordered = set(sorted(KNOWN, reverse=True))  # noqa: C414
    second = invoice_payload(make_order(), customer_number="17", settings=SETTINGS, known_articles=reordered)
    assert json.dumps(first) == json.dumps(second)


def test_unknown_country_is_left_out():
    order = make_order()
    order.buyer.address.country = "ZZ"
    payload = invoice_payload(order, customer_number="17", settings=SETTINGS)
    assert "Country" not in payload


def test_private_customer_payload():
    payload = mapping.customer_payload(make_order().buyer, "sek")
    assert payload == {
        "Name": "Anna Svensson",
        "Type": "PRIVATE",
        "Email": "Anna@Example.se",
        "Address1": "Storgatan 1",
        "Address2": "c/o Berg",
        "ZipCode": "111 22",
        "City": "Stockholm",
        "CountryCode": "SE",
        "Phone1": "0701234567",
        "Currency": "SEK",
    }


def test_company_customer_payload():
    party = Party(
        kind="company",
        name="Acme AB",
        first_name="Bo",
        last_name="Ek",
        email="ap@acme.se",
        organisation_number="556677-8899",
        vat_number="se 556677889901",
        address=Address(line1="Industrivägen 3", zip_code="41101", city="Göteborg", country="SE"),
    )
    payload = mapping.customer_payload(party, "SEK")
    assert payload["Name"] == "Acme AB"
    assert payload["Type"] == "COMPANY"
    assert payload["OrganisationNumber"] == "556677-8899"
    assert payload["VATNumber"] == "SE556677889901"
    assert payload["YourReference"] == "Bo Ek"
    assert payload["CountryCode"] == "SE"


def test_customer_without_name_is_missing_data():
    with pytest.raises(SyncError) as caught:
        mapping.customer_payload(Party(email="x@example.se"), "SEK")
    assert caught.value.code == "order.missing_data"
    assert "no name" in caught.value.message


def test_invoice_matches_order():
    order = make_order()
    ok, why = invoice_matches_order({"Total": 794, "RoundOff": 0, "TotalVAT": 116.89}, order)
    assert (ok, why) == (True, "")


def test_invoice_matches_order_takes_round_off_into_account():
    order = make_order(lines=[make_line(1, "SKU-25", "Tyg", "1", "79.80", "19.95", "25")])  # 99.75
    ok, _ = invoice_matches_order({"Total": 100, "RoundOff": 0.25, "TotalVAT": 19.95}, order)
    assert ok


def test_invoice_vat_rounded_from_gross_rows_is_accepted_with_a_note():
    # 3 × 99 kr at 12 %: Norce says VAT 3 × 10.61 = 31.83, Fortnox derives 297 × 12/112 = 31.82
    order = make_order(lines=[make_line(1, "SKU-12", "Kaffe", "3", "88.39", "10.61", "12")])
    ok, why = invoice_matches_order({"Total": 297, "RoundOff": 0, "TotalVAT": 31.82, "VATIncluded": True}, order)
    assert ok
    assert "31.82" in why and "31.83" in why and "rounding" in why


def test_invoice_vat_rounded_from_net_rows_is_accepted_when_prices_exclude_vat():
    order = make_order(lines=[make_line(1, "SKU-12", "Kaffe", "3", "88.39", "10.6068", "12")])  # VAT 31.82
    ok, _ = invoice_matches_order({"Total": 296.99, "TotalVAT": 31.82, "VATIncluded": False}, order)
    assert ok
    ok, why = invoice_matches_order({"Total": 296.99, "TotalVAT": 31.80, "VATIncluded": False}, order)
    assert not ok and "31.80" in why


def test_invoice_with_wrong_vat_but_same_gross_is_a_mismatch():
    # e.g. the Fortnox customer is set to EXPORT: same gross, no VAT
    order = make_order()
    ok, why = invoice_matches_order({"Total": 794, "RoundOff": 0, "TotalVAT": 0, "VATIncluded": True}, order)
    assert not ok
    assert "VAT 0.00" in why and "116.89" in why


def test_invoice_mismatch_is_explained():
    order = make_order()
    ok, why = invoice_matches_order(
        {"DocumentNumber": "55", "Total": 795, "RoundOff": 0, "TotalVAT": 116.90, "Currency": "SEK"}, order
    )
    assert not ok
    assert "55" in why and "1001" in why
    assert "795.00" in why and "794.00" in why and "+1.00" in why
    assert "116.90" in why and "116.89" in why
