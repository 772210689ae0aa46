"""After real syncs: every admin page loads with data, the status API tells the database's
numbers, and no secret appears in any page, API response or log line."""

from __future__ import annotations

import logging
import random

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from integrations.models import Connector, Entity, LogEntry, Reference, Task
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from tests.e2e.harness import wait_until
from tests.e2e.test_orders_to_invoices import wait_confirmed

pytestmark = pytest.mark.e2e

SECRETS = ["norce-secret-value", "receiver-secret-value", "event-secret-value", "fortnox-secret-value"]


@pytest.fixture
def synced(wired, norce, fortnox, cluster, live_server):
    """A few invoiced orders and one that needs attention, all through the real path."""
    norce.configure_events(f"{live_server.url}/norce/{wired.pk}/events", {"X-Brygga-Secret": "event-secret-value"})
    refs = [norce.place_order()["ClientOrderRef"] for _ in range(3)]
    norce.place_order(
        generate_order(random.Random(9), order_ref="900001", catalogue=DEMO_CATALOGUE, unknown_article_rate=1.0)
    )
    wait_confirmed(norce, refs)
    wait_until(
        lambda: Entity.objects.filter(source_id="900001", status=Entity.Status.NEEDS_ATTENTION).exists(),
        timeout=60,
        message="the bad order to need attention",
    )
    return wired


def secret_values(integration) -> list[str]:
    values = list(SECRETS)
    for connector in Connector.objects.filter(integration=integration):
        values += [v for k, v in connector.tokens.items() if k in ("access_token", "refresh_token") and v]
    assert len(values) >= 6  # both systems really hold tokens
    return values


def admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        urls.append(changelist)
        for obj in model_admin.get_queryset(_request()).all()[:3]:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    return urls


def _request():
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.filter(is_superuser=True).first()
    return request


def test_every_admin_page_loads_and_shows_no_secret(synced, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = secret_values(synced)
    urls = admin_urls()
    assert any("/integrations/entity/" in u and u.rstrip("/").split("/")[-2].isdigit() for u in urls)
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        for secret in secrets:
            assert secret not in page, f"secret shown on {url}"
    catalogue = admin_client.get(reverse("admin:integrations_error_catalogue")).content.decode()
    assert "fortnox.article_not_found" in catalogue
    for secret in secrets:
        assert secret not in caplog.text


def test_status_api_needs_a_token_and_reports_the_database(synced, admin_user):
    client = Client()
    assert client.get("/api/v1/integrations/").status_code in (401, 403)
    token = Token.objects.create(user=admin_user)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    body = client.get("/api/v1/integrations/", **auth).json()
    (integration,) = body["results"]
    (flow,) = integration["flows"]
    assert (
        flow["failures"] == Entity.objects.filter(data_type="order", status=Entity.Status.NEEDS_ATTENTION).count() == 1
    )
    assert (
        flow["backlog"]
        == Entity.objects.filter(data_type="order", status__in=[Entity.Status.PENDING, Entity.Status.FAILED]).count()
    )
    assert flow["last_run_status"] in {"succeeded", "partly_failed", "needs_attention"}
    tasks = client.get("/api/v1/tasks/", **auth).json()
    assert tasks["count"] == Task.objects.count()
    errors = client.get("/api/v1/logs/?level=error&reference=900001", **auth).json()
    assert errors["count"] == LogEntry.objects.filter(level="error", reference="900001").count() >= 1
    assert errors["results"][0]["code"] == "fortnox.article_not_found" and errors["results"][0]["hint"]
    refs = client.get("/api/v1/references/?data_type=order", **auth).json()
    assert refs["count"] == Reference.objects.filter(data_type="order").count() == 3
    secrets = secret_values(synced)
    for path in ("/api/v1/integrations/", "/api/v1/tasks/", "/api/v1/logs/", "/api/v1/references/", "/api/schema/"):
        text = client.get(path, **auth).content.decode()
        for secret in secrets:
            assert secret not in text, path


def test_the_cluster_log_holds_no_secret(synced, cluster):
    secrets = secret_values(synced)
    output = cluster.output()
    assert "Q Cluster" in output  # the cluster logs at DEBUG level in these tests
    for secret in secrets:
        assert secret not in output
