"""Norce orders become Fortnox invoices — exactly once — over real HTTP with a real q cluster."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from integrations import services
from integrations.engine.clients import client_for
from integrations.engine.tokens import store_tokens
from integrations.models import Connector, Entity, LogEntry, Reference, Task
from simulators.norce.orders import DEMO_CATALOGUE, generate_order, order_gross_total
from tests.e2e.harness import QCluster, wait_until

pytestmark = pytest.mark.e2e


def confirmed(norce, ref: str) -> list[dict]:
    return [s for s in norce.order_statuses if s["client_order_ref"] == ref and s["status_name"] == "Confirmed"]


def invoices_for(fortnox, ref: str) -> list[dict]:
    with fortnox.lock:
        return [i for i in fortnox.invoices.values() if i.get("ExternalInvoiceReference1") == ref]


def wait_confirmed(norce, refs: list[str], timeout: float = 90) -> None:
    wait_until(
        lambda: all(confirmed(norce, r) for r in refs),
        timeout=timeout,
        message=f"Norce to receive Confirmed for {refs}",
    )


def test_an_order_becomes_exactly_one_invoice_equal_to_the_order(wired, norce, fortnox, cluster):
    order = norce.place_order()
    ref = order["ClientOrderRef"]
    wait_confirmed(norce, [ref])

    (invoice,) = invoices_for(fortnox, ref)
    assert invoice["YourOrderNumber"] == ref
    assert invoice["VATIncluded"] is True
    # One row per order line: article, quantity, gross unit price and VAT rate as ordered.
    items = sorted(order["Items"], key=lambda i: i["LineNo"])
    rows = invoice["InvoiceRows"]
    assert [r["ArticleNumber"] for r in rows] == [i["PartNo"] for i in items]
    for row, item in zip(rows, items):
        assert Decimal(str(row["DeliveredQuantity"])) == Decimal(str(item["Quantity"]))
        assert Decimal(str(row["VAT"])) == Decimal(str(item["VatRate"]))
        unit_gross = Decimal(str(item["UnitPrice"])) + Decimal(str(item["UnitVat"]))
        assert Decimal(str(row["Price"])) == unit_gross
    # Totals equal the order's to the öre.
    assert Decimal(str(invoice["Total"])) - Decimal(str(invoice.get("RoundOff") or 0)) == order_gross_total(order)
    order_vat = sum(Decimal(str(i["UnitVat"])) * i["Quantity"] for i in items)
    assert abs(Decimal(str(invoice["TotalVAT"])) - order_vat) <= Decimal("0.01") * len(items)

    (status,) = confirmed(norce, ref)
    assert status["erp_order_no"] == invoice["DocumentNumber"]
    entity = wait_until(
        lambda: Entity.objects.filter(source_id=ref, status=Entity.Status.SYNCED).first(),
        timeout=10,
        message="entity marked synced",
    )
    assert entity.target_id == invoice["DocumentNumber"]
    assert entity.acknowledged_at is not None
    assert Reference.objects.get(data_type="order", source_id=ref).target_id == invoice["DocumentNumber"]
    task = wait_until(
        lambda: Task.objects.filter(trigger=Task.Trigger.ORDER_PUSH, status=Task.Status.SUCCEEDED).first(),
        timeout=10,
        message="task finished",
    )
    assert task.count_succeeded == 1
    exported = LogEntry.objects.filter(entity=entity, level=LogEntry.Level.EXPORTED).values_list("code", flat=True)
    assert sorted(exported) == ["order.acknowledged", "order.invoiced"]
    follow_up = wait_until(
        lambda: Task.objects.filter(trigger=Task.Trigger.FOLLOW_UP, status=Task.Status.SUCCEEDED).first(),
        timeout=10,
        message="follow-up task finished",
    )
    assert follow_up.count_succeeded == 1


def test_duplicate_push_event_and_poll_still_give_one_invoice(wired, norce, fortnox, cluster, live_server):
    norce.configure_events(f"{live_server.url}/norce/{wired.pk}/events", {"X-Brygga-Secret": "event-secret-value"})
    norce.duplicate_pushes = True
    order = norce.place_order()
    ref = order["ClientOrderRef"]
    wait_confirmed(norce, [ref])
    assert norce.wait_idle(30)
    # And once more through the fail-safe poll.
    flow = wired.flows.get()
    poll = services.run_flow_now(flow.pk, trigger=Task.Trigger.SCHEDULE)
    wait_until(lambda: Task.objects.get(pk=poll.pk).status in Task.FINISHED, timeout=60, message="poll task")
    norce.push_order(ref)  # a late retry of the push after everything
    assert norce.wait_idle(30)
    time.sleep(1)

    assert len(invoices_for(fortnox, ref)) == 1
    assert Entity.objects.filter(data_type="order", source_id=ref).count() == 1
    assert len(confirmed(norce, ref)) == 1
    assert len([p for p in norce.push_log if p.get("client_order_ref", p.get("ref")) == ref]) >= 3
    assert Task.objects.get(pk=poll.pk).status == Task.Status.SUCCEEDED


def test_an_order_whose_push_and_event_were_lost_is_found_by_the_poll(wired, norce, fortnox, cluster, live_server):
    norce.configure_events(f"{live_server.url}/norce/{wired.pk}/events", {"X-Brygga-Secret": "event-secret-value"})
    norce.lose_pushes = 1
    norce.lose_events = 1
    order = norce.place_order()
    ref = order["ClientOrderRef"]
    assert norce.wait_idle(10)
    assert not Entity.objects.filter(source_id=ref).exists()

    poll = services.run_flow_now(wired.flows.get().pk, trigger=Task.Trigger.SCHEDULE)
    wait_confirmed(norce, [ref])
    assert len(invoices_for(fortnox, ref)) == 1
    entity = Entity.objects.get(source_id=ref)
    assert entity.received_via == "poll"
    assert LogEntry.objects.filter(entity=entity, code="order.found_by_poll").exists()
    wait_until(lambda: Task.objects.get(pk=poll.pk).status == Task.Status.SUCCEEDED, timeout=30, message="poll task")
    assert services.get_cursor(wired, "order", "commerce_to_erp") is not None


def test_a_worker_killed_between_create_and_reference_save_yields_one_invoice(wired, norce, fortnox, cluster):
    fortnox.hold_after_create = 5.0  # the answer to the invoice POST is held back ...
    order = norce.place_order()
    ref = order["ClientOrderRef"]
    wait_until(lambda: invoices_for(fortnox, ref), timeout=60, message="invoice created in Fortnox")
    cluster.kill()  # ... and the worker dies before it could save the reference
    fortnox.hold_after_create = 0
    assert not Reference.objects.filter(data_type="order", source_id=ref).exists()
    task = Task.objects.get(trigger=Task.Trigger.ORDER_PUSH)
    assert task.status == Task.Status.RUNNING

    restarted = QCluster().start()
    try:
        time.sleep(1)
        wait_until(lambda: services.sweep(stuck_after=3)["stuck"], timeout=30, message="sweeper to re-queue")
        wait_confirmed(norce, [ref], timeout=60)
    finally:
        restarted.stop()
    (invoice,) = invoices_for(fortnox, ref)
    assert Reference.objects.get(data_type="order", source_id=ref).target_id == invoice["DocumentNumber"]
    assert LogEntry.objects.filter(code="order.invoice_found", reference=ref).exists()
    assert LogEntry.objects.filter(code="task.stuck", task=task).exists()


def test_fortnox_committing_after_our_timeout_still_gives_one_invoice(wired, norce, fortnox):
    """Fortnox answers (and commits) the invoice POST after the client gave up; a person presses
    'Retry this record' meanwhile. Nothing is created again before the commit wait: one invoice."""
    erp = wired.connectors.get(role=Connector.Role.ERP)
    erp.settings = {**erp.settings, "commit_wait_seconds": 6}
    erp.save()
    fortnox.commit_late, fortnox.commit_late_posts = 4.0, 1
    cluster = QCluster(env={"HTTP_TIMEOUT": "1"}).start()
    try:
        ref = norce.place_order()["ClientOrderRef"]
        entity = wait_until(
            lambda: Entity.objects.filter(source_id=ref, last_error_code="http.timeout").first(),
            timeout=30,
            message="the invoice POST to time out",
        )
        assert not invoices_for(fortnox, ref)  # still being committed
        services.retry_entity(entity.pk)  # pressed while Fortnox is still committing
        wait_until(
            lambda: LogEntry.objects.filter(entity=entity, code="order.create_unconfirmed").exists(),
            timeout=20,
            message="the early retry to wait for the commit",
        )
        wait_confirmed(norce, [ref], timeout=60)
    finally:
        cluster.stop()
    (invoice,) = invoices_for(fortnox, ref)
    assert fortnox.late_commits == 1
    assert Reference.objects.get(data_type="order", source_id=ref).target_id == invoice["DocumentNumber"]
    assert LogEntry.objects.filter(entity=entity, code="order.invoice_found").exists()


def test_a_429_storm_and_a_5xx_burst_slow_the_sync_but_lose_nothing(wired, norce, fortnox, cluster):
    fortnox.faults.update({"storm_requests": 6, "paths": ["/3/"]})
    first = [norce.place_order()["ClientOrderRef"] for _ in range(4)]
    wait_confirmed(norce, first, timeout=120)
    assert fortnox.status_counts.get(429, 0) > 0

    fortnox.faults.update({"error_5xx_rate": 0.5, "paths": ["/3/"]})
    second = [norce.place_order()["ClientOrderRef"] for _ in range(4)]
    time.sleep(4)
    fortnox.faults.update({"error_5xx_rate": 0.0})
    wait_confirmed(norce, second, timeout=150)
    assert sum(fortnox.status_counts.get(code, 0) for code in (500, 502, 503)) > 0

    for ref in first + second:
        assert len(invoices_for(fortnox, ref)) == 1, ref
    assert Reference.objects.filter(data_type="order").count() == 8
    assert not Entity.objects.filter(data_type="order").exclude(status=Entity.Status.SYNCED).exists()


def test_an_unknown_article_is_logged_the_others_sync_and_a_retry_succeeds(
    wired, norce, fortnox, cluster, admin_client
):
    rng = random.Random(5)
    bad = generate_order(rng, order_ref="800001", catalogue=DEMO_CATALOGUE, unknown_article_rate=1.0)
    unknown = [i["PartNo"] for i in bad["Items"] if i["PartNo"] not in fortnox.articles]
    assert unknown
    norce.place_order(bad)
    good = [norce.place_order()["ClientOrderRef"] for _ in range(2)]
    wait_confirmed(norce, good)
    entity = wait_until(
        lambda: Entity.objects.filter(source_id="800001", status=Entity.Status.NEEDS_ATTENTION).first(),
        timeout=60,
        message="the bad order to need attention",
    )
    assert entity.last_error_code == "fortnox.article_not_found"
    error = LogEntry.objects.get(entity=entity, level=LogEntry.Level.ERROR)
    assert unknown[0] in error.message and error.hint
    assert not invoices_for(fortnox, "800001")

    for part_no in unknown:
        fortnox.add_article(part_no, "Ny artikel", sales_price=100, vat=25)
    response = admin_client.post("/admin/integrations/entity/", {"action": "retry", "_selected_action": [entity.pk]})
    assert response.status_code == 302
    wait_confirmed(norce, ["800001"])
    assert len(invoices_for(fortnox, "800001")) == 1
    assert Entity.objects.get(pk=entity.pk).status == Entity.Status.SYNCED


def test_two_workers_refreshing_the_fortnox_token_at_once(wired, fortnox):
    erp = wired.connectors.get(role=Connector.Role.ERP)
    grant = fortnox.issue_tokens("fortnox-client")
    store_tokens(erp, grant)
    fortnox.expire_access_tokens()
    Connector.objects.filter(pk=erp.pk).update(token_expires_at=timezone.now())
    erp.refresh_from_db()
    tokens = dict(erp.tokens, expires_at=timezone.now().isoformat())
    erp.tokens = tokens
    erp.save(update_fields=["tokens"])

    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            client = client_for(Connector.objects.get(pk=erp.pk))
            barrier.wait()
            results.append(client.company_information()["CompanyName"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 2
    assert fortnox.refresh_token_uses[grant["refresh_token"]] == 1
    erp.refresh_from_db()
    assert erp.tokens["refresh_token"] != grant["refresh_token"]


def test_deleting_a_reference_in_admin_relinks_a_live_invoice_and_creates_one_only_once_it_is_cancelled(
    wired, norce, fortnox, cluster, admin_client
):
    ref = norce.place_order()["ClientOrderRef"]
    wait_confirmed(norce, [ref])
    reference = wait_until(lambda: Reference.objects.filter(data_type="order", source_id=ref).first(), timeout=10)
    page = admin_client.get(f"/admin/integrations/reference/{reference.pk}/delete/").content.decode()
    assert "NEW record" in page
    assert (
        admin_client.post(f"/admin/integrations/reference/{reference.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    entity = Entity.objects.get(source_id=ref)
    assert entity.status == Entity.Status.PENDING
    assert LogEntry.objects.get(code="reference.deleted", entity=entity).actor == "admin"

    # The invoice is still live in Fortnox: "Retry this record" links it again and creates nothing.
    assert admin_client.post(f"/admin/integrations/entity/{entity.pk}/retry/").status_code == 302
    again = wait_until(
        lambda: Reference.objects.filter(data_type="order", source_id=ref).first(),
        timeout=60,
        message="the reference linked again",
    )
    assert (again.target_id, again.origin) == (reference.target_id, Reference.Origin.LOOKUP)
    assert LogEntry.objects.filter(code="order.relinked", entity=entity).exists()
    assert [i["DocumentNumber"] for i in invoices_for(fortnox, ref)] == [reference.target_id]

    # Cancelled in Fortnox, then the reference deleted: the next sync creates a new invoice.
    with fortnox.lock:
        fortnox.invoices[reference.target_id]["Cancelled"] = True
    admin_client.post(f"/admin/integrations/reference/{again.pk}/delete/", {"post": "yes"})
    services.run_flow_now(wired.flows.get().pk)
    new = wait_until(
        lambda: Reference.objects.filter(data_type="order", source_id=ref).first(),
        timeout=60,
        message="a new reference",
    )
    assert new.target_id != reference.target_id
    assert sorted(i["DocumentNumber"] for i in invoices_for(fortnox, ref)) == sorted(
        [reference.target_id, new.target_id]
    )
