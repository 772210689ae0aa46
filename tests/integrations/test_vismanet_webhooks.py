"""Visma.net's notifications at /vismanet/<integration>/notifications: authenticated by the
webhook secret (header, or the URL's token), read as a changed record, queued to its flows."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from django.test import Client

from integrations.demo import create_norce_erp_integration
from integrations.models import Connector, Flow, LogEntry, Merchant, Task, WebhookDelivery

SECRET = "visma-hook-secret-value"


def visma_integration():
    merchant = Merchant.objects.create(slug="nordljus", name="Nordljus AB")
    return create_norce_erp_integration(
        merchant=merchant,
        name="Webshop ↔ Visma.net",
        norce_url="http://127.0.0.1:9",
        norce_credentials={"client_id": "n", "client_secret": "s"},
        erp_system=Connector.System.VISMANET,
        erp_url="http://127.0.0.1:9",
        erp_settings={"tenant_id": "0b7c1f2e-9a35-4c1e-8f0e-3d2a1b4c5d6e"},
        erp_credentials={"client_id": "c", "client_secret": "s", "webhook_secret": SECRET},
    )


@pytest.fixture
def visma(db):
    integration = visma_integration()
    for kind in ("products_to_commerce", "stock_to_commerce", "order_life_to_commerce"):
        Flow.objects.create(integration=integration, kind=kind)
    return integration


def post(integration, body, *, query: str = "", **headers):
    return Client().post(
        f"/vismanet/{integration.pk}/notifications{query}",
        json.dumps(body),
        content_type="application/json",
        **headers,
    )


def notice(event: str, number: str, notification: str = "9f1c") -> dict:
    return {"notificationId": notification, "tenantId": "t", "event": event, "entity": "x", "id": number}


def test_an_inventory_item_notice_queues_the_item_for_products_and_stock(visma):
    response = post(visma, notice("InventoryItem.Updated", "TS-1001"), HTTP_X_WEBHOOK_TOKEN=SECRET)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    tasks = {t.flow.kind: t.params for t in Task.objects.filter(integration=visma)}
    assert tasks == {"products_to_commerce": {"keys": ["TS-1001"]}, "stock_to_commerce": {"keys": ["TS-1001"]}}
    assert WebhookDelivery.objects.get().kind == WebhookDelivery.Kind.ERP_NOTIFICATION


def test_a_shipment_notice_names_the_delivery_to_the_order_life_flow_and_a_replay_queues_nothing(visma):
    body = notice("Shipment.StatusChanged", "000042", "n-7")
    assert post(visma, body, query=f"?token={SECRET}").json()["status"] == "accepted"
    assert post(visma, body, query=f"?token={SECRET}").json()["status"] == "duplicate"
    task = Task.objects.get(integration=visma)
    assert task.flow.kind == "order_life_to_commerce" and task.params == {"event_keys": ["delivery:000042"]}
    # nothing of the secret is kept
    assert all(SECRET not in d.body for d in WebhookDelivery.objects.all())
    assert not LogEntry.objects.filter(message__contains=SECRET).exists()


def test_a_notice_without_the_secret_is_refused_and_logged(visma):
    for response in (
        post(visma, notice("Customer.Updated", "10001")),
        post(visma, notice("Customer.Updated", "10001"), HTTP_X_WEBHOOK_TOKEN="wrong"),
        post(visma, notice("Customer.Updated", "10001"), query="?token=wrong"),
    ):
        assert response.status_code == 401
    assert not Task.objects.exists()
    assert LogEntry.objects.filter(code="receiver.auth").count() == 3


def test_an_unreadable_notice_is_a_400_with_the_field_and_an_unknown_event_is_ignored(visma):
    refused = post(visma, {"event": "Shipment.StatusChanged"}, HTTP_X_WEBHOOK_TOKEN=SECRET)
    assert refused.status_code == 400 and "id" in refused.json()["error"]
    ignored = post(visma, notice("Supplier.Updated", "5"), HTTP_X_WEBHOOK_TOKEN=SECRET)
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert not Task.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_a_notice_arriving_at_once_queue_its_flows_once(live_server):
    """Visma.net may deliver a notice twice at the same moment: one copy is accepted, the other
    recorded as a duplicate, and the record's flows get one task each."""
    integration = visma_integration()
    Flow.objects.create(integration=integration, kind="order_life_to_commerce")
    url = f"{live_server.url}/vismanet/{integration.pk}/notifications?token={SECRET}"
    body = notice("Shipment.StatusChanged", "000077", "n-twice")
    start = threading.Barrier(4)
    answers: list[str] = []

    def deliver() -> None:
        start.wait()
        answers.append(requests.post(url, json=body, timeout=10).json()["status"])

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert Task.objects.filter(integration=integration).count() == 1
