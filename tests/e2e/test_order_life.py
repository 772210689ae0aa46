"""The order's life back to Norce over real HTTP with a real q cluster: a Norce order becomes a
Fortnox invoice, the invoice is told to Norce once (SuppressPspCall as configured), its
cancellation once, whatever is polled again, replayed, or answered lost; a malformed invoice
gets a coded error and the next one still goes."""

from __future__ import annotations

import pytest

from integrations import services
from integrations.models import Entity, Flow, Task
from tests.e2e.harness import wait_until
from tests.e2e.test_orders_to_invoices import wait_confirmed
from tests.integrations.test_relink import fortnox_action

pytestmark = pytest.mark.e2e


def told(norce, kind: str, number: str) -> list[dict]:
    with norce.lock:
        if kind == "invoice":
            return [i for i in norce.invoices if i["body"].get("InvoiceNo") == number]
        return [c for c in norce.cancellations if c["body"].get("ErpOrderNo") == number]


def poll_and_wait(flow: Flow) -> Task:
    task = services.run_flow_now(flow.pk, trigger=Task.Trigger.SCHEDULE)
    wait_until(lambda: Task.objects.get(pk=task.pk).status in Task.FINISHED, timeout=60, message="life poll")
    return Task.objects.get(pk=task.pk)


def invoice_of(ref: str) -> str:
    entity = wait_until(
        lambda: Entity.objects.filter(data_type="order", source_id=ref, status=Entity.Status.SYNCED).first(),
        timeout=30,
        message=f"order {ref} invoiced",
    )
    return entity.target_id


def test_invoice_and_cancellation_are_told_to_norce_once(wired, norce, fortnox, cluster):
    flow = Flow.objects.create(integration=wired, kind="order_life_to_commerce", settings={"suppress_psp_call": True})
    orders = [norce.place_order() for _ in range(3)]
    refs = [o["ClientOrderRef"] for o in orders]
    wait_confirmed(norce, refs)
    first, broken, lost = (invoice_of(ref) for ref in refs)
    with fortnox.lock:
        fortnox.invoices[broken]["InvoiceRows"][0]["Price"] = "tolv"
    norce.fail_after_commit = 1  # the first invoice told: committed in Norce, its answer lost

    poll_and_wait(flow)
    # The lost answer's record is retried by the cluster: Norce is asked and says it holds it.
    wait_until(lambda: all(len(told(norce, "invoice", n)) == 1 for n in (first, lost)), timeout=60, message="told")
    wait_until(
        lambda: not Entity.objects.filter(data_type="fulfilment", status__in=["pending", "failed", "processing"]),
        timeout=60,
        message="every life record settled",
    )
    bad = Entity.objects.get(data_type="fulfilment", source_id=f"invoiced:{broken}")
    assert bad.status == Entity.Status.NEEDS_ATTENTION and bad.last_error_code == "fortnox.invoice_unreadable"
    assert told(norce, "invoice", broken) == []
    assert all(i["body"]["SuppressPspCall"] is True for i in norce.invoices) and norce.psp_captures == []
    assert norce.lost_answers == 1

    fortnox_action(fortnox, first, "cancel")
    poll_and_wait(flow)
    wait_until(lambda: told(norce, "cancellation", first), timeout=60, message="cancellation told")
    poll_and_wait(flow)
    assert len(told(norce, "cancellation", first)) == 1
    assert [len(told(norce, "invoice", n)) for n in (first, lost)] == [1, 1]
    assert norce.duplicate_documents == []
    assert norce.orders[refs[0]]["StatusId"] == 6 and norce.orders[refs[2]]["StatusId"] == 5
