"""The status API: token auth, numbers that match the database, filters, no secrets, a schema."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Connector, Entity, Integration, LogEntry, Reference, Task, TimeHistory
from tests.conftest import build_integration

ENDPOINTS = ("/api/v1/integrations/", "/api/v1/tasks/", "/api/v1/logs/", "/api/v1/references/")
SECRETS = ("norce-secret-value", "receiver-secret-value", "event-secret-value", "fortnox-secret-value",
           "fortnox-access-token-value", "fortnox-refresh-token-value")


@pytest.fixture
def api(db) -> APIClient:
    user = get_user_model().objects.create_user("monitor", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def make_entities(integration: Integration, **counts: int) -> None:
    for status, count in counts.items():
        for n in range(count):
            Entity.objects.create(integration=integration, data_type="order", source_id=f"{status}-{n}",
                                  reference=f"{status}-{n}", status=status)


@pytest.fixture
def world(db) -> Integration:
    integration = build_integration()
    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    fortnox.tokens = {"access_token": "fortnox-access-token-value", "refresh_token": "fortnox-refresh-token-value"}
    fortnox.token_expires_at = timezone.now() + timedelta(hours=1)
    fortnox.save()
    flow = integration.flows.get()
    now = timezone.now()
    two_hours_ago = now - timedelta(hours=2)
    Task.objects.create(integration=integration, flow=flow, trigger=Task.Trigger.SCHEDULE,
                        status=Task.Status.SUCCEEDED, created_at=two_hours_ago,
                        started_at=two_hours_ago, finished_at=two_hours_ago + timedelta(seconds=5))
    failed = Task.objects.create(integration=integration, flow=flow, trigger=Task.Trigger.WEBHOOK,
                                 status=Task.Status.FAILED, created_at=now - timedelta(minutes=5),
                                 started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=4),
                                 error_code="http.client_error")
    make_entities(integration, pending=2, failed=1, needs_attention=3, synced=4, skipped=1)
    Entity.objects.create(integration=integration, data_type="order_customer", source_id="c1", status="pending")
    TimeHistory.objects.create(integration=integration, data_type="order", direction="commerce_to_erp",
                               last_loaded_at=now - timedelta(hours=3))
    LogEntry.objects.create(integration=integration, task=failed, level=LogEntry.Level.ERROR, code="http.client_error",
                            reference="100234", data_type="order", message="Fortnox said no", hint="Fix it")
    LogEntry.objects.create(integration=integration, task=failed, level=LogEntry.Level.INFO, message="started")
    Reference.objects.create(integration=integration, data_type="order", source_id="S-1", target_id="701")
    Reference.objects.create(integration=integration, data_type="order_customer", source_id="anna@example.com",
                             target_id="12")
    return integration


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_requires_a_token(db, url):
    response = APIClient().get(url)
    assert response.status_code in (401, 403)
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.get(url).status_code in (401, 403)


@pytest.mark.parametrize("url", ENDPOINTS)
def test_answers_with_a_token(api, world, url):
    body = api.get(url).json()
    assert body["count"] >= 1 and "results" in body


def test_integration_numbers_match_the_database(api, world):
    [item] = results(api.get("/api/v1/integrations/"))
    assert item["id"] == world.pk
    assert item["merchant"]["slug"] == "demo-shop"
    assert {c["system"] for c in item["connectors"]} == {"norce", "fortnox"}
    [flow] = item["flows"]
    db_flow = world.flows.get()
    last_task = Task.objects.filter(flow=db_flow).order_by("-created_at").first()
    last_success = Task.objects.get(flow=db_flow, status=Task.Status.SUCCEEDED)
    orders = Entity.objects.filter(integration=world, data_type="order")
    cursor = TimeHistory.objects.get(integration=world, data_type="order")

    assert flow["id"] == db_flow.pk and flow["kind"] == "orders_to_erp" and flow["enabled"] is True
    assert flow["label"] == "Orders → ERP invoices"
    assert flow["last_run_status"] == last_task.status == "failed"
    assert flow["last_run_task"] == last_task.pk
    assert parse(flow["last_run_at"]) == last_task.started_at
    assert parse(flow["last_success_at"]) == last_success.finished_at
    assert flow["backlog"] == orders.filter(status__in=["pending", "failed"]).count() == 3
    assert flow["failures"] == orders.filter(status="needs_attention").count() == 3
    assert parse(flow["cursor"]) == cursor.last_loaded_at
    expected = (timezone.now() - last_success.finished_at).total_seconds()
    assert abs(flow["staleness_seconds"] - expected) < 60


def parse(value: str):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(value)


def test_integration_detail_has_the_same_flows(api, world):
    listed = results(api.get("/api/v1/integrations/"))[0]
    detail = api.get(f"/api/v1/integrations/{world.pk}/").json()
    assert detail["flows"][0]["backlog"] == listed["flows"][0]["backlog"]
    assert detail["flows"][0]["last_run_task"] == listed["flows"][0]["last_run_task"]


def test_a_flow_that_never_ran(api, db):
    build_integration()
    [flow] = results(api.get("/api/v1/integrations/"))[0]["flows"]
    assert flow["last_run_at"] is None and flow["last_success_at"] is None and flow["staleness_seconds"] is None
    assert flow["backlog"] == 0 and flow["failures"] == 0 and flow["cursor"] is None


def test_task_filters(api, world):
    other = build_integration(name="Outlet")
    Task.objects.create(integration=other, flow=other.flows.get(), trigger=Task.Trigger.MANUAL)
    flow = world.flows.get()
    assert len(results(api.get("/api/v1/tasks/"))) == 3
    assert {t["integration"] for t in results(api.get("/api/v1/tasks/", {"integration": world.pk}))} == {world.pk}
    assert len(results(api.get("/api/v1/tasks/", {"flow": flow.pk}))) == 2
    [failed] = results(api.get("/api/v1/tasks/", {"status": "failed"}))
    assert failed["error_code"] == "http.client_error" and failed["flow_kind"] == "orders_to_erp"
    assert failed["duration_seconds"] == 60.0
    assert [t["trigger"] for t in results(api.get("/api/v1/tasks/", {"trigger": "manual"}))] == ["manual"]
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert len(results(api.get("/api/v1/tasks/", {"created_after": since}))) == 2


@pytest.mark.parametrize("params", [{"status": "exploded"}, {"integration": "x"}, {"created_after": "yesterday"}])
def test_bad_filter_values_answer_400(api, world, params):
    response = api.get("/api/v1/tasks/", params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()


def test_log_filters(api, world):
    task = Task.objects.get(status=Task.Status.FAILED)
    assert len(results(api.get("/api/v1/logs/", {"task": task.pk}))) == 2
    [error] = results(api.get("/api/v1/logs/", {"level": "error"}))
    assert error["code"] == "http.client_error" and error["hint"] == "Fix it" and error["task"] == task.pk
    assert len(results(api.get("/api/v1/logs/", {"code": "http.client_error", "integration": world.pk}))) == 1
    assert len(results(api.get("/api/v1/logs/", {"reference": "100234"}))) == 1
    assert results(api.get("/api/v1/logs/", {"reference": "999"})) == []


def test_reference_filters(api, world):
    assert len(results(api.get("/api/v1/references/", {"integration": world.pk}))) == 2
    [order] = results(api.get("/api/v1/references/", {"data_type": "order"}))
    assert order["source_id"] == "S-1" and order["target_id"] == "701" and order["origin"] == "sync"
    assert len(results(api.get("/api/v1/references/", {"source_id": "anna@example.com"}))) == 1
    assert len(results(api.get("/api/v1/references/", {"target_id": "701"}))) == 1


def test_pagination_uses_limit_and_offset(api, world):
    body = api.get("/api/v1/logs/", {"limit": 1}).json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]


def test_no_secret_or_token_in_any_response(api, world):
    pages = [*ENDPOINTS, f"/api/v1/integrations/{world.pk}/", "/api/v1/"]
    for url in pages:
        text = api.get(url).content.decode()
        for secret in SECRETS:
            assert secret not in text, (url, secret)
        assert "credentials" not in text and "refresh_token" not in text
    [item] = results(api.get("/api/v1/integrations/"))
    for connector in item["connectors"]:
        assert set(connector) == {"system", "role", "base_url", "last_test_ok", "last_test_at", "token_expires_at"}


def test_integration_list_query_count_does_not_grow(api, world):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/integrations/").status_code == 200
        return len(queries)

    few = count()
    for n in range(5):
        build_integration(name=f"Shop {n}")
    assert count() == few


def test_schema_is_an_openapi_document(api, db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/integrations/", "/api/v1/tasks/", "/api/v1/logs/", "/api/v1/references/"} <= set(schema["paths"])
    params = {p["name"] for p in schema["paths"]["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"integration", "flow", "status", "trigger", "created_after", "limit", "offset"} <= params
