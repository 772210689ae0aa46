"""Deliveries, invoices and cancellations ERP → Norce: each Fortnox invoice and cancellation of a
webshop order is told to Norce once, whatever is replayed, retried or lost on the way.

Runs the flows in this process against the Norce and Fortnox simulators over real HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from connectors.norce.order_life import NorceOrderLife
from core.ports import FULFILMENT_SOURCE
from integrations import services
from integrations.engine.clients import connector_for, port_for
from integrations.flows.order_life_records import store_event
from integrations.models import Entity, LogEntry, Reference, Task
from tests.integrations.order_life_world import (  # noqa: F401 - fixtures
    cancellations_told,
    fortnox_action,
    invoices_told,
    life_entity,
    life_flow,
    norce,
    norce_server,
    place_and_invoice,
    poll,
    run,
    shop,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_invoice_is_told_once_with_its_amounts_and_without_capturing(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce)
    task = poll(shop)
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    (told,) = invoices_told(norce, placed["invoice"])
    body = told["body"]
    invoice = fortnox.invoices[placed["invoice"]]
    assert body["ClientOrderRef"] == int(placed["ref"])
    assert body["ErpOrderNo"] == placed["invoice"]
    assert body["SuppressPspCall"] is True and norce.psp_captures == []
    assert body["IsLastInvoiceForOrder"] is True
    assert Decimal(str(body["Payment"]["Amount"])) == Decimal(str(invoice["Total"]))
    assert Decimal(str(body["InvoiceRoundOff"])) == Decimal(str(invoice["RoundOff"]))
    # Every line: unit price + unit VAT is the gross price Fortnox holds, exactly.
    rows = [r for r in invoice["InvoiceRows"] if r["ArticleNumber"]]
    assert [i["PartNo"] for i in body["Items"]] == [r["ArticleNumber"] for r in rows]
    for item, row in zip(body["Items"], rows):
        assert Decimal(str(item["UnitPrice"])) + Decimal(str(item["UnitVat"])) == Decimal(str(row["Price"]))
        assert Decimal(str(item["VatRate"])) == Decimal(row["VAT"])
    assert norce.orders[placed["ref"]]["StatusId"] == 5  # Invoiced
    entity = life_entity(shop, f"invoiced:{placed['invoice']}")
    assert entity.status == Entity.Status.SYNCED and entity.target_id == placed["invoice"]
    assert Reference.objects.get(data_type="fulfilment", source_id=entity.source_id).target_id == placed["invoice"]

    # Polled again, and the same event named by a webhook: still one invoice in Norce.
    assert poll(shop).status == Task.Status.SUCCEEDED
    run(shop, life_flow(shop), {"event_keys": [entity.source_id]}, trigger=Task.Trigger.WEBHOOK)
    assert len(invoices_told(norce, placed["invoice"])) == 1
    assert norce.duplicate_documents == []


def test_capture_follows_the_setting(shop, norce, fortnox):
    flow = life_flow(shop)
    flow.settings = {"suppress_psp_call": False}
    flow.save()
    placed = place_and_invoice(shop, norce)
    poll(shop)
    (told,) = invoices_told(norce, placed["invoice"])
    assert told["body"]["SuppressPspCall"] is False
    assert [c["invoice_no"] for c in norce.psp_captures] == [placed["invoice"]]


def test_booked_only_waits_for_the_bookkeeping(shop, norce, fortnox):
    flow = life_flow(shop)
    flow.settings = {"invoice_when": "booked"}
    flow.save()
    placed = place_and_invoice(shop, norce)
    poll(shop)
    assert invoices_told(norce, placed["invoice"]) == []
    fortnox_action(fortnox, placed["invoice"], "bookkeep")
    poll(shop)
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_a_cancelled_invoice_cancels_the_order_once(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce)
    poll(shop)
    fortnox_action(fortnox, placed["invoice"], "cancel")
    poll(shop)
    poll(shop)
    (cancelled,) = cancellations_told(norce, placed["ref"])
    assert cancelled["body"] == {"ClientOrderRef": int(placed["ref"]), "ErpOrderNo": placed["invoice"]}
    assert norce.orders[placed["ref"]]["StatusId"] == 6
    assert life_entity(shop, f"cancelled:{placed['invoice']}").status == Entity.Status.SYNCED
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_an_answer_lost_after_norce_kept_the_invoice_is_not_sent_again(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce)
    norce.fail_after_commit = 1
    task = poll(shop)
    entity = life_entity(shop, f"invoiced:{placed['invoice']}")
    assert entity.status == Entity.Status.FAILED and entity.create_unconfirmed_at is not None
    assert task.status == Task.Status.QUEUED  # the record is retried
    services.execute_task(task.pk)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED
    assert len(invoices_told(norce, placed["invoice"])) == 1 and norce.lost_answers == 1
    assert LogEntry.objects.filter(entity=entity, code="order_life.already_held").exists()


def test_a_worker_killed_after_the_send_leaves_it_sent_once(shop, norce, fortnox):
    """The mark was committed and Norce got the invoice, then the worker died: the next run asks."""
    placed = place_and_invoice(shop, norce)
    original = NorceOrderLife.send_invoice
    killed = {"once": True}

    def send_then_die(self, invoiced, **kwargs):
        original(self, invoiced, **kwargs)
        if killed.pop("once", False):
            raise KeyboardInterrupt("worker killed")

    NorceOrderLife.send_invoice = send_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            poll(shop)
    finally:
        NorceOrderLife.send_invoice = original
    entity = life_entity(shop, f"invoiced:{placed['invoice']}")
    assert entity.create_unconfirmed_at is not None and entity.status != Entity.Status.SYNCED
    Entity.objects.filter(pk=entity.pk).update(lease_until=None, claimed_by_task=None)
    poll(shop)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_when_norce_cannot_tell_only_a_person_sends_again(shop, norce, fortnox, monkeypatch):
    placed = place_and_invoice(shop, norce)
    norce.fail_after_commit = 1
    poll(shop)
    monkeypatch.setattr(NorceOrderLife, "already_told", lambda self, record, source_id: None)
    entity = life_entity(shop, f"invoiced:{placed['invoice']}")
    task = Task.objects.filter(flow=life_flow(shop)).order_by("-pk").first()
    services.execute_task(task.pk)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.NEEDS_ATTENTION
    assert entity.last_error_code == "order_life.send_unconfirmed"
    assert len(invoices_told(norce, placed["invoice"])) == 1
    # A person checked Norce and pressed Retry, twice: sent once more, once.
    first, second = services.retry_entity(entity.pk), services.retry_entity(entity.pk)
    services.execute_task(first.pk)
    services.execute_task(second.pk)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED
    assert len(invoices_told(norce, placed["invoice"])) == 2


def test_a_malformed_invoice_gets_a_coded_error_and_the_next_still_goes(shop, norce, fortnox):
    broken, fine = place_and_invoice(shop, norce), place_and_invoice(shop, norce)
    with fortnox.lock:
        fortnox.invoices[broken["invoice"]]["InvoiceRows"][0]["Price"] = "tolv kronor"
    task = poll(shop)
    bad = life_entity(shop, f"invoiced:{broken['invoice']}")
    assert bad.status == Entity.Status.NEEDS_ATTENTION
    assert bad.last_error_code == "fortnox.invoice_unreadable"
    assert "InvoiceRows[0].Price" in bad.last_error_message
    error = LogEntry.objects.get(entity=bad, level=LogEntry.Level.ERROR)
    assert error.details["field"] == "InvoiceRows[0].Price" and error.hint
    assert invoices_told(norce, broken["invoice"]) == []
    assert len(invoices_told(norce, fine["invoice"])) == 1
    assert task.status == Task.Status.PARTLY_FAILED
    # Corrected in Fortnox, a retry reads it again and sends it.
    with fortnox.lock:
        fortnox.invoices[broken["invoice"]]["InvoiceRows"][0]["Price"] = 100
    services.execute_task(services.retry_entity(bad.pk).pk)
    bad.refresh_from_db()
    assert bad.status == Entity.Status.SYNCED, bad.last_error_message
    assert len(invoices_told(norce, broken["invoice"])) == 1


def test_an_invoice_of_no_webshop_order_is_skipped(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce)
    with fortnox.lock:
        fortnox.invoices[placed["invoice"]]["ExternalInvoiceReference1"] = "999999"
    poll(shop)
    # Found by its number: the order is linked to this very invoice, so it is still told.
    assert len(invoices_told(norce, placed["invoice"])) == 1
    stranger = dict(fortnox.invoices[placed["invoice"]], DocumentNumber="9000", ExternalInvoiceReference1="555")
    with fortnox.lock:
        fortnox.invoices["9000"] = stranger
        fortnox._touch("invoices", "9000")
    poll(shop)
    entity = life_entity(shop, "invoiced:9000")
    assert entity.status == Entity.Status.SKIPPED
    assert LogEntry.objects.filter(entity=entity, code="order_life.no_order").exists()
    assert invoices_told(norce, "9000") == []


def test_an_extra_invoice_the_order_is_not_linked_to_says_nothing(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce)
    extra = dict(fortnox.invoices[placed["invoice"]], DocumentNumber="9001")
    with fortnox.lock:
        fortnox.invoices["9001"] = extra
        fortnox._touch("invoices", "9001")
    poll(shop)
    fortnox_action(fortnox, "9001", "cancel")
    poll(shop)
    assert life_entity(shop, "invoiced:9001").status == Entity.Status.SKIPPED
    assert life_entity(shop, "cancelled:9001").status == Entity.Status.SKIPPED
    assert cancellations_told(norce, placed["ref"]) == []
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_an_invoice_waits_until_norce_was_told_the_order_is_confirmed(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce, confirm=False)
    task = poll(shop)
    entity = life_entity(shop, f"invoiced:{placed['invoice']}")
    assert entity.status == Entity.Status.PENDING and entity.attempts == 0
    assert task.status == Task.Status.QUEUED
    assert invoices_told(norce, placed["invoice"]) == []
    run(shop, shop.flows.get(kind="orders_to_erp"), {"acknowledge": True}, trigger=Task.Trigger.FOLLOW_UP)
    services.execute_task(task.pk)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_a_record_another_worker_holds_is_left_to_it(shop, norce, fortnox):
    placed = place_and_invoice(shop, norce, confirm=True)
    flow = life_flow(shop)
    flow.settings = {"send": ["cancellations"]}
    flow.save()
    poll(shop)  # reads no invoices
    flow.settings = {}
    flow.save()
    poll_task = services.create_task(integration=shop, flow=flow, trigger=Task.Trigger.MANUAL, params={})
    # The other worker's task holds the record's lease while this one runs.
    source = port_for(connector_for(shop.pk, FULFILMENT_SOURCE), FULFILMENT_SOURCE)
    event = source.life_event(f"invoiced:{placed['invoice']}", reference_field="")
    entity, _ = store_event(flow=flow, event=event)
    Entity.objects.filter(pk=entity.pk).update(
        claimed_by_task=poll_task.pk + 1000, lease_until=timezone.now() + timedelta(minutes=1)
    )
    run(shop, flow, {"entity_ids": [entity.pk]}, trigger=Task.Trigger.RETRY)
    assert invoices_told(norce, placed["invoice"]) == []
    Entity.objects.filter(pk=entity.pk).update(claimed_by_task=None, lease_until=None)
    run(shop, flow, {"entity_ids": [entity.pk]}, trigger=Task.Trigger.RETRY)
    assert len(invoices_told(norce, placed["invoice"])) == 1


def test_a_named_key_with_nothing_to_tell_says_nothing_unless_brygga_knew_it(shop, norce, fortnox):
    """A notice for a document with nothing to tell (an order changed but not cancelled) queues a
    read that finds nothing: no record and no log line. A record Brygga knew that is gone says so."""
    flow = life_flow(shop)
    task = run(shop, flow, {"event_keys": ["cancelled:99999"]}, trigger=Task.Trigger.WEBHOOK)
    assert task.status == Task.Status.SUCCEEDED
    assert not Entity.objects.filter(data_type="fulfilment").exists()
    assert not LogEntry.objects.filter(code="order_life.document_gone").exists()

    placed = place_and_invoice(shop, norce)
    key = f"invoiced:{placed['invoice']}"
    event = port_for(connector_for(shop, FULFILMENT_SOURCE), FULFILMENT_SOURCE).life_event(key, reference_field="")
    store_event(flow=flow, event=event)
    fortnox.invoices.pop(placed["invoice"])  # gone from the ERP before it was told
    run(shop, flow, {"event_keys": [key]}, trigger=Task.Trigger.WEBHOOK)
    (gone,) = LogEntry.objects.filter(code="order_life.document_gone")
    assert key in gone.message
