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
        "ClientOrderRef": ref,
        "SubmitDate": "2026-11-20T09:59:12",
        "CurrencyCode": "SEK",
        "OrderType": 1,
        "Source": "WEB",
        "BillTo": {
            "Person": {
                "FirstName": "Anna",
                "LastName": "Svensson",
                "Email": "anna@example.se",
                "Address": {"Line1": "Storgatan 1", "ZipCode": "11122", "City": "Stockholm", "Country": "SE"},
            }
        },
        "Items": [
            {
                "LineNo": 1,
                "Type": "ErpStandard",
                "TypeGroup": "Physical",
                "PartNo": "1000-42",
                "Description": "Löparsko",
                "Quantity": 1,
                "UnitPrice": 799.20,
                "UnitVat": 199.80,
                "VatRate": 25,
            },
            {
                "LineNo": 2,
                "Type": "Freight",
                "TypeGroup": "Fee",
                "PartNo": "FRAKT",
                "Description": "Frakt",
                "Quantity": 1,
                "UnitPrice": 39.20,
                "UnitVat": 9.80,
                "VatRate": 25,
            },
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
        return client.post(
            f"/norce/{integration.pk}/orders",
            data=data,
            content_type="application/json",
            HTTP_AUTHORIZATION=authorization,
        )

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
    assert list(WebhookDelivery.objects.order_by("received_at").values_list("outcome", flat=True)) == [
        "accepted",
        "duplicate",
    ]


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


@pytest.mark.parametrize(
    "raw, needle",
    [
        ("{not json", "JSON"),
        (json.dumps([1, 2]), "JSON object"),
        (json.dumps({"Items": []}), "ClientOrderRef"),
    ],
)
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
    dup = client.post(
        url,
        json.dumps({**event, "ClientOrderRef": "700201"}),
        content_type="application/json",
        HTTP_X_BRYGGA_SECRET="event-secret-value",
    )
    assert dup.json()["status"] == "duplicate"
    assert Task.objects.count() == 2


def test_other_events_are_acknowledged_and_ignored(integration):
    response = Client().post(
        f"/norce/{integration.pk}/events",
        json.dumps({"JobId": 5, "StatusId": 2}),
        content_type="application/json",
        HTTP_X_BRYGGA_SECRET="event-secret-value",
    )
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED
    assert not Reference.objects.exists()


# --- Bad input: every request gets a 4xx with a JSON reason, is kept and logged; nothing 500s ----------


def test_an_order_with_nul_in_the_buyer_note_and_address_is_stored(integration, push):
    body = order_request("700300", CustomerOrderComment="Ring på\u0000dörren")
    body["BillTo"]["Person"]["Address"]["Line1"] = "Storgatan\u0000 1"
    raw = json.dumps(body)
    assert "\\u0000" in raw
    response = push(None, raw=raw)
    assert response.status_code == 200 and response.json()["StatusCode"] == "OK"
    entity = Entity.objects.get(source_id="700300")
    assert entity.payload["CustomerOrderComment"] == "Ring pådörren"
    assert entity.payload["BillTo"]["Person"]["Address"]["Line1"] == "Storgatan 1"
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ACCEPTED and delivery.entity == entity
    assert bytes(delivery.raw_body) == raw.encode()
    assert "NUL" in delivery.reason
    assert Task.objects.get().params == {"entity_ids": [entity.pk]}


def test_an_order_with_a_lone_surrogate_is_stored(integration, push):
    raw = json.dumps(order_request("700301", CustomerOrderComment="\ud83d half an emoji"))
    assert push(None, raw=raw).status_code == 200
    assert Entity.objects.get(source_id="700301").payload["CustomerOrderComment"] == "\ufffd half an emoji"


@pytest.mark.parametrize(
    "raw, needle",
    [
        ('{"ClientOrderRef": "700302", "Items": [], "Total": NaN}', "NaN"),
        ('{"ClientOrderRef": "700302", "Items": [], "Total": -Infinity}', "Infinity"),
        ('{"ClientOrderRef": "700302", "Items": [], "Total": 1e400}', "too large"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"a":' * 200 + "1" + "}" * 200, "nested too deeply"),
        ('{"ClientOrderRef": "7003\x0002"}', "JSON"),  # a raw NUL byte: not JSON, and not storable as text
        ("\x00\x00\x00", "JSON"),
    ],
    ids=["nan", "infinity", "1e400", "deep-lists", "deep-objects", "nul-byte-in-string", "nul-bytes"],
)
def test_unusable_numbers_nesting_and_nul_bytes_get_400_and_are_kept(integration, push, raw, needle):
    response = push(None, raw=raw)
    assert response.status_code == 400
    assert needle in response.json()["Description"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED
    assert bytes(delivery.raw_body) == raw.encode()
    assert "\x00" not in delivery.body
    assert LogEntry.objects.filter(code="order.malformed").count() == 1
    assert not Entity.objects.exists()


def test_an_order_reference_longer_than_the_column_is_refused_with_a_reason(integration, push):
    response = push(order_request("7" * 101))
    assert response.status_code == 400 and "longer than 100" in response.json()["Description"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED and len(delivery.reference) <= 100
    assert LogEntry.objects.filter(code="order.malformed").exists()
    assert not Entity.objects.exists()


def test_a_body_between_djangos_and_the_receivers_limit_is_accepted(integration, push):
    from integrations.inbound import MAX_BODY

    comment = "x" * (3 * 1024 * 1024)  # over Django's default 2.5 MB, under the receiver's 5 MB
    response = push(order_request("700303", CustomerOrderComment=comment))
    assert response.status_code == 200
    assert len(Entity.objects.get(source_id="700303").payload["CustomerOrderComment"]) == len(comment) < MAX_BODY


def test_a_body_over_the_receivers_limit_gets_413_and_its_start_is_kept(integration, push):
    from integrations.inbound import MAX_BODY

    response = push(order_request("700304", CustomerOrderComment="x" * MAX_BODY))
    assert response.status_code == 413 and str(MAX_BODY) in response.json()["Description"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED and len(bytes(delivery.raw_body)) == MAX_BODY
    assert LogEntry.objects.filter(code="order.malformed").exists()
    assert not Entity.objects.exists()


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"norce:wrong").decode(),
        "",
        "Basic " + base64.b64encode("nörce:lösenord".encode()).decode(),
        "Basic nörce:lösenord",
        "Basic ===",
        "Bearer receiver-secret-value",
    ],
)
def test_refused_basic_auth_is_logged_without_secrets(integration, push, authorization):
    response = push(order_request(), authorization=authorization)
    assert response.status_code == 401 and response.json()["Description"] == "Authentication failed"
    entry = LogEntry.objects.get(code="receiver.auth")
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED
    for text in (entry.message, entry.hint, delivery.body, delivery.reason):
        assert "receiver-secret-value" not in text and "wrong" not in text and "lösenord" not in text
    assert not Entity.objects.exists()


def test_non_ascii_basic_auth_matches_a_non_ascii_password(integration, push):
    connector = integration.connectors.get(role="commerce")
    connector.credentials = {**connector.credentials, "receiver_password": "hemlig-lösen"}
    connector.save()
    good = "Basic " + base64.b64encode("norce:hemlig-lösen".encode()).decode()
    assert push(order_request(), authorization=good).status_code == 200


def test_only_post_is_accepted_with_a_json_reason(integration):
    response = Client().get(f"/norce/{integration.pk}/orders")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["StatusCode"] == "Failed"
    assert Client().get(f"/norce/{integration.pk}/events").json()["error"]


def event(client, integration, raw, **headers):
    headers.setdefault("HTTP_X_BRYGGA_SECRET", "event-secret-value")
    return client.post(f"/norce/{integration.pk}/events", raw, content_type="application/json", **headers)


@pytest.mark.parametrize("secret", [None, "wrong", "hemlig-nyckel-ö", "event-secret-value\u0000"])
def test_a_refused_event_is_logged_as_receiver_auth(integration, secret):
    headers = {} if secret is None else {"HTTP_X_BRYGGA_SECRET": secret}
    response = Client().post(
        f"/norce/{integration.pk}/events",
        json.dumps({"ClientOrderRef": "1"}),
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 401 and response.json()["error"]
    entry = LogEntry.objects.get(code="receiver.auth")
    assert "event-secret-value" not in entry.message
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.REJECTED


@pytest.mark.parametrize(
    "raw, status",
    [
        ('{"ClientOrderRef": "7\x0001"}', 400),
        ('{"ClientOrderRef": 1e400}', 400),
        ("[" * 50_000, 400),
        (json.dumps({"ClientOrderRef": "9" * 101}), 400),
        (json.dumps({"JobId": {"id": 1}}), 400),
    ],
    ids=["nul-byte", "1e400", "deep", "long-ref", "job-id-object"],
)
def test_unusable_events_get_400_with_a_reason_and_are_kept(integration, raw, status):
    response = event(Client(), integration, raw)
    assert response.status_code == status and response.json()["error"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED and bytes(delivery.raw_body) == raw.encode()
    assert LogEntry.objects.filter(code="event.malformed").exists()
    assert not Task.objects.exists()


def test_an_event_with_a_long_job_id_is_ignored_not_an_error(integration):
    response = event(Client(), integration, json.dumps({"JobId": "J" * 500}))
    assert response.status_code == 200 and response.json()["status"] == "ignored"
    assert len(WebhookDelivery.objects.get().reference) <= 100


def test_an_event_with_nul_in_its_reference_queues_the_cleaned_reference(integration):
    response = event(Client(), integration, json.dumps({"ClientOrderRef": "7002\u000002"}))
    assert response.status_code == 200
    assert Task.objects.get().params == {"fetch_refs": ["700202"]}


# --- The Fortnox OAuth callback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "state=forged&code=abc",
        "state=%00&code=%00",
        "state=" + "a" * 5000,
        "state=%ff%fe&code=%ff",
    ],
    ids=["none", "empty", "forged", "nul", "long", "not-utf8"],
)
def test_a_fortnox_callback_with_garbage_gets_a_readable_400(db, admin_client, query):
    browser = admin_client.get(f"/oauth/fortnox/callback?{query}", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*")
    assert browser.status_code == 400 and browser["Content-Type"].startswith("text/html")
    assert b"Fortnox connection failed" in browser.content
    other = admin_client.get(f"/oauth/fortnox/callback?{query}", HTTP_ACCEPT="*/*")
    assert other.status_code == 400 and other.json()["error"] == "Fortnox connection failed"
    assert other.json()["reason"]


def test_a_fortnox_callback_with_a_code_fortnox_cannot_have_issued_gets_400(integration, admin_client):
    from connectors.fortnox import oauth

    erp = integration.connectors.get(role="erp")
    state = oauth.make_state(erp.pk)
    response = admin_client.get("/oauth/fortnox/callback", {"state": state, "code": "abc\u0000def"})
    assert response.status_code == 400 and b"not one Fortnox issues" in response.content
    erp.refresh_from_db()
    assert not erp.tokens


@pytest.mark.parametrize("path", ["/norce/abc/orders", "/norce/1/order", "/oauth/fortnox", "/nowhere"])
def test_a_path_that_is_no_endpoint_answers_404_with_a_json_reason(db, path):
    response = Client().post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "/norce/<integration id>/orders" in response.json()["reason"]


def test_a_path_under_the_api_that_is_no_endpoint_answers_the_apis_json_404(db):
    response = Client().get("/api/v2/tasks/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_an_unknown_integration_gets_a_json_404(db):
    response = Client().post("/norce/999999/orders", data="{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["StatusCode"] != "OK"


def test_a_missing_admin_page_is_still_a_page_for_people(admin_client):
    response = admin_client.get("/admin/integrations/nowhere/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
