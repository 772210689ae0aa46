"""The order's life back to Norce from Visma.net over real HTTP with a real q cluster: a Norce
order becomes a Visma.net sales order (SalesOrders V3), its shipments become Norce delivery
notes (partly delivered, then delivered), its invoices Norce invoices (SuppressPspCall as
configured) and its cancellation a cancelled order — each told once, whether the notification
came, was lost, came twice, or the poll read it again; a malformed shipment gets a coded error
and the next one still goes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from integrations import services
from integrations.models import Entity, Flow, LogEntry, Reference, Task, WebhookDelivery
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from tests.e2e.harness import wait_until
from tests.e2e.test_order_life import poll_and_wait, told
from tests.e2e.test_orders_to_invoices import wait_confirmed

pytestmark = pytest.mark.e2e

DELIVERED, INVOICED, CANCELLED, PARTLY_DELIVERED = 4, 5, 6, 8  # Norce OrderStatus


# -- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def life(visma_wired) -> Flow:
    """The orders flow making Visma.net sales orders, and the deliveries, invoices and
    cancellations flow (polled only when a test says so; notifications trigger it)."""
    orders = visma_wired.flows.get(kind="orders_to_erp")
    orders.settings = {**orders.settings, "document": "order"}
    orders.save(update_fields=["settings"])
    return Flow.objects.create(integration=visma_wired, kind="order_life_to_commerce", settings={})


def place(norce, *, lines: int = 2) -> dict:
    """A webshop order of `lines` product lines (and perhaps freight), placed and pushed; Norce
    numbers it."""
    seed = 0
    while True:
        seed += 1
        order = generate_order(random.Random(seed), order_ref="", catalogue=DEMO_CATALOGUE)
        if len([i for i in order["Items"] if i.get("Type") != "Freight"]) == lines:
            return norce.place_order(order)


def sales_order_of(vismanet, ref: str) -> dict:
    """The Visma.net sales order carrying the webshop order's key, once it exists."""

    def find():
        with vismanet.lock:
            return next((o for o in vismanet.sales_orders.values() if o.get("customerRefNo") == ref), None)

    return wait_until(find, timeout=90, message=f"a Visma.net sales order for {ref}")


def product_lines(order: dict) -> list[dict]:
    return [line for line in order["lines"] if line["stockItem"]]


def notes(norce, shipment: str) -> list[dict]:
    with norce.lock:
        return [n for n in norce.delivery_notes if n["body"].get("NoteNo") == shipment]


def statuses(norce, ref: str, name: str) -> list[dict]:
    with norce.lock:
        return [s for s in norce.order_statuses if s["client_order_ref"] == ref and s["status_name"] == name]


def record(key: str) -> Entity | None:
    return Entity.objects.filter(data_type="fulfilment", source_id=key).first()


def wait_record(key: str, *states: str, timeout: float = 90) -> Entity:
    return wait_until(
        lambda: (e := record(key)) is not None and e.status in states and e,
        timeout=timeout,
        message=f"fulfilment record {key} {'/'.join(states)}",
    )


def confirmed_sales_order(norce, vismanet, *, lines: int = 2) -> tuple[str, dict]:
    order = place(norce, lines=lines)
    ref = order["ClientOrderRef"]
    wait_confirmed(norce, [ref])
    return ref, sales_order_of(vismanet, ref)


# -- 1. deliveries -----------------------------------------------------------------------------------
def test_a_partial_and_then_the_last_shipment_are_one_delivery_note_each(life, norce, vismanet, cluster):
    ref, so = confirmed_sales_order(norce, vismanet)
    first, second = product_lines(so)
    (status,) = statuses(norce, ref, "Confirmed")
    erp_order = status["erp_order_no"]
    assert erp_order == f"SO/{so['id']}"

    # The warehouse ships the first line: a delivery note for it, the order partly delivered.
    shipped = vismanet.ship_order("SO", so["id"], lines=[first["lineId"]], tracking="00370712345678900017")
    wait_until(lambda: notes(norce, shipped), timeout=90, message="the first delivery note")
    wait_record(f"delivery:{shipped}", Entity.Status.SYNCED)
    (note,) = notes(norce, shipped)
    body = note["body"]
    assert note["client_order_ref"] == ref
    assert body["OrderNo"] == erp_order
    assert [(i["ItemNo"], Decimal(str(i["Qty"]))) for i in body["DeliveryNoteItems"]] == [
        (first["inventoryId"], first["quantity"])
    ]
    assert body["DeliveryNotePackages"] == [{"ParcelNumber": "00370712345678900017", "StatusId": DELIVERED}]
    assert body["DeliveryMode"] == "PostNord"  # the shipment's ship-via
    wait_until(lambda: statuses(norce, ref, "PartlyDelivered"), timeout=30, message="PartlyDelivered in Norce")
    assert norce.orders[ref]["StatusId"] == PARTLY_DELIVERED

    # The rest: a second note, the order delivered.
    last = vismanet.ship_order("SO", so["id"], tracking="00370712345678900024")
    assert last != shipped
    wait_until(lambda: notes(norce, last), timeout=90, message="the second delivery note")
    wait_record(f"delivery:{last}", Entity.Status.SYNCED)
    (note,) = notes(norce, last)
    assert [(i["ItemNo"], Decimal(str(i["Qty"]))) for i in note["body"]["DeliveryNoteItems"]] == [
        (second["inventoryId"], second["quantity"])
    ]
    assert note["body"]["DeliveryNotePackages"][0]["ParcelNumber"] == "00370712345678900024"
    wait_until(lambda: statuses(norce, ref, "Delivered"), timeout=30, message="Delivered in Norce")
    assert norce.orders[ref]["StatusId"] == DELIVERED

    # The scheduled poll reads both shipments again: nothing is told twice.
    poll_and_wait(life)
    poll_and_wait(life)
    assert [len(notes(norce, n)) for n in (shipped, last)] == [1, 1]
    assert len(statuses(norce, ref, "Delivered")) == 1 and len(statuses(norce, ref, "PartlyDelivered")) == 1
    assert norce.duplicate_documents == []
    told_refs = Reference.objects.filter(data_type="fulfilment").values_list("source_id", "target_id")
    assert set(told_refs) == {(f"delivery:{shipped}", shipped), (f"delivery:{last}", last)}


# -- 2. lost and doubled notifications ------------------------------------------------------------------
def shipment_notices(vismanet, shipment: str) -> list[dict]:
    with vismanet.lock:
        return [
            dict(d)
            for d in vismanet.webhook_deliveries
            if d["body"]["event"] == "Shipment.StatusChanged" and d["body"]["id"] == shipment
        ]


def test_a_lost_or_doubled_shipment_notice_still_gives_one_delivery_note(life, norce, vismanet, cluster):
    (ref, so), (ref2, so2) = (confirmed_sales_order(norce, vismanet, lines=1) for _ in range(2))

    # Every notification of the shipment is lost: Brygga hears nothing of it ...
    vismanet.lose_webhooks = 100
    lost = vismanet.ship_order("SO", so["id"], tracking="00370712345678900031")
    vismanet.lose_webhooks = 0
    (notice,) = shipment_notices(vismanet, lost)
    assert notice.get("lost") is True and notice["attempts"] == 0
    assert record(f"delivery:{lost}") is None
    # ... and the scheduled poll finds it.
    poll_and_wait(life)
    wait_record(f"delivery:{lost}", Entity.Status.SYNCED)
    wait_until(lambda: notes(norce, lost), timeout=30, message="the delivery note of the lost notice")
    poll_and_wait(life)
    assert len(notes(norce, lost)) == 1
    assert notes(norce, lost)[0]["body"]["DeliveryNotePackages"][0]["ParcelNumber"] == "00370712345678900031"

    # Every notification of the next shipment comes twice, and the poll reads it once more.
    vismanet.duplicate_webhooks = 100
    twice = vismanet.ship_order("SO", so2["id"], tracking="00370712345678900048")
    vismanet.duplicate_webhooks = 0
    vismanet.wait_for_webhooks(30)
    (notice,) = shipment_notices(vismanet, twice)
    assert notice["delivered"] == 2
    # Both copies reached Brygga (the second one is a duplicate, or, when both arrive at the
    # same moment, a second task that finds the record already told).
    copies = WebhookDelivery.objects.filter(reference__contains=notice["body"]["notificationId"])
    assert copies.count() == 2
    wait_record(f"delivery:{twice}", Entity.Status.SYNCED)
    poll_and_wait(life)
    assert len(notes(norce, twice)) == 1
    assert len(notes(norce, lost)) == 1
    assert len(statuses(norce, ref, "Delivered")) == 1 and len(statuses(norce, ref2, "Delivered")) == 1
    assert Entity.objects.filter(data_type="fulfilment", source_id__startswith="delivery:").count() == 2
    assert norce.duplicate_documents == []
    assert norce.orders[ref]["StatusId"] == norce.orders[ref2]["StatusId"] == DELIVERED


# -- 3. a malformed shipment ---------------------------------------------------------------------------
def test_a_malformed_shipment_gets_a_coded_error_and_the_next_shipment_still_goes(life, norce, vismanet, cluster):
    (ref, so), (ref2, so2) = (confirmed_sales_order(norce, vismanet, lines=1) for _ in range(2))

    # Broken before anyone can read it (the lock holds every request until it is): a shipped
    # quantity that is no number.
    with vismanet.lock:
        broken = vismanet.ship_order("SO", so["id"])
        detail = vismanet.shipments[broken]["shipmentDetailLines"][0]
        shipped_qty = detail["shippedQty"]
        detail["shippedQty"] = "två"
    good = vismanet.ship_order("SO", so2["id"])

    bad = wait_record(f"delivery:{broken}", Entity.Status.NEEDS_ATTENTION, Entity.Status.FAILED)
    wait_record(f"delivery:{good}", Entity.Status.SYNCED)
    assert bad.status == Entity.Status.NEEDS_ATTENTION  # nothing a retry by itself would mend
    assert bad.last_error_code == "vismanet.shipment_malformed"
    error = wait_until(
        lambda: LogEntry.objects.filter(entity=bad, level=LogEntry.Level.ERROR).first(),
        timeout=10,
        message="the error logged on the shipment's record",
    )
    assert LogEntry.objects.filter(entity=bad, level=LogEntry.Level.ERROR).count() == 1
    assert error.code == "vismanet.shipment_malformed"
    assert error.details == {"field": "shipmentDetailLines[0].shippedQty"}
    assert "shipmentDetailLines[0].shippedQty" in error.message and "två" in error.message
    assert error.hint
    assert notes(norce, broken) == []
    assert len(notes(norce, good)) == 1
    assert norce.orders[ref2]["StatusId"] == DELIVERED

    # The poll reads the broken shipment again: it stays as it was, nothing is sent.
    poll_and_wait(life)
    assert record(f"delivery:{broken}").status == Entity.Status.NEEDS_ATTENTION
    assert notes(norce, broken) == [] and len(notes(norce, good)) == 1

    # Corrected in Visma.net, "Retry this record" reads it again and tells it once.
    with vismanet.lock:
        vismanet.shipments[broken]["shipmentDetailLines"][0]["shippedQty"] = shipped_qty
    retry = services.retry_entity(bad.pk)
    wait_until(lambda: Task.objects.get(pk=retry.pk).status in Task.FINISHED, timeout=60, message="the retry")
    wait_record(f"delivery:{broken}", Entity.Status.SYNCED)
    (note,) = notes(norce, broken)
    assert [Decimal(str(i["Qty"])) for i in note["body"]["DeliveryNoteItems"]] == [shipped_qty]
    assert norce.orders[ref]["StatusId"] == DELIVERED
    assert norce.duplicate_documents == []


# -- 4. invoices ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suppress", [None, False], ids=["suppress_psp_call_default", "suppress_psp_call_false"])
def test_an_invoiced_shipment_is_told_to_norce_once_with_suppress_psp_call_as_configured(
    life, norce, vismanet, cluster, suppress
):
    if suppress is not None:
        Flow.objects.filter(pk=life.pk).update(settings={"suppress_psp_call": suppress})
    expected = True if suppress is None else suppress
    ref, so = confirmed_sales_order(norce, vismanet, lines=2)
    shipment = vismanet.ship_order("SO", so["id"])
    wait_record(f"delivery:{shipment}", Entity.Status.SYNCED)

    invoice = vismanet.invoice_shipment(shipment)
    wait_until(lambda: told(norce, "invoice", invoice), timeout=90, message="the invoice told to Norce")
    wait_record(f"invoiced:{invoice}", Entity.Status.SYNCED)
    poll_and_wait(life)
    poll_and_wait(life)

    (sent,) = told(norce, "invoice", invoice)
    body = sent["body"]
    assert body["SuppressPspCall"] is expected
    assert body["ClientOrderRef"] == int(ref)
    assert body["ErpOrderNo"] == f"SO/{so['id']}"
    with vismanet.lock:
        stored = vismanet.invoices[invoice]
        amount, vat = stored["amount"], stored["vatTotal"]
        parts = sorted(line["inventoryNumber"] for line in stored["invoiceLines"])
    assert Decimal(str(body["Payment"]["Amount"])) == amount
    assert Decimal(str(body["Vat"])) == vat
    assert sorted(item["PartNo"] for item in body["Items"]) == parts
    # Every line's gross (unit price + unit VAT) times its quantity adds up to what the buyer pays.
    gross = sum(
        (Decimal(str(i["UnitPrice"])) + Decimal(str(i["UnitVat"]))) * Decimal(str(i["Quantity"])) for i in body["Items"]
    )
    assert abs(gross - amount) <= Decimal("0.01") * len(body["Items"])
    if expected:
        assert norce.psp_captures == []
    else:
        assert [(c["invoice_no"], c["amount"]) for c in norce.psp_captures] == [(invoice, amount)]
    assert norce.orders[ref]["StatusId"] == INVOICED
    assert norce.duplicate_documents == []
    assert Reference.objects.get(data_type="fulfilment", source_id=f"invoiced:{invoice}").target_id == invoice


def test_an_order_invoiced_shipment_by_shipment_is_invoiced_in_norce_only_by_its_last_invoice(
    life, norce, vismanet, cluster
):
    ref, so = confirmed_sales_order(norce, vismanet, lines=2)
    first, second = product_lines(so)
    early = vismanet.ship_order("SO", so["id"], lines=[first["lineId"]])
    wait_record(f"delivery:{early}", Entity.Status.SYNCED)
    part = vismanet.invoice_shipment(early)
    wait_record(f"invoiced:{part}", Entity.Status.SYNCED)
    (sent,) = told(norce, "invoice", part)
    # The order still has a line to ship: this invoice is not its last, and Norce's order stays
    # partly delivered rather than invoiced.
    assert sent["body"]["IsLastInvoiceForOrder"] is False
    assert norce.orders[ref]["StatusId"] == PARTLY_DELIVERED

    late = vismanet.ship_order("SO", so["id"])
    wait_record(f"delivery:{late}", Entity.Status.SYNCED)
    rest = vismanet.invoice_shipment(late)
    wait_record(f"invoiced:{rest}", Entity.Status.SYNCED)
    poll_and_wait(life)
    poll_and_wait(life)
    (sent,) = told(norce, "invoice", rest)
    assert sent["body"]["IsLastInvoiceForOrder"] is True
    assert [item["PartNo"] for item in sent["body"]["Items"]] == [second["inventoryId"]]
    assert len(told(norce, "invoice", part)) == 1
    assert norce.orders[ref]["StatusId"] == INVOICED
    assert norce.duplicate_documents == []


# -- 5. cancellations ----------------------------------------------------------------------------------
def test_a_cancelled_sales_order_is_told_to_norce_once(life, norce, vismanet, cluster):
    ref, so = confirmed_sales_order(norce, vismanet, lines=1)
    number = f"SO/{so['id']}"

    vismanet.cancel_sales_order("SO", so["id"])
    wait_until(lambda: told(norce, "cancellation", number), timeout=90, message="the cancellation told to Norce")
    wait_record(f"cancelled:{number}", Entity.Status.SYNCED)
    poll_and_wait(life)
    poll_and_wait(life)

    (sent,) = told(norce, "cancellation", number)
    assert sent["body"] == {"ClientOrderRef": int(ref), "ErpOrderNo": number}  # no payment is cancelled at the PSP
    assert norce.orders[ref]["StatusId"] == CANCELLED
    assert norce.duplicate_documents == []
    assert norce.delivery_notes == [] and norce.invoices == []
