"""The fulfilment-source contract: every ERP's deliveries, invoices and cancellations read the
same way (one harness per ERP in tests/contract/fulfilment_harness.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.records import CANCELLED, DELIVERY, INVOICED, Cancellation, Delivery, Invoiced
from tests.contract.fulfilment_harness import HARNESSES, FulfilmentHarness

pytestmark = pytest.mark.django_db

ALL = (DELIVERY, INVOICED, CANCELLED)
ROWS = [("TS-1001-S", 2, Decimal("199"), 25), ("TS-1001-M", 1, Decimal("99"), 12)]


@pytest.fixture(params=sorted(HARNESSES))
def erp(request, settings) -> FulfilmentHarness:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    return HARNESSES[request.param](request)


def events(erp: FulfilmentHarness, **options):
    since = timezone.now() - timedelta(hours=1)
    return {
        e.key: e for e in erp.source.life_events(since, kinds=options.pop("kinds", ALL), reference_field="", **options)
    }


def test_an_invoice_of_an_order_is_one_event_with_its_amounts(erp):
    number = erp.invoice("700001", ROWS)
    found = events(erp)
    event = found[f"{INVOICED}:{number}"]
    record = event.record
    assert isinstance(record, Invoiced) and event.error is None
    assert (record.document, record.order_reference) == (number, "700001")
    # Each line's unit price and unit VAT add up to the gross price invoiced.
    assert [(line.part_no, line.quantity, line.unit_price + line.unit_vat) for line in record.lines] == [
        (part, Decimal(qty), price) for part, qty, price, _ in ROWS
    ]
    gross = sum(price * qty for _, qty, price, _ in ROWS)  # 2 × 199 + 99 = 497
    assert record.total - record.round_off == gross
    again = erp.source.life_event(event.key, reference_field="")
    assert again is not None and again.record == record


def test_an_invoice_without_an_order_key_is_no_event(erp):
    number = erp.invoice("", ROWS)
    assert f"{INVOICED}:{number}" not in events(erp)


def test_booked_only_invoices(erp):
    number = erp.invoice("700002", ROWS)
    key = f"{INVOICED}:{number}"
    assert key not in events(erp, invoice_when="booked")
    assert erp.source.life_event(key, reference_field="", invoice_when="booked") is None
    erp.book(number)
    assert key in events(erp, invoice_when="booked")


def test_a_cancelled_invoice_is_a_cancellation_and_no_longer_an_invoice(erp):
    number = erp.invoice("700003", ROWS)
    erp.cancel(number)
    found = events(erp)
    assert f"{INVOICED}:{number}" not in found
    cancellation = found[f"{CANCELLED}:{number}"].record
    assert isinstance(cancellation, Cancellation) and cancellation.order_reference == "700003"
    assert erp.source.life_event(f"{INVOICED}:{number}", reference_field="") is None
    assert events(erp, kinds=(INVOICED,)) == {}


def test_an_unreadable_invoice_is_an_event_with_its_field_named(erp):
    number = erp.invoice("700004", ROWS)
    erp.break_invoice(number)
    event = events(erp)[f"{INVOICED}:{number}"]
    assert event.record is None and event.error is not None
    assert event.error.code and event.error.details.get("field")


def test_deliveries_only_where_the_erp_keeps_them(erp):
    erp.invoice("700005", ROWS)
    if not erp.delivers:
        assert events(erp, kinds=(DELIVERY,)) == {}
        assert erp.source.life_event(f"{DELIVERY}:1", reference_field="") is None
        return
    assert erp.deliver is not None
    shipment = erp.deliver("700006", ROWS)
    event = events(erp, kinds=(DELIVERY,))[f"{DELIVERY}:{shipment}"]
    delivery = event.record
    assert isinstance(delivery, Delivery) and event.error is None
    assert (delivery.document, delivery.order_reference, delivery.complete) == (shipment, "700006", True)
    assert sorted((line.part_no, line.quantity) for line in delivery.lines) == sorted(
        (part, Decimal(qty)) for part, qty, _, _ in ROWS
    )
    assert delivery.parcels == ("00370712345678901234",)
    again = erp.source.life_event(event.key, reference_field="")
    assert again is not None and again.record == delivery
