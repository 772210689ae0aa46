"""The webhook view serves every system's declared hooks at /<system>/<integration>/<hook>."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import resolve, reverse

from integrations import registry, webhooks
from integrations.models import Connector, LogEntry, Task, WebhookDelivery

FAKE_SHOP = "tests.integrations.fake_shop"


@pytest.fixture
def with_fake_shop(settings) -> None:
    settings.BRYGGA_CONNECTORS = [*settings.BRYGGA_CONNECTORS, FAKE_SHOP]


@pytest.fixture
def shop_integration(integration, with_fake_shop):
    integration.connectors.filter(role=Connector.Role.COMMERCE).update(
        system="fakeshop", credentials={"hook_token": "shop-token"}
    )
    return integration


def test_norce_declares_its_order_receiver_and_event_webhook():
    assert set(registry.system("norce").webhooks) == {"orders", "events"}


@pytest.mark.parametrize("name, hook", [("norce-order-receiver", "orders"), ("norce-events", "events")])
def test_the_norce_url_names_are_the_generic_route(name, hook):
    path = reverse(name, args=[7])
    assert (
        path == f"/norce/7/{hook}" == reverse("webhook", kwargs={"system": "norce", "integration_id": 7, "hook": hook})
    )
    match = resolve(path)
    assert match.func is webhooks.receive
    assert match.kwargs == {"system": "norce", "integration_id": 7, "hook": hook}


@pytest.mark.parametrize("path", ["/norce/1/order", "/norce/1/notices", "/nosuch/1/orders", "/fakeshop/1/notices"])
def test_an_undeclared_system_or_hook_answers_the_json_404(db, path):
    for response in (Client().post(path, data="{}", content_type="application/json"), Client().get(path)):
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "not found" and path in response.json()["reason"]
    assert not WebhookDelivery.objects.exists()


def notice(integration, body, **headers):
    headers.setdefault("HTTP_X_SHOP_TOKEN", "shop-token")
    return Client().post(
        f"/fakeshop/{integration.pk}/notices", json.dumps(body), content_type="application/json", **headers
    )


def test_another_systems_hook_stores_and_queues_what_it_read(shop_integration):
    response = notice(shop_integration, {"order": "S-1"})
    assert response.status_code == 200 and response.json() == {"result": "accepted"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ACCEPTED and delivery.reference == "S-1"
    assert Task.objects.get(integration=shop_integration).params == {"fetch_refs": ["S-1"]}
    assert notice(shop_integration, {"kind": "ping"}).json() == {"result": "ignored"}
    assert WebhookDelivery.objects.filter(outcome=WebhookDelivery.Outcome.IGNORED).count() == 1


def test_another_systems_hook_words_its_own_refusals(shop_integration):
    refused = notice(shop_integration, {"order": "S-2"}, HTTP_X_SHOP_TOKEN="wrong")
    assert refused.status_code == 401 and refused.json() == {"refused": "not authenticated", "status": 401}
    entry = LogEntry.objects.get(code="receiver.auth")
    assert entry.message.startswith("Fake shop notice refused: ")
    long_ref = notice(shop_integration, {"order": "S" * 101})
    assert long_ref.status_code == 400 and long_ref.json()["refused"] == "order: is longer than 100 characters"
    assert LogEntry.objects.filter(code="event.malformed", level=LogEntry.Level.WARNING).exists()
    assert Client().get(f"/fakeshop/{shop_integration.pk}/notices").json()["refused"] == "only POST is accepted"
    assert not Task.objects.exists()


def test_a_system_without_a_connector_on_the_integration_is_an_unknown_integration(integration, with_fake_shop):
    response = notice(integration, {"order": "S-3"})
    assert response.status_code == 404 and response.json() == {"refused": "unknown integration", "status": 404}


def test_a_notice_naming_a_changed_record_queues_each_enabled_flow_of_its_types_once(shop_integration):
    from integrations.models import Flow

    products = Flow.objects.create(integration=shop_integration, kind="products_to_commerce")
    Flow.objects.create(integration=shop_integration, kind="stock_to_commerce", enabled=False)
    body = {"changed": "SKU-7", "types": ["product", "price", "stock"], "id": "n-1"}
    assert notice(shop_integration, body).json() == {"result": "accepted"}
    task = Task.objects.get(integration=shop_integration)
    assert task.flow == products and task.params == {"keys": ["SKU-7"]} and task.trigger == Task.Trigger.WEBHOOK
    # the sender delivers the same notice again: kept as a duplicate, nothing queued
    assert notice(shop_integration, body).json() == {"result": "duplicate"}
    # a new notice about the same record is a new change
    assert notice(shop_integration, {**body, "id": "n-2"}).json() == {"result": "accepted"}
    assert Task.objects.filter(integration=shop_integration).count() == 2
    # no enabled flow reads customers: kept, acknowledged, ignored with the reason
    assert notice(shop_integration, {"changed": "C-1", "types": ["customer"], "id": "n-3"}).json() == {
        "result": "ignored"
    }
    ignored = WebhookDelivery.objects.get(outcome=WebhookDelivery.Outcome.IGNORED)
    assert ignored.reason == "no enabled flow reads customer"
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "accepted",
        "duplicate",
        "accepted",
        "ignored",
    ]
