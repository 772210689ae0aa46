"""The invoice target port's contract, run against every adapter (Fortnox over HTTP to its
simulator, and the fake ERP that shows how a new connector plugs in)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from bookkeeping.invoices import book_order, check_invoice
from connectors.norce.order_request import order_from_request
from core.errors import SyncError
from core.records import InvoiceTerms, Order, Party
from simulators.norce.orders import DEMO_CATALOGUE, generate_order

ORE = Decimal("0.01")


def order(ref: str, *, seed: int = 5) -> tuple[Order, dict]:
    body = generate_order(random.Random(seed), order_ref=ref, catalogue=DEMO_CATALOGUE)
    body = {key: value for key, value in body.items() if not key.startswith("_")}
    return order_from_request(body), body


def paid_gross(body: dict) -> Decimal:
    """What the buyer was charged, from the pushed order's own numbers: per row price × quantity
    and unit VAT × quantity, each rounded to the öre."""
    total = Decimal("0.00")
    for item in body["Items"]:
        quantity = Decimal(str(item["Quantity"]))
        price = Decimal(str(item["UnitPrice"])) * quantity
        vat = Decimal(str(item["UnitVat"])) * quantity
        total += price.quantize(ORE, ROUND_HALF_UP) + vat.quantize(ORE, ROUND_HALF_UP)
    return total


def terms(reference: str, **changes) -> InvoiceTerms:
    base = InvoiceTerms(reference=reference, reference_field="", currency="SEK", freight_article="FRAKT")
    return replace(base, **changes)


def create(harness, ref: str, *, seed: int = 5, **term_changes):
    placed, body = order(ref, seed=seed)
    booked = book_order(placed, prices_include_vat=True)
    customer = harness.target.create_customer(party=placed.buyer, currency="SEK")
    changes = {**harness.term_defaults, **term_changes}
    created = harness.target.create_invoice(booked=booked, customer=customer, terms=terms(ref, **changes))
    return booked, body, created


def test_a_created_invoice_is_found_by_its_reference_and_only_by_exactly_it(invoice_target):
    _, _, created = create(invoice_target, "W81001")
    target = invoice_target.target
    assert created.invoice.number and created.invoice.live
    assert [i.number for i in target.live_invoices(reference="W81001", reference_field="")] == [created.invoice.number]
    assert target.live_invoices(reference="W8100", reference_field="") == []
    assert target.live_invoices(reference="W810011", reference_field="") == []
    again = target.get_invoice(created.invoice.number, reference_field="")
    assert again.reference == "W81001" and again.live and not again.booked


def test_the_invoice_comes_to_what_the_buyer_paid(invoice_target):
    booked, body, created = create(invoice_target, "W81002", seed=9)
    invoice = invoice_target.target.get_invoice(created.invoice.number, reference_field="")
    assert invoice.total is not None
    assert invoice.total - invoice.round_off == paid_gross(body)
    ok, explanation = check_invoice(booked, invoice, erp=invoice_target.target.name)
    assert ok, explanation


def test_a_customer_is_found_again_by_e_mail_and_by_organisation_number(invoice_target):
    target = invoice_target.target
    person = Party(kind="private", first_name="Maja", last_name="Lind", email="Maja.Lind@example.se")
    company = Party(
        kind="company", name="Linds Café AB", email="info@linds.example.se", organisation_number="556700-1122"
    )
    maja = target.create_customer(party=person, currency="SEK")
    cafe = target.create_customer(party=company, currency="SEK")
    assert maja != cafe
    assert target.find_customer(match="email", value="maja.lind@example.se ") == maja
    assert target.find_customer(match="organisation_number", value="556700-1122") == cafe
    assert target.find_customer(match="email", value="nobody@example.se") is None


def test_an_unbooked_invoice_is_cancelled_and_no_longer_live(invoice_target):
    _, _, created = create(invoice_target, "W81003")
    target = invoice_target.target
    target.cancel_invoice(created.invoice.number)
    assert not target.get_invoice(created.invoice.number, reference_field="").live
    assert target.live_invoices(reference="W81003", reference_field="") == []


def test_a_booked_invoice_is_credited_by_a_credit_invoice_and_no_longer_live(invoice_target):
    _, _, created = create(invoice_target, "W81004")
    target = invoice_target.target
    invoice_target.book(created.invoice.number)
    assert target.get_invoice(created.invoice.number, reference_field="").booked
    credit = target.credit_invoice(created.invoice.number)
    assert credit and credit != created.invoice.number
    assert not target.get_invoice(created.invoice.number, reference_field="").live
    assert target.live_invoices(reference="W81004", reference_field="") == []


def test_recently_changed_invoices_carry_their_reference(invoice_target):
    since = timezone.now() - timedelta(minutes=5)
    _, _, created = create(invoice_target, "W81005")
    changed = {i.number: i for i in invoice_target.target.invoices_changed_since(since, reference_field="")}
    assert changed[created.invoice.number].reference == "W81005"
    assert changed[created.invoice.number].live


def test_an_article_the_erp_lacks_stops_the_order_or_becomes_a_text_row_with_a_warning(invoice_target):
    placed, _ = order("W81006")
    line = placed.lines[0]
    placed.lines[0] = replace(line, part_no="NOT-IN-ERP-1")
    booked = book_order(placed, prices_include_vat=True)
    target = invoice_target.target
    customer = target.create_customer(party=placed.buyer, currency="SEK")
    with pytest.raises(SyncError) as refused:
        target.create_invoice(
            booked=booked, customer=customer, terms=terms("W81006", **invoice_target.term_defaults, sales_account=3001)
        )
    assert "NOT-IN-ERP-1" in refused.value.message or "NOT-IN-ERP-1" in str(refused.value.details)
    assert target.live_invoices(reference="W81006", reference_field="") == []
    created = target.create_invoice(
        booked=booked,
        customer=customer,
        terms=terms("W81006", **invoice_target.term_defaults, unknown_article="description_row", sales_account=3001),
    )
    assert created.invoice.live and len(created.warnings) == 1
    code, message, _hint = created.warnings[0]
    assert code and "NOT-IN-ERP-1" in message


def test_terms_the_erp_cannot_carry_are_refused_as_a_settings_error(invoice_target):
    with pytest.raises(SyncError) as refused:
        invoice_target.target.check_terms(terms("W81007", reference_field="NoSuchField"))
    assert refused.value.code == "config.flow_settings"
    invoice_target.target.check_terms(terms("W81007"))


def test_an_order_document_is_kept_as_an_erp_sales_order_or_refused_as_a_settings_error(invoice_target):
    """InvoiceTerms.document "order": a target that keeps ERP sales orders makes one (found by the
    order's key among its sales orders, not among its invoices); any other refuses the terms."""
    target = invoice_target.target
    try:
        target.check_terms(terms("W81009", document="order"))
    except SyncError as refused:
        assert refused.code == "config.flow_settings"
        assert "document" in refused.message
        return
    _, _, created = create(invoice_target, "W81009", document="order")
    assert created.invoice.kind == "order"
    found = target.live_invoices(reference="W81009", reference_field="", document="order")
    assert [i.number for i in found] == [created.invoice.number]
    assert target.live_invoices(reference="W81009", reference_field="") == []


def test_an_invoice_found_unfinished_is_finished_to_the_terms_as_a_create_would_leave_it(invoice_target):
    """An attempt interrupted after the create (before, e.g., Visma.net's release) leaves an
    invoice behind that the lookup finds: finishing it gives what an uninterrupted create gives."""
    target = invoice_target.target
    _, _, whole = create(invoice_target, "W81031", release=True)
    _, _, cut_short = create(invoice_target, "W81032", release=False)
    found = target.get_invoice(cut_short.invoice.number, reference_field="")
    finished = target.finish_invoice(found, terms=terms("W81032", **{**invoice_target.term_defaults, "release": True}))
    assert finished.number == found.number and finished.live
    assert finished.booked == target.get_invoice(whole.invoice.number, reference_field="").booked
    assert target.get_invoice(found.number, reference_field="").booked == finished.booked
    # Finishing again changes nothing and does not fail.
    assert target.finish_invoice(finished, terms=terms("W81032", release=True)).booked == finished.booked
