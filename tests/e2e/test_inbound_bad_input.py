"""An order whose text holds characters PostgreSQL cannot store still becomes exactly one invoice."""

from __future__ import annotations

import pytest

from integrations.models import Entity, WebhookDelivery
from simulators.norce.orders import generate_order
from tests.e2e.harness import wait_until
from tests.e2e.test_orders_to_invoices import invoices_for, wait_confirmed

pytestmark = pytest.mark.e2e


def test_an_order_with_nul_in_the_buyer_note_and_address_becomes_one_invoice(wired, norce, fortnox, cluster):
    order = generate_order(norce.rng, order_ref="700555", catalogue=norce.catalogue)
    order["CustomerOrderComment"] = "Lämna vid\u0000 dörren"
    order["BillTo"]["Person"]["Address"]["Line1"] = "Storgatan\u0000 12"
    placed = norce.place_order(order)
    ref = placed["ClientOrderRef"]
    wait_confirmed(norce, [ref])
    assert norce.wait_idle(30)

    (invoice,) = invoices_for(fortnox, ref)
    assert "\x00" not in repr(invoice)
    entity = wait_until(
        lambda: Entity.objects.filter(source_id=ref, status=Entity.Status.SYNCED).first(),
        timeout=10,
        message="entity marked synced",
    )
    assert entity.target_id == invoice["DocumentNumber"]
    assert entity.payload["CustomerOrderComment"] == "Lämna vid dörren"
    assert entity.payload["BillTo"]["Person"]["Address"]["Line1"] == "Storgatan 12"
    # The push was accepted on its first delivery and kept byte for byte, NUL escape included.
    (delivery,) = WebhookDelivery.objects.filter(kind=WebhookDelivery.Kind.ORDER_PUSH, reference=ref)
    assert delivery.outcome == WebhookDelivery.Outcome.ACCEPTED
    assert b"\\u0000" in bytes(delivery.raw_body)
    assert [p["status"] for p in norce.push_log if p.get("client_order_ref") == ref] == [200]
