"""The Norce order receiver and event webhook: durable first, idempotent, clear refusals."""
from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from integrations.models import Entity, LogEntry, Reference, Task, WebhookDelivery


def order_request(ref: str = "700123", **overrides) -> dict:
    body = {
        "Header": {"ApplicationKey": "15d62d1f-3a4e-4111-845a-4db40bf08e87"},
        "ClientOrderRef": ref, "SubmitDate": "2026-11-20T09:59:12", "CurrencyCode": "SEK", "OrderType": 1,
        "Source": "WEB",
        "BillTo": {"Person": {"FirstName": "Anna", "LastName": "Svensson", "Email": "anna@example.se",
                              "Address": {"Line1": "Storgatan 1", "ZipCode": "11122", "City": "Stockholm", "Country": "SE"}}},
        "Items": [
            {"LineNo": 1, "Type": "ErpStandard", "TypeGroup": "Physical", "PartNo": "1000-42", "Description": "Löparsko",
             "Quantity": 1, "UnitPrice": 799.20, "UnitVat": 199.80, "VatRate": 25},
            {"LineNo": 2, "Type": "Freight", "TypeGroup": "Fee", "PartNo": "FRAKT", "Description": "Frakt",
             "Quantity": 1, "UnitPrice": 39.20, "UnitVat": 9.80, "VatRate": 25},
        ],
    }
    body.update(overrides)
    return body


def camel(value):
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


@pytest.fixture
def push(integration):
    client = Client()
    auth = "Basic " + base64.b64encode(b"norce:receiver-secret-value").decode()

    def _push(body, *, authorization=auth, raw=None):
        data = raw if raw is not None else json.dumps(body)
        return client.post(f"/norce/{integration.pk}/orders", data=data, content_type="application/json",
                           HTTP_AUTHORIZATION=authorization)
    return _push


def test_push_stores_the_order_and_queues_one_task(integration, push, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = push(order_request())
    assert response.status_code == 200
    assert response.json()["StatusCode"] == "OK"
    entity = Entity.objects.get(integration=integration, data_type="order", source_id="700123")
    assert entity.received_via == "push" and entity.payload["ClientOrderRef"] == "700123"
    assert entity.label == "Anna Svensson"
    task = Task.objects.get(integration=integration)
    assert task.trigger == Task.Trigger.ORDER_PUSH and task.params == {"entity_ids": [entity.pk]}
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.ACCEPTED


def test_a_repeated_push_answers_ok_and_queues_nothing_new(integration, push):
    push(order_request())
    again = push(camel(order_request()))  # Norce may render property names in camelCase
    assert again.status_code == 200 and again.json()["StatusCode"] == "OK"
    assert Entity.objects.filter(data_type="order").count() == 1
    assert Task.objects.count() == 1
    assert list(WebhookDelivery.objects.order_by("received_at").values_list("outcome", flat=True)) == ["accepted", "duplicate"]


def test_a_push_for_an_invoiced_order_names_the_invoice_but_not_as_erp_order_no(integration, push):
    push(order_request())
    Entity.objects.filter(source_id="700123").update(status=Entity.Status.SYNCED, target_id="1042")
    body = push(order_request()).json()
    assert body["StatusCode"] == "OK" and "1042" in body["Description"]
    assert not body["HasErpOrderNo"]


def test_enum_integers_and_lowercase_names_are_read(integration, push):
    body = order_request("700124")
    body["Items"][1]["Type"] = 3  # Freight as integer
    body = {k.lower(): v for k, v in body.items()}
    assert push(body).status_code == 200
    assert Entity.objects.filter(source_id="700124").exists()


@pytest.mark.parametrize("raw, needle", [
    ("{not json", "JSON"),
    (json.dumps([1, 2]), "JSON object"),
    (json.dumps({"Items": []}), "ClientOrderRef"),
])
def test_an_unusable_body_gets_400_with_a_reason_and_is_kept(integration, push, raw, needle):
    response = push(None, raw=raw)
    assert response.status_code == 400
    reason = response.json()["Description"]
    assert reason and needle in reason
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED and delivery.body == raw
    assert LogEntry.objects.filter(code="order.malformed", level=LogEntry.Level.ERROR).exists()
    assert not Task.objects.exists()


def test_wrong_basic_auth_is_refused(integration, push):
    bad = "Basic " + base64.b64encode(b"norce:wrong").decode()
    assert push(order_request(), authorization=bad).status_code == 401
    assert push(order_request(), authorization="").status_code == 401
    assert not Entity.objects.exists()


def test_event_queues_a_fetch_once_and_needs_the_secret(integration, push):
    client = Client()
    url = f"/norce/{integration.pk}/events"
    event = {"ClientId": 1234, "ApplicationId": 1244, "ClientOrderRef": "700200", "Source": "WEB"}
    assert client.post(url, json.dumps(event), content_type="application/json").status_code == 401
    ok = client.post(url, json.dumps(event), content_type="application/json", HTTP_X_BRYGGA_SECRET="event-secret-value")
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    assert Task.objects.get().params == {"fetch_refs": ["700200"]}
    # An event for an order the push already delivered queues nothing.
    push(order_request("700201"))
    dup = client.post(url, json.dumps({**event, "ClientOrderRef": "700201"}), content_type="application/json",
                      HTTP_X_BRYGGA_SECRET="event-secret-value")
    assert dup.json()["status"] == "duplicate"
    assert Task.objects.count() == 2


def test_other_events_are_acknowledged_and_ignored(integration):
    response = Client().post(f"/norce/{integration.pk}/events", json.dumps({"JobId": 5, "StatusId": 2}),
                             content_type="application/json", HTTP_X_BRYGGA_SECRET="event-secret-value")
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED
    assert not Reference.objects.exists()
