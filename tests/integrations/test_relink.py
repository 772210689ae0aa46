"""A record without a reference never gets a silent second invoice: it is looked up in
Fortnox first and a live invoice is linked again; a new one while another is live takes
a confirmed staff action; staff actions show on the record's timeline with their name.

Runs the orders flow in this process against the Fortnox simulator over real HTTP."""

from __future__ import annotations

import random
from typing import Any

import pytest
import requests
from django.contrib.messages import get_messages
from django.urls import reverse

from integrations import services
from integrations.engine.tokens import store_tokens
from integrations.flows.order_records import store_order
from integrations.models import Connector, Entity, Integration, LogEntry, Reference, Task
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from tests.conftest import build_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(fortnox, settings) -> Integration:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    integration = build_integration(
        fortnox_url=fortnox.url, flow_settings={"freight_article": "FRAKT", "send_status_to_commerce": False}
    )
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox.issue_tokens("fortnox-client"))
    return integration


def pushed_order(ref: str, *, seed: int = 3) -> dict[str, Any]:
    """A realistic OrderRequest for articles the Fortnox simulator knows."""
    order = generate_order(random.Random(seed), order_ref=ref, catalogue=DEMO_CATALOGUE)
    return {key: value for key, value in order.items() if not key.startswith("_")}


def receive(integration: Integration, ref: str) -> Entity:
    entity, _ = store_order(
        integration=integration, source_id=ref, payload=pushed_order(ref), received_via="push", reference=ref
    )
    return entity


def run_order_task(integration: Integration, entity: Entity) -> Task:
    task = services.create_task(
        integration=integration,
        flow=integration.flows.get(),
        trigger=Task.Trigger.ORDER_PUSH,
        params={"entity_ids": [entity.pk]},
    )
    services.execute_task(task.pk)
    return task


def run_queued(integration: Integration) -> list[Task]:
    done = []
    for task in Task.objects.filter(integration=integration, status=Task.Status.QUEUED).order_by("pk"):
        services.execute_task(task.pk)
        task.refresh_from_db()
        done.append(task)
    return done


def invoices_for(fortnox: FortnoxSimulator, ref: str) -> list[dict[str, Any]]:
    with fortnox.lock:
        return sorted(
            (dict(i) for i in fortnox.invoices.values() if i.get("ExternalInvoiceReference1") == ref),
            key=lambda i: int(i["DocumentNumber"]),
        )


def invoice_lookups(fortnox: FortnoxSimulator) -> int:
    return len([c for c in fortnox.calls("GET") if c[2].split("?")[0] == "/3/invoices"])


def invoiced(integration: Integration, ref: str) -> Entity:
    entity = Entity.objects.get(integration=integration, data_type="order", source_id=ref)
    assert entity.status == Entity.Status.SYNCED, (entity.status, entity.last_error_message)
    return entity


def delete_reference_in_admin(client, integration: Integration, ref: str) -> Reference:
    reference = Reference.objects.get(integration=integration, data_type="order", source_id=ref)
    url = reverse("admin:integrations_reference_delete", args=[reference.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    return reference


def press_retry(client, entity: Entity) -> None:
    response = client.post(reverse("admin:integrations_entity_retry", args=[entity.pk]))
    assert response.status_code == 302


def fortnox_action(fortnox: FortnoxSimulator, number: str, action: str) -> None:
    token = fortnox.issue_tokens("fortnox-client")["access_token"]
    response = requests.put(
        f"{fortnox.url}/3/invoices/{number}/{action}",
        timeout=5,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert response.status_code == 200, response.text


# -- the failing scenario: order had invoice 1, reference deleted, "Retry this record" ----------------


def test_retry_after_a_deleted_reference_relinks_the_live_invoice_and_creates_none(
    world, fortnox, admin_client, admin_user
):
    entity = receive(world, "700001")
    before = invoice_lookups(fortnox)
    run_order_task(world, entity)
    (first,) = invoices_for(fortnox, "700001")
    # A brand-new order costs no invoice lookup: one POST is all.
    assert invoice_lookups(fortnox) == before

    delete_reference_in_admin(admin_client, world, "700001")
    press_retry(admin_client, entity)
    run_queued(world)

    assert [i["DocumentNumber"] for i in invoices_for(fortnox, "700001")] == [first["DocumentNumber"]]
    entity = invoiced(world, "700001")
    assert entity.target_id == first["DocumentNumber"]
    reference = Reference.objects.get(integration=world, data_type="order", source_id="700001")
    assert (reference.target_id, reference.origin) == (first["DocumentNumber"], Reference.Origin.LOOKUP)
    relinked = LogEntry.objects.get(entity=entity, code="order.relinked")
    assert first["DocumentNumber"] in relinked.message

    # The timeline names who deleted the reference and who pressed retry.
    name = admin_user.get_username()
    assert LogEntry.objects.get(entity=entity, code="reference.deleted").actor == name
    assert LogEntry.objects.get(entity=entity, code="staff.action").actor == name
    page = admin_client.get(reverse("admin:integrations_entity_change", args=[entity.pk])).content.decode()
    assert "<th>By</th>" in page and f"<td>{name}</td>" in page
    assert "order.relinked" in page and "reference.deleted" in page


def test_with_look_up_new_orders_a_brand_new_order_whose_invoice_exists_is_linked_not_created(world, fortnox):
    entity = receive(world, "700009")
    run_order_task(world, entity)
    (existing,) = invoices_for(fortnox, "700009")
    # As after a move from another integration: Fortnox has the invoice, Brygga knows nothing of it.
    Reference.objects.filter(integration=world, source_id="700009").delete()
    LogEntry.objects.filter(integration=world).delete()
    entity.delete()
    flow = world.flows.get()
    flow.settings = {**flow.settings, "look_up_new_orders": True}
    flow.save()

    fresh = receive(world, "700009")
    before = invoice_lookups(fortnox)
    run_order_task(world, fresh)

    assert invoice_lookups(fortnox) > before
    assert [i["DocumentNumber"] for i in invoices_for(fortnox, "700009")] == [existing["DocumentNumber"]]
    assert invoiced(world, "700009").target_id == existing["DocumentNumber"]
    assert LogEntry.objects.filter(entity=fresh, code="order.relinked").exists()


@pytest.mark.parametrize("undo", ["cancel", "credit"])
def test_a_cancelled_or_credited_invoice_is_not_relinked_a_new_one_is_created(world, fortnox, admin_client, undo):
    entity = receive(world, "700002")
    run_order_task(world, entity)
    (first,) = invoices_for(fortnox, "700002")
    if undo == "credit":
        fortnox_action(fortnox, first["DocumentNumber"], "bookkeep")
    fortnox_action(fortnox, first["DocumentNumber"], undo)

    delete_reference_in_admin(admin_client, world, "700002")
    press_retry(admin_client, entity)
    run_queued(world)

    entity = invoiced(world, "700002")
    documents = {i["DocumentNumber"]: i for i in invoices_for(fortnox, "700002")}
    live = [
        n
        for n, i in documents.items()
        if not i["Cancelled"] and i["Credit"] != "true" and i["CreditInvoiceReference"] in ("", "0")
    ]
    assert live == [entity.target_id] and entity.target_id != first["DocumentNumber"]
    assert not LogEntry.objects.filter(entity=entity, code="order.relinked").exists()


def test_create_anyway_names_the_live_invoice_and_pressing_twice_creates_one(world, fortnox, admin_client, admin_user):
    entity = receive(world, "700003")
    run_order_task(world, entity)
    (first,) = invoices_for(fortnox, "700003")
    url = reverse("admin:integrations_entity_create_anyway", args=[entity.pk])

    change = admin_client.get(reverse("admin:integrations_entity_change", args=[entity.pk])).content.decode()
    assert url in change and "Create a new invoice anyway" in change
    page = admin_client.get(url).content.decode()
    assert first["DocumentNumber"] in page and first["InvoiceDate"] in page and str(first["Total"]) in page
    assert not Task.objects.filter(integration=world, status=Task.Status.QUEUED).exists()  # a GET changes nothing

    form = {"superseded": [first["DocumentNumber"]]}
    assert admin_client.post(url, form).status_code == 302
    second = admin_client.post(url, form)
    assert "already requested" in " ".join(str(m) for m in get_messages(second.wsgi_request))
    assert Task.objects.filter(integration=world, status=Task.Status.QUEUED).count() == 1
    run_queued(world)

    documents = [i["DocumentNumber"] for i in invoices_for(fortnox, "700003")]
    entity = invoiced(world, "700003")
    assert len(documents) == 2 and entity.target_id == documents[1]
    request = LogEntry.objects.get(entity=entity, code="order.create_anyway")
    assert request.actor == admin_user.get_username() and first["DocumentNumber"] in request.message

    # Pressing once more after the new invoice exists is refused: the page showed invoice 1, not the new one.
    late = admin_client.post(url, form)
    assert f"now linked to invoice {documents[1]}" in " ".join(str(m) for m in get_messages(late.wsgi_request))
    run_queued(world)
    assert len(invoices_for(fortnox, "700003")) == 2

    # A later deleted reference re-links the new invoice, never the one staff left behind.
    delete_reference_in_admin(admin_client, world, "700003")
    press_retry(admin_client, entity)
    run_queued(world)
    assert invoiced(world, "700003").target_id == documents[1]
    assert len(invoices_for(fortnox, "700003")) == 2


def test_a_lost_answer_to_the_new_invoice_links_it_instead_of_creating_a_third(world, fortnox, admin_client):
    entity = receive(world, "700004")
    run_order_task(world, entity)
    (first,) = invoices_for(fortnox, "700004")
    url = reverse("admin:integrations_entity_create_anyway", args=[entity.pk])
    admin_client.post(url, {"superseded": [first["DocumentNumber"]]})
    # Fortnox creates the new invoice, but the answer never arrives (a 5xx after create). It commits
    # at once here, so the connector's commit wait may be 0 and the retry looks it up at once.
    erp = world.connectors.get(role=Connector.Role.ERP)
    erp.settings = {**erp.settings, "commit_wait_seconds": 0}
    erp.save()
    fortnox.fail_after_create = 1
    run_queued(world)
    assert len(invoices_for(fortnox, "700004")) == 2
    assert not Reference.objects.filter(integration=world, data_type="order", source_id="700004").exists()
    Task.objects.filter(integration=world, status=Task.Status.QUEUED).update(next_retry_at=None)
    run_queued(world)
    documents = [i["DocumentNumber"] for i in invoices_for(fortnox, "700004")]
    assert len(documents) == 2
    assert invoiced(world, "700004").target_id == documents[1]


def test_adding_a_reference_in_admin_is_on_the_timeline_with_the_staff_name(world, fortnox, admin_client, admin_user):
    entity = receive(world, "700005")
    response = admin_client.post(
        reverse("admin:integrations_reference_add"),
        {
            "integration": world.pk,
            "data_type": "order",
            "source_id": "700005",
            "target_id": "42",
            "note": "",
        },
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(entity=entity, code="reference.saved")
    assert entry.actor == admin_user.get_username() and "42" in entry.message


def test_a_bulk_reference_deletion_is_on_each_record_timeline_with_the_staff_name(
    world, fortnox, admin_client, admin_user
):
    entities = [receive(world, ref) for ref in ("700006", "700007")]
    for entity in entities:
        run_order_task(world, entity)
    references = Reference.objects.filter(integration=world, data_type="order", source_id__in=["700006", "700007"])
    response = admin_client.post(
        reverse("admin:integrations_reference_changelist"),
        {"action": "delete_selected", "_selected_action": [r.pk for r in references], "post": "yes"},
    )
    assert response.status_code == 302
    for entity in entities:
        entry = LogEntry.objects.get(entity=entity, code="reference.deleted")
        assert entry.actor == admin_user.get_username()
