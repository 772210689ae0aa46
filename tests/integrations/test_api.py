"""The status API: token auth, numbers that match the database, filters, no secrets, a schema."""

from __future__ import annotations

import json
from datetime import timedelta
from datetime import timezone as dt_timezone

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
SECRETS = (
    "norce-secret-value",
    "receiver-secret-value",
    "event-secret-value",
    "fortnox-secret-value",
    "fortnox-access-token-value",
    "fortnox-refresh-token-value",
)


@pytest.fixture
def api(db) -> APIClient:
    user = get_user_model().objects.create_user("monitor", password="x", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def make_entities(integration: Integration, **counts: int) -> None:
    for status, count in counts.items():
        for n in range(count):
            Entity.objects.create(
                integration=integration,
                data_type="order",
                source_id=f"{status}-{n}",
                reference=f"{status}-{n}",
                status=status,
            )


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
    Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=Task.Trigger.SCHEDULE,
        status=Task.Status.SUCCEEDED,
        created_at=two_hours_ago,
        started_at=two_hours_ago,
        finished_at=two_hours_ago + timedelta(seconds=5),
    )
    failed = Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=Task.Trigger.WEBHOOK,
        status=Task.Status.FAILED,
        created_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=4),
        error_code="http.client_error",
    )
    make_entities(integration, pending=2, failed=1, needs_attention=3, synced=4, skipped=1)
    Entity.objects.create(integration=integration, data_type="order_customer", source_id="c1", status="pending")
    TimeHistory.objects.create(
        integration=integration, data_type="order", direction="commerce_to_erp", last_loaded_at=now - timedelta(hours=3)
    )
    LogEntry.objects.create(
        integration=integration,
        task=failed,
        level=LogEntry.Level.ERROR,
        code="http.client_error",
        reference="100234",
        data_type="order",
        message="Fortnox said no",
        hint="Fix it",
    )
    LogEntry.objects.create(integration=integration, task=failed, level=LogEntry.Level.INFO, message="started")
    Reference.objects.create(integration=integration, data_type="order", source_id="S-1", target_id="701")
    Reference.objects.create(
        integration=integration, data_type="order_customer", source_id="anna@example.com", target_id="12"
    )
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


@pytest.mark.parametrize(
    "params",
    [
        {"status": "exploded"},
        {"integration": "x"},
        {"created_after": "yesterday"},
        {"created_after": "2025-02-30"},
        {"created_before": "2025-01-01T00:00:00+24:00"},
        {"created_after": "2025-01-01T25:00"},
        {"created_after": "9999-12-31T23:00:00-05:00"},
        {"created_after": "２０２５-01-01"},
        {"integration": "١"},
        {"flow": "-1"},
        {"integration": " 1"},
        {"integration": "9223372036854775808"},
        {"integration": "99999999999999999999"},
        {"integration": ""},
        {"status": ""},
        {"trigger": "AAA"},
        {"flow_kind": "orders\x00"},
        {"limit": "0"},
        {"limit": "501"},
        {"limit": str(2**64)},
        {"limit": "x"},
        {"offset": "-1"},
        {"offset": str(2**63)},
        {"stauts": "failed"},
        {"": "false"},
        {"flow": "0" * 5000 + "x"},
        {"flow": "0"},
    ],
)
def test_bad_filter_values_answer_400(api, world, params):
    response = api.get("/api/v1/tasks/", params)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert next(iter(params)) in response.json()


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/logs/", {"task": "null"}),
        ("/api/v1/logs/", {"code": "a\x00b"}),
        ("/api/v1/logs/", {"level": "AAA"}),
        ("/api/v1/references/", {"origin": "AAA"}),
        ("/api/v1/integrations/", {"status": "AAA"}),
        ("/api/v1/integrations/", {"merchant": "\x00"}),
        ("/api/v1/connect-jobs/", {"status": "AAA"}),
        ("/api/v1/connect-jobs/", {"job_id": "1\x00"}),
        ("/api/v1/references/", {"source_id": "\x00"}),
        ("/api/v1/logs/", {"created_after": "2025-02-29"}),
    ],
)
def test_bad_values_answer_400_on_every_list(api, world, url, params):
    response = api.get(url, params)
    assert response.status_code == 400, response.content
    assert next(iter(params)) in response.json()


def test_an_offset_beyond_what_postgresql_takes_names_the_same_moment(api, world):
    # +20:00 is a valid ISO 8601 offset that PostgreSQL would refuse in a literal (it stops at ±15:59).
    far_east, far_west = dt_timezone(timedelta(hours=20)), dt_timezone(-timedelta(hours=23, minutes=59))
    hour_ago = timezone.now() - timedelta(hours=1)
    [recent] = results(api.get("/api/v1/tasks/", {"created_after": hour_ago.astimezone(far_east).isoformat()}))
    assert recent["status"] == "failed"
    [older] = results(api.get("/api/v1/tasks/", {"created_before": hour_ago.astimezone(far_west).isoformat()}))
    assert older["status"] == "succeeded"


def test_pages_are_at_most_500_and_a_far_offset_is_an_empty_page(api, world):
    assert api.get("/api/v1/logs/", {"limit": 500}).status_code == 200
    assert api.get("/api/v1/logs/", {"limit": 501}).status_code == 400
    assert len(results(api.get("/api/v1/logs/", {"limit": "0" * 5000 + "1"}))) == 1
    far = api.get("/api/v1/logs/", {"offset": "99999999999999999"})
    assert far.status_code == 200 and far.json()["results"] == [] and far.json()["count"] == 2
    assert results(api.get("/api/v1/logs/", {"offset": 1, "limit": 1}))[0]["message"] == "Fortnox said no"


def test_a_non_staff_token_is_forbidden(world):
    user = get_user_model().objects.create_user("shop-owner", password="x")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    for url in (*ENDPOINTS, "/api/v1/connect-jobs/", f"/api/v1/integrations/{world.pk}/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "staff" in response.json()["detail"]
        assert "anna@example.com" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("get", "/api/v1/nothing-here/", 404),
        ("get", "/api/nothing/", 404),
        ("post", "/api/v1/nope/", 404),
        ("get", "/api/v1/tasks/999999/", 404),
        ("get", "/api/v1/tasks/null/", 404),
        ("get", "/api/v1/tasks/١/", 404),
        ("get", "/api/v1/tasks/99999999999999999999/", 404),
        ("post", "/api/v1/tasks/", 405),
        ("delete", "/api/v1/references/1/", 405),
        ("get", "/api/v1/tasks/?format=api", 404),
    ],
)
def test_every_error_is_a_json_reason(api, world, method, url, status):
    response = getattr(api, method)(url)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_unauthenticated_answers_are_json(db):
    for client_headers in ({}, {"HTTP_AUTHORIZATION": "Token not-a-token"}):
        response = APIClient().get("/api/v1/tasks/", **client_headers)
        assert response.status_code == 401 and response["Content-Type"] == "application/json"
        assert response.json()["detail"]
    # a path without its slash is redirected to the slashed one, which answers JSON too
    assert APIClient().get("/api/v1/tasks", follow=True).status_code == 401


def test_docs_are_served_without_a_cdn(db):
    for url in ("/api/docs/", "/api/redoc/"):
        response = APIClient().get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "/static/drf_spectacular_sidecar/" in page and "cdn.jsdelivr.net" not in page, url
        assert "/api/schema/" in page


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
        assert set(connector) == {
            "system",
            "role",
            "base_url",
            "last_test_ok",
            "last_test_at",
            "token_expires_at",
            "needs_reconnect",
            "reconnect_needed_at",
            "reconnect_reason",
        }


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
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/tasks/"]["get"]["parameters"]}
    assert {"integration", "flow", "status", "trigger", "created_after", "limit", "offset"} <= set(params)
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert params["integration"]["type"] == "integer" and params["integration"]["maximum"] == 2**63 - 1
    assert params["created_after"] == {"type": "string", "format": "date-time"}
    assert params["flow_kind"]["pattern"] == "^[^\\x00]*$"
    assert "AAA" not in params["trigger"]["enum"] and "manual" in params["trigger"]["enum"]
    responses = schema["paths"]["/api/v1/tasks/"]["get"]["responses"]
    assert {"200", "400", "401", "403", "404"} <= set(responses)
