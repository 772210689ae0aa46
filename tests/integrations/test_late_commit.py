"""Exactly once when Fortnox commits an invoice after our timeout: after an unclear create
nothing is created or looked up until the connector's commit wait has passed; an order that
got two live invoices anyway is found by the reconciliation and flagged with both numbers;
staff credit the extra one from admin, once however often they press.

Runs the orders flow in this process against the Fortnox simulator over real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from connectors.fortnox.settings import DEFAULT_COMMIT_WAIT_SECONDS, commit_wait_seconds, validate_settings
from integrations import jobs, services
from integrations.flows import reconcile
from integrations.models import Connector, Entity, Integration, LogEntry, Reference, Task
from tests.integrations.test_relink import (
    fortnox_action,
    invoice_lookups,
    invoices_for,
    receive,
    run_order_task,
    run_queued,  # noqa: F401 - fixture
    world,  # noqa: F401 - fixture
)

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_TIMEOUT = 0.5
LATE = 1.5  # Fortnox commits (and answers) this long after the POST arrived


def set_commit_wait(integration: Integration, seconds: float) -> None:
    connector = integration.connectors.get(role=Connector.Role.ERP)
    connector.settings = {**connector.settings, "commit_wait_seconds": seconds}
    connector.save()


def posts(fortnox) -> int:
    return len([c for c in fortnox.calls("POST") if c[2] == "/3/invoices"])


def wait_for_invoice(fortnox, ref: str, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = invoices_for(fortnox, ref)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"Fortnox never committed an invoice for {ref}")


def live_numbers(fortnox, ref: str) -> list[str]:
    return [
        i["DocumentNumber"]
        for i in invoices_for(fortnox, ref)
        if not i["Cancelled"] and i["Credit"] != "true" and i["CreditInvoiceReference"] in ("", "0")
    ]


def run_reconciliation(integration: Integration) -> Task:
    task = reconcile.queue_reconciliation(integration.flows.get())
    services.execute_task(task.pk)
    task.refresh_from_db()
    return task


@pytest.fixture
def slow_fortnox(world, fortnox, settings):  # noqa: F811
    settings.BRYGGA = {**settings.BRYGGA, "HTTP_TIMEOUT": CLIENT_TIMEOUT}
    fortnox.commit_late, fortnox.commit_late_posts = LATE, 1
    yield fortnox
    fortnox.commit_late, fortnox.commit_late_posts = 0.0, 0


# -- the commit wait ---------------------------------------------------------------------------------


def test_commit_wait_is_a_connector_setting_with_a_documented_default():
    assert commit_wait_seconds({}) == DEFAULT_COMMIT_WAIT_SECONDS == 180
    assert commit_wait_seconds({"commit_wait_seconds": "45"}) == 45
    for bad in ("soon", -1, 7200, True):
        with pytest.raises(ValueError, match="commit_wait_seconds"):
            validate_settings({"commit_wait_seconds": bad})


def test_an_early_retry_after_an_unclear_create_waits_and_neither_looks_up_nor_creates(world, slow_fortnox):
    set_commit_wait(world, 4)
    entity = receive(world, "810001")
    first = run_order_task(world, entity)

    entity.refresh_from_db()
    first.refresh_from_db()
    assert entity.status == Entity.Status.FAILED and entity.last_error_code == "http.timeout"
    assert entity.create_unconfirmed_at is not None
    assert "nothing is created for it before" in entity.last_error_message
    # The task's retry is not due before the commit wait has passed.
    assert first.status == Task.Status.QUEUED
    assert first.next_retry_at >= entity.create_unconfirmed_at + timedelta(seconds=4)

    # The retry runs early anyway (a webhook replay, a button), while Fortnox is still committing.
    lookups, sent = invoice_lookups(slow_fortnox), posts(slow_fortnox)
    attempts = entity.attempts
    run_queued(world)
    entity.refresh_from_db()
    assert (invoice_lookups(slow_fortnox), posts(slow_fortnox)) == (lookups, sent)
    assert entity.status == Entity.Status.PENDING and entity.attempts == attempts
    waiting = LogEntry.objects.filter(entity=entity, code="order.create_unconfirmed").get()
    assert "no clear answer" in waiting.message
    task = Task.objects.get(integration=world, status=Task.Status.QUEUED)
    assert task.next_retry_at >= entity.create_unconfirmed_at + timedelta(seconds=4)

    (late,) = wait_for_invoice(slow_fortnox, "810001")
    time.sleep(max(0.0, (task.next_retry_at - timezone.now()).total_seconds()))
    run_queued(world)

    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED and entity.target_id == late["DocumentNumber"]
    assert entity.create_unconfirmed_at is None
    assert [i["DocumentNumber"] for i in invoices_for(slow_fortnox, "810001")] == [late["DocumentNumber"]]
    assert posts(slow_fortnox) == sent
    assert LogEntry.objects.filter(entity=entity, code="order.invoice_found").exists()


def test_a_clear_refusal_is_settled_and_the_fixed_order_is_invoiced_at_once(world, fortnox):
    set_commit_wait(world, 600)
    entity = receive(world, "810002")
    with fortnox.lock:
        rates = set(fortnox.vat_rates)
        fortnox.vat_rates = {0}  # Fortnox refuses the rows' VAT with a 400: clearly nothing created
    run_order_task(world, entity)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.NEEDS_ATTENTION and entity.last_error_code.startswith("fortnox.")
    assert entity.create_started_at is not None and entity.create_unconfirmed_at is None

    with fortnox.lock:
        fortnox.vat_rates = rates
    services.retry_entity(entity.pk)
    run_queued(world)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED  # no 600 s wait: Fortnox had clearly refused
    assert len(invoices_for(fortnox, "810002")) == 1


def test_a_worker_killed_during_the_create_leaves_the_record_waiting_for_the_commit(world, fortnox):
    set_commit_wait(world, 300)
    entity = receive(world, "810003")
    # As a killed worker leaves it: the create went out, no answer was ever read.
    started = timezone.now() - timedelta(seconds=20)
    Entity.objects.filter(pk=entity.pk).update(create_started_at=started, create_unconfirmed_at=started, attempts=1)
    lookups, sent = invoice_lookups(fortnox), posts(fortnox)
    task = run_order_task(world, entity)

    entity.refresh_from_db()
    task.refresh_from_db()
    assert (invoice_lookups(fortnox), posts(fortnox)) == (lookups, sent)
    assert entity.status == Entity.Status.PENDING and entity.attempts == 1
    assert task.status == Task.Status.QUEUED and task.attempts == 0
    assert abs((task.next_retry_at - (started + timedelta(seconds=300))).total_seconds()) < 2


# -- detection and the staff action -----------------------------------------------------------------


def duplicated_order(world, fortnox, ref: str) -> tuple[Entity, str, str]:  # noqa: F811
    """An order invoiced twice: the commit wait set to 0, so the early retry created a second one."""
    set_commit_wait(world, 0)
    entity = receive(world, ref)
    run_order_task(world, entity)  # times out; Fortnox commits it later
    run_queued(world)  # no wait: the lookup finds nothing yet, a second invoice is created
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED
    late = [n for n in [i["DocumentNumber"] for i in wait_for_invoice(fortnox, ref)] if n != entity.target_id]
    deadline = time.monotonic() + 10
    while not late and time.monotonic() < deadline:
        time.sleep(0.05)
        late = [i["DocumentNumber"] for i in invoices_for(fortnox, ref) if i["DocumentNumber"] != entity.target_id]
    assert len(late) == 1, invoices_for(fortnox, ref)
    return entity, entity.target_id, late[0]


def test_the_reconciliation_flags_an_order_invoiced_twice_with_both_numbers(world, slow_fortnox):
    entity, kept, extra = duplicated_order(world, slow_fortnox, "810004")
    other = receive(world, "810005")
    run_order_task(world, other)

    task = run_reconciliation(world)
    assert task.status == Task.Status.SUCCEEDED
    entity.refresh_from_db()
    assert entity.status == Entity.Status.NEEDS_ATTENTION and entity.last_error_code == "order.duplicate_invoice"
    assert kept in entity.last_error_message and extra in entity.last_error_message
    flag = LogEntry.objects.get(entity=entity, code="order.duplicate_invoice")
    assert flag.details["kept"] == kept and flag.details["extra"] == [extra]
    assert "Credit the extra invoice" in flag.hint
    assert Entity.objects.get(pk=other.pk).status == Entity.Status.SYNCED
    # Running again flags nothing twice, and the cursor moved on.
    run_reconciliation(world)
    assert LogEntry.objects.filter(entity=entity, code="order.duplicate_invoice").count() == 1
    assert services.get_cursor(world, "order", reconcile.RECONCILE) is not None
    # "Retry this record" does not hide it: while the extra invoice is live the order stays flagged.
    services.retry_entity(entity.pk)
    run_queued(world)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.NEEDS_ATTENTION and entity.last_error_code == "order.duplicate_invoice"
    assert len(live_numbers(slow_fortnox, "810004")) == 2


def test_the_sweeper_queues_one_reconciliation_per_flow_at_its_interval(world, fortnox, settings):
    settings.BRYGGA = {**settings.BRYGGA, "ORDER_RECONCILE_MINUTES": 10}
    assert jobs.sweep()["reconciliations"] == 1
    assert jobs.sweep()["reconciliations"] == 0  # one is queued already
    task = Task.objects.get(integration=world, params__reconcile=True)
    services.execute_task(task.pk)
    assert jobs.sweep()["reconciliations"] == 0  # the last one is younger than ten minutes
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(minutes=11))
    assert jobs.sweep()["reconciliations"] == 1


@pytest.mark.parametrize("booked", [False, True])
def test_credit_the_extra_invoice_undoes_it_once_however_often_pressed(
    world, slow_fortnox, admin_client, admin_user, booked
):
    entity, kept, extra = duplicated_order(world, slow_fortnox, "810006")
    run_reconciliation(world)
    if booked:
        fortnox_action(slow_fortnox, extra, "bookkeep")

    change = admin_client.get(reverse("admin:integrations_entity_change", args=[entity.pk])).content.decode()
    url = reverse("admin:integrations_entity_credit_extra", args=[entity.pk])
    assert url in change and "Credit the extra invoice" in change
    page = admin_client.get(url).content.decode()
    assert f"{'Credit' if booked else 'Cancel'} invoice {extra}" in page and "linked — stays" in page
    assert f"invoice {kept}" not in page.split("<table")[1].split("</table>")[0].replace(
        f"<td>{kept}</td>", ""
    )  # the linked invoice has no button
    assert live_numbers(slow_fortnox, "810006") == sorted([kept, extra], key=int)  # a GET changes nothing

    first = admin_client.post(url, {"invoice": extra})
    assert first.status_code == 302
    again = admin_client.post(url, {"invoice": extra})
    said = " ".join(str(m) for m in get_messages(again.wsgi_request))
    assert "already cancelled or credited" in said

    assert live_numbers(slow_fortnox, "810006") == [kept]
    credit_notes = [i for i in invoices_for(slow_fortnox, "810006") if i["Credit"] == "true"]
    assert len(credit_notes) == (1 if booked else 0)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED and entity.last_error_code == ""
    assert Reference.objects.get(integration=world, source_id="810006").target_id == kept
    actions = LogEntry.objects.filter(entity=entity, code="order.extra_invoice_credited").order_by("pk")
    assert [a.actor for a in actions] == [admin_user.get_username()] * 2

    refused = admin_client.post(url, {"invoice": kept})
    assert "is the one order 810006 is linked to" in " ".join(str(m) for m in get_messages(refused.wsgi_request))
    assert live_numbers(slow_fortnox, "810006") == [kept]
