"""Norce as an order-life target over real HTTP: the Order-service calls through the Connect
limiter, refusals as coded permanent errors, and what Norce holds read back from Query."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.norce.order_life import NorceOrderLife
from core.errors import SyncError, answer_lost
from core.ports import ORDER_LIFE_TARGET
from core.records import Cancellation, DeliveredLine, Delivery, Invoiced, InvoicedLine
from integrations.engine.clients import connector_for, port_for
from tests.conftest import build_integration
from tests.integrations.order_life_world import norce, norce_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def target(norce, settings) -> NorceOrderLife:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    integration = build_integration(norce_url=norce.url)
    return port_for(connector_for(integration.pk, ORDER_LIFE_TARGET), ORDER_LIFE_TARGET)


def confirmed(norce, erp_no: str) -> dict:
    order = norce.place_order()
    order["ErpOrderNo"] = order["OrderNo"] = erp_no
    order["StatusId"] = 2
    return order


def invoiced(number: str, ref: str, *, last: bool = True) -> Invoiced:
    return Invoiced(
        document=number,
        order_reference=ref,
        erp_order=number,
        invoice_date="2026-05-04",
        due_date="2026-06-03",
        currency="SEK",
        total=D("199"),
        vat=D("39.80"),
        lines=(InvoicedLine("SKU-1", "Tröja", D("1"), D("159.20"), D("39.80"), D("25")),),
        last_for_order=last,
    )


def test_what_norce_holds_is_read_from_the_order_status(target, norce):
    order = confirmed(norce, "1042")
    ref = order["ClientOrderRef"]
    record = invoiced("1042", ref)
    assert target.already_told(record, source_id=ref) is False
    target.send_invoice(record, source_id=ref, suppress_psp_call=True)
    assert target.already_told(record, source_id=ref) is True
    assert target.already_told(invoiced("1043", ref, last=False), source_id=ref) is None
    cancellation = Cancellation("1042", ref, "1042")
    assert target.already_told(cancellation, source_id=ref) is False
    target.send_cancellation(cancellation, source_id=ref)
    assert target.already_told(cancellation, source_id=ref) is True
    assert target.already_told(record, source_id=ref) is None  # cancelled: was the invoice told first?
    delivery = Delivery("SHP-1", ref, "1042", "2026-05-02", (DeliveredLine("SKU-1", D("1")),))
    assert target.already_told(delivery, source_id=ref) is None  # no delivery-note number on the order
    assert target.already_told(record, source_id="424242") is None  # Norce has no such order


def test_a_delivery_note_then_its_status(target, norce):
    order = confirmed(norce, "SO-7")
    ref = order["ClientOrderRef"]
    first = order["Items"][0]
    partial = Delivery("SHP-1", ref, "SO-7", "2026-05-02", (DeliveredLine(first["PartNo"], D("1")),), complete=False)
    target.send_delivery(partial, source_id=ref, set_status=True)
    (note,) = norce.delivery_notes
    assert note["body"]["NoteNo"] == "SHP-1" and note["body"]["OrderNo"] == "SO-7"
    assert norce.order_statuses[-1]["status_name"] == "PartlyDelivered"
    assert norce.orders[ref]["StatusId"] == 8


def test_refusals_are_coded_and_permanent_lost_answers_are_not(target, norce):
    with pytest.raises(SyncError) as refused:
        target.send_invoice(invoiced("1", "424242"), source_id="424242", suppress_psp_call=True)
    assert refused.value.code == "norce.invoice_rejected" and refused.value.permanent
    assert "Order not found" in refused.value.message
    order = confirmed(norce, "77")
    norce.fail_after_commit = 1
    with pytest.raises(SyncError) as lost:
        target.send_invoice(
            invoiced("77", order["ClientOrderRef"]), source_id=order["ClientOrderRef"], suppress_psp_call=True
        )
    assert answer_lost(lost.value)
    assert len(norce.invoices) == 1  # sent once: not repeated after the 503


def test_order_service_calls_go_through_the_shared_connect_limiter(target, norce):
    calls = []
    original = target.client.limiter.acquire

    def counting(key, rate, *, priority=False):
        calls.append((key, rate.limit, priority))
        return original(key, rate, priority=priority)

    target.client.limiter.acquire = counting
    order = confirmed(norce, "88")
    target.send_cancellation(Cancellation("88", order["ClientOrderRef"], "88"), source_id=order["ClientOrderRef"])
    assert calls == [(f"norce-connect:{target.client.host}", 60, True)]
