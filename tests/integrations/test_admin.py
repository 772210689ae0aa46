"""The admin screens: every page loads, secrets never show, forms validate, operations report back."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.messages import get_messages
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from core import errors
from integrations import registry, services
from integrations.models import (
    Connector,
    Entity,
    Flow,
    Integration,
    LogEntry,
    Merchant,
    Reference,
    ScheduleRule,
    Task,
    TimeHistory,
    WebhookDelivery,
)
from tests.conftest import build_integration

SECRETS = (
    "norce-secret-value",
    "receiver-secret-value",
    "event-secret-value",
    "fortnox-secret-value",
    "norce-access-token-value",
    "fortnox-access-token-value",
    "fortnox-refresh-token-value",
)

MODELS = (
    Merchant,
    Integration,
    Connector,
    Flow,
    ScheduleRule,
    TimeHistory,
    Task,
    LogEntry,
    Entity,
    Reference,
    WebhookDelivery,
)
ADDABLE = {Merchant, Integration, Connector, Flow, ScheduleRule, TimeHistory, Reference}


def admin_url(model: type, action: str, *args: object) -> str:
    return reverse(f"admin:integrations_{model._meta.model_name}_{action}", args=args)


def page_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_no_secrets(content: bytes) -> None:
    text = content.decode()
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked into the page"


def make_task(
    integration: Integration,
    flow: Flow,
    *,
    status: str = Task.Status.SUCCEEDED,
    reference: str = "",
    minutes_ago: int = 10,
) -> Task:
    created = timezone.now() - timedelta(minutes=minutes_ago)
    task = Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=Task.Trigger.SCHEDULE,
        status=status,
        created_at=created,
        started_at=created,
        finished_at=created + timedelta(seconds=3),
        count_total=2,
        count_succeeded=1,
        count_failed=1,
        attempts=1,
        error_code="order.missing_vat" if status != Task.Status.SUCCEEDED else "",
    )
    if reference:
        entity = Entity.objects.create(
            integration=integration,
            data_type="order",
            source_id=f"src-{reference}",
            reference=reference,
            label="Anna Andersson",
            status=Entity.Status.NEEDS_ATTENTION,
            last_error_code="order.missing_vat",
            payload={"OrderNo": reference, "note": "<script>alert(1)</script>"},
        )
        LogEntry.objects.create(
            integration=integration,
            task=task,
            entity=entity,
            flow=flow,
            level=LogEntry.Level.ERROR,
            data_type="order",
            reference=reference,
            code="order.missing_vat",
            message=f"Order {reference}: line 1 has no VAT rate",
            hint=errors.ORDER_MISSING_VAT.hint,
        )
        WebhookDelivery.objects.create(
            integration=integration,
            kind=WebhookDelivery.Kind.ORDER_PUSH,
            outcome=WebhookDelivery.Outcome.ACCEPTED,
            reference=reference,
            entity=entity,
            body=json.dumps({"OrderNo": reference}),
        )
    return task


@pytest.fixture
def world(db) -> Integration:
    integration = build_integration()
    norce = integration.connectors.get(system=Connector.System.NORCE)
    norce.tokens = {"access_token": "norce-access-token-value", "expires_at": timezone.now().isoformat()}
    norce.token_expires_at = timezone.now() + timedelta(hours=1)
    norce.save()
    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    fortnox.tokens = {"access_token": "fortnox-access-token-value", "refresh_token": "fortnox-refresh-token-value"}
    fortnox.token_expires_at = timezone.now() + timedelta(hours=1)
    fortnox.save()

    flow = integration.flows.get()
    make_task(integration, flow, status=Task.Status.SUCCEEDED, minutes_ago=30)
    failed = make_task(integration, flow, status=Task.Status.PARTLY_FAILED, reference="100234")
    Entity.objects.create(
        integration=integration,
        data_type="order",
        source_id="src-2",
        reference="100235",
        status=Entity.Status.SYNCED,
        target_id="5001",
    )
    Reference.objects.create(integration=integration, data_type="order", source_id="src-2", target_id="5001")
    WebhookDelivery.objects.create(
        integration=integration,
        kind=WebhookDelivery.Kind.NORCE_EVENT,
        outcome=WebhookDelivery.Outcome.REJECTED,
        reason="bad secret",
        body="not json <b>",
    )
    TimeHistory.objects.create(
        integration=integration,
        data_type="order",
        direction="commerce_to_erp",
        last_loaded_at=timezone.now() - timedelta(hours=1),
    )
    rule = ScheduleRule.objects.create(integration=integration, name="Every five minutes")
    rule.flows.add(flow)
    LogEntry.objects.create(integration=integration, task=failed, level=LogEntry.Level.INFO, message="started")
    return integration


# --- every page ----------------------------------------------------------------------


def test_every_admin_page_loads_and_shows_no_secret(admin_client, world):
    pages = [reverse("admin:index"), reverse("admin:integrations_error_catalogue")]
    for model in MODELS:
        pages.append(admin_url(model, "changelist"))
        pages.extend(admin_url(model, "change", pk) for pk in model.objects.values_list("pk", flat=True))
        if model in ADDABLE:
            pages.append(admin_url(model, "add"))
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_no_secrets(response.content)


def test_history_cannot_be_added_or_edited(admin_client, world):
    for model in (Task, LogEntry, Entity, WebhookDelivery):
        assert admin_client.get(admin_url(model, "add")).status_code == 403
    task = Task.objects.first()
    response = admin_client.post(admin_url(Task, "change", task.pk), {"status": "succeeded"})
    assert response.status_code == 403


def test_integration_page_shows_flow_status(admin_client, world):
    response = admin_client.get(admin_url(Integration, "change", world.pk))
    content = response.content.decode()
    assert "Orders → ERP invoices" in content
    assert "Partly failed" in content  # last run
    assert "status__exact=needs_attention" in content  # failures link
    assert "Norce Commerce → Fortnox" in admin_client.get(admin_url(Integration, "changelist")).content.decode()


def test_pause_and_activate_actions(admin_client, world):
    url = admin_url(Integration, "changelist")
    admin_client.post(url, {"action": "pause", "_selected_action": [world.pk]})
    assert Integration.objects.get(pk=world.pk).status == Integration.Status.PAUSED
    admin_client.post(url, {"action": "activate", "_selected_action": [world.pk]})
    assert Integration.objects.get(pk=world.pk).status == Integration.Status.ACTIVE


# --- connector -------------------------------------------------------------------


def connector_post(connector: Connector, **credentials: str) -> dict[str, str]:
    data = {
        "role": connector.role,
        "base_url": connector.base_url,
        "auth_url": connector.auth_url,
        "settings": json.dumps(connector.settings),
    }
    for key in ("client_id", "client_secret", "receiver_username", "receiver_password", "event_secret"):
        data[f"credential_{key}"] = credentials.get(key, "")
    return data


def test_connector_page_shows_credential_state_and_norce_addresses(admin_client, world, settings):
    settings.SITE_URL = "https://brygga.example.com"
    norce = world.connectors.get(system=Connector.System.NORCE)
    content = admin_client.get(admin_url(Connector, "change", norce.pk)).content.decode()
    assert "Currently set; leave empty to keep it." in content
    assert 'type="password"' in content
    assert f"https://brygga.example.com/norce/{world.pk}/orders" in content
    assert f"https://brygga.example.com/norce/{world.pk}/events" in content
    assert "access token expires at" in content

    fortnox = world.connectors.get(system=Connector.System.FORTNOX)
    content = admin_client.get(admin_url(Connector, "change", fortnox.pk)).content.decode()
    assert "receiver_password" not in content
    assert "Connect to Fortnox" in content
    assert "Connected; access token expires at" in content


def test_empty_credential_inputs_keep_the_stored_values(admin_client, world):
    norce = world.connectors.get(system=Connector.System.NORCE)
    before = dict(norce.credentials)
    response = admin_client.post(admin_url(Connector, "change", norce.pk), connector_post(norce))
    assert response.status_code == 302
    norce.refresh_from_db()
    assert norce.credentials == before


def test_norce_settings_are_checked_by_its_declared_schema_and_normalised(admin_client, world):
    norce = world.connectors.get(system=Connector.System.NORCE)
    before = dict(norce.settings)
    data = connector_post(norce)
    data["settings"] = json.dumps({**before, "application_id": "shop", "job_events": "yes"})
    response = admin_client.post(admin_url(Connector, "change", norce.pk), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert "application_id must be a whole number" in content and "job_events must be true or false" in content
    norce.refresh_from_db()
    assert norce.settings == before

    data["settings"] = json.dumps({**before, "application_id": "1300", "note": "kept"})
    assert admin_client.post(admin_url(Connector, "change", norce.pk), data).status_code == 302
    norce.refresh_from_db()
    assert norce.settings == {**before, "application_id": 1300, "note": "kept"}


def test_typed_credentials_replace_only_those_values(admin_client, world):
    norce = world.connectors.get(system=Connector.System.NORCE)
    response = admin_client.post(
        admin_url(Connector, "change", norce.pk), connector_post(norce, client_secret="rotated-secret")
    )
    assert response.status_code == 302
    norce.refresh_from_db()
    assert norce.credentials["client_secret"] == "rotated-secret"
    assert norce.credentials["receiver_password"] == "receiver-secret-value"
    assert "rotated-secret" not in admin_client.get(admin_url(Connector, "change", norce.pk)).content.decode()


def test_new_connector_keeps_only_its_systems_credentials(admin_client, db):
    integration = Integration.objects.create(merchant=Merchant.objects.create(name="B", slug="b"), name="Shop")
    data = {
        "integration": integration.pk,
        "system": "fortnox",
        "role": "erp",
        "base_url": "https://api.fortnox.se",
        "auth_url": "",
        "settings": "{}",
        "credential_client_id": "cid",
        "credential_client_secret": "csecret",
        "credential_receiver_password": "not-for-fortnox",
    }
    response = admin_client.post(admin_url(Connector, "add"), data)
    assert response.status_code == 302
    stored = Connector.objects.get(integration=integration).credentials
    assert stored == {"client_id": "cid", "client_secret": "csecret"}


def test_test_connection_button_and_action_report_the_outcome(admin_client, world, monkeypatch):
    calls = []

    def fake_test(connector_id: int) -> tuple[bool, str]:
        calls.append(connector_id)
        return False, "[auth.failed] 401 from the API"

    monkeypatch.setattr(services, "test_connection", fake_test)
    norce = world.connectors.get(system=Connector.System.NORCE)
    button = admin_url(Connector, "test", norce.pk)
    assert button.endswith(f"/{norce.pk}/test/")
    assert admin_client.get(button).status_code == 405

    response = admin_client.post(button)
    assert response.status_code == 302 and response.url == admin_url(Connector, "change", norce.pk)
    assert any("connection failed" in m and "auth.failed" in m for m in page_messages(response))

    monkeypatch.setattr(services, "test_connection", lambda connector_id: (True, "Shop reachable"))
    response = admin_client.post(
        admin_url(Connector, "changelist"),
        {"action": "test_connections", "_selected_action": list(world.connectors.values_list("pk", flat=True))},
        follow=True,
    )
    assert response.content.decode().count("connection works") == 2
    assert calls == [norce.pk]


def test_connect_to_fortnox_redirects_to_consent(admin_client, world, settings):
    settings.SITE_URL = "https://brygga.example.com"
    fortnox = world.connectors.get(system=Connector.System.FORTNOX)
    response = admin_client.post(admin_url(Connector, "oauth_connect", fortnox.pk, "fortnox"))
    assert response.status_code == 302
    query = parse_qs(urlparse(response.url).query)
    assert query["client_id"] == ["fortnox-client"]
    assert query["redirect_uri"] == ["https://brygga.example.com/oauth/fortnox/callback"]
    from connectors.fortnox import oauth

    assert oauth.read_state(query["state"][0]) == fortnox.pk


def test_fortnox_callback_exchanges_the_code(admin_client, world, monkeypatch):
    from connectors.fortnox import oauth
    from connectors.fortnox.client import FortnoxClient

    fortnox = world.connectors.get(system=Connector.System.FORTNOX)
    exchanged = []
    monkeypatch.setattr(
        FortnoxClient,
        "exchange_code",
        lambda client, *, code, redirect_uri: exchanged.append((client.connector.pk, code, redirect_uri)),
    )
    response = admin_client.get(
        reverse("fortnox-oauth-callback"), {"code": "abc", "state": oauth.make_state(fortnox.pk)}
    )
    assert response.status_code == 302
    assert response.url == admin_url(Connector, "change", fortnox.pk)
    assert exchanged and exchanged[0][:2] == (fortnox.pk, "abc")
    assert exchanged[0][2].endswith("/oauth/fortnox/callback")
    assert any("connected to Fortnox" in m for m in page_messages(response))


def test_fortnox_callback_reports_errors_with_code_and_hint(admin_client, world, monkeypatch):
    from connectors.fortnox import oauth
    from connectors.fortnox.client import FortnoxClient

    fortnox = world.connectors.get(system=Connector.System.FORTNOX)
    response = admin_client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": "forged"})
    assert response.status_code == 400 and "does not belong" in response.content.decode()

    def refuse(client, *, code, redirect_uri):
        raise errors.SyncError("auth.failed", "invalid_grant", hint="Press 'Connect to Fortnox' again.")

    monkeypatch.setattr(FortnoxClient, "exchange_code", refuse)
    state = oauth.make_state(fortnox.pk)
    response = admin_client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": state})
    assert response.url == admin_url(Connector, "change", fortnox.pk)
    assert any("auth.failed" in m and "Press 'Connect to Fortnox' again." in m for m in page_messages(response))


def test_fortnox_callback_is_for_staff_only(client, world):
    state = signing.dumps({"connector": 1}, salt="brygga.connectors.fortnox.oauth-state")
    response = client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": state})
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


# --- flow ---------------------------------------------------------------------------


def test_flow_settings_are_validated_by_the_flow(admin_client, world):
    flow = world.flows.get()
    url = admin_url(Flow, "change", flow.pk)
    response = admin_client.post(url, {"enabled": "on", "settings": json.dumps({"reference_field": "Nope"})})
    assert response.status_code == 200
    assert "reference_field must be one of" in response.content.decode()

    response = admin_client.post(url, {"enabled": "on", "settings": json.dumps({"batch_size": "20"})})
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.settings == {"batch_size": 20}


def test_add_flow_offers_registered_kinds(admin_client, world):
    content = admin_client.get(admin_url(Flow, "add")).content.decode()
    for spec in registry.FLOWS.values():
        assert spec.label in content


def test_run_now_action_and_button(admin_client, world, monkeypatch):
    flow = world.flows.get()
    started = []

    def fake_run(flow_id: int, *, trigger: str = "manual") -> Task:
        started.append((flow_id, trigger))
        return Task.objects.create(integration=world, flow=flow, trigger=trigger)

    monkeypatch.setattr(services, "run_flow_now", fake_run)
    admin_client.post(admin_url(Flow, "changelist"), {"action": "run_now", "_selected_action": [flow.pk]})
    response = admin_client.post(admin_url(Flow, "run", flow.pk))
    assert response.status_code == 302
    assert started == [(flow.pk, "manual"), (flow.pk, "manual")]
    assert any("queued as task" in m for m in page_messages(response))


# --- schedule rule ------------------------------------------------------------------


def schedule_post(integration: Integration, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "integration": integration.pk,
        "name": "Sunday full",
        "flows": [integration.flows.get().pk],
        "schedule_type": "cron",
        "interval_minutes": 5,
        "cron": "0 3 * * 0",
        "mode": "full",
        "enabled": "on",
    }
    data.update(overrides)
    return data


def test_schedule_rule_cron_is_validated(admin_client, world):
    response = admin_client.post(admin_url(ScheduleRule, "add"), schedule_post(world, cron="every sunday"))
    assert response.status_code == 200
    assert "is not a valid cron expression" in response.content.decode()


def test_schedule_rule_save_and_delete_keep_the_q_schedule_in_step(admin_client, world):
    from django_q.models import Schedule

    response = admin_client.post(admin_url(ScheduleRule, "add"), schedule_post(world))
    assert response.status_code == 302
    rule = ScheduleRule.objects.get(name="Sunday full")
    assert list(rule.flows.all()) == [world.flows.get()]
    schedule = Schedule.objects.get(pk=rule.q_schedule_id)
    assert schedule.cron == "0 3 * * 0"
    listed = admin_client.get(admin_url(ScheduleRule, "changelist")).context["cl"].result_list
    assert next(r for r in listed if r.pk == rule.pk).next_run_at == schedule.next_run

    response = admin_client.post(admin_url(ScheduleRule, "delete", rule.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Schedule.objects.filter(pk=schedule.pk).exists()


def test_schedule_rule_flows_are_limited_to_the_integration(admin_client, world):
    other = build_integration(name="Outlet")
    rule = ScheduleRule.objects.get(integration=world)
    content = admin_client.get(admin_url(ScheduleRule, "change", rule.pk)).content.decode()
    assert f'value="{other.flows.get().pk}"' not in content
    response = admin_client.post(admin_url(ScheduleRule, "add"), schedule_post(world, flows=[other.flows.get().pk]))
    assert response.status_code == 200
    assert ScheduleRule.objects.filter(name="Sunday full").count() == 0


# --- tasks, logs, records ------------------------------------------------------------


def test_task_search_finds_order_numbers_and_ids(admin_client, world):
    task = LogEntry.objects.get(reference="100234").task
    response = admin_client.get(admin_url(Task, "changelist"), {"q": "100234"})
    assert list(response.context["cl"].result_list) == [task]
    response = admin_client.get(admin_url(Task, "changelist"), {"q": str(task.pk)})
    assert task in list(response.context["cl"].result_list)


def test_retry_task_action_and_button(admin_client, world, monkeypatch):
    retried = []

    def fake_retry(task_id: int) -> Task:
        retried.append(task_id)
        return Task.objects.create(integration=world, trigger=Task.Trigger.RETRY)

    monkeypatch.setattr(services, "retry_task", fake_retry)
    failed = Task.objects.get(status=Task.Status.PARTLY_FAILED)
    succeeded = Task.objects.get(status=Task.Status.SUCCEEDED)
    response = admin_client.post(
        admin_url(Task, "changelist"), {"action": "retry", "_selected_action": [failed.pk, succeeded.pk]}
    )
    assert retried == [failed.pk]
    assert any("1 task(s) skipped" in m for m in page_messages(response))

    assert "Retry failed records" in admin_client.get(admin_url(Task, "change", failed.pk)).content.decode()
    response = admin_client.post(admin_url(Task, "retry", failed.pk))
    assert response.status_code == 302 and retried == [failed.pk, failed.pk]


def test_run_flow_now_from_tasks(admin_client, world, monkeypatch):
    started = []
    monkeypatch.setattr(
        services,
        "run_flow_now",
        lambda flow_id, *, trigger="manual": (
            started.append(flow_id) or Task.objects.create(integration=world, trigger=trigger)
        ),
    )
    admin_client.post(
        admin_url(Task, "changelist"),
        {"action": "run_flow_now", "_selected_action": list(Task.objects.values_list("pk", flat=True))},
    )
    assert started == [world.flows.get().pk]


def test_entity_page_is_read_only_with_escaped_payload_and_timeline(admin_client, world, monkeypatch):
    entity = Entity.objects.get(reference="100234")
    content = admin_client.get(admin_url(Entity, "change", entity.pk)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<script>alert(1)" not in content
    assert "Order 100234: line 1 has no VAT rate" in content
    assert "Retry this record" in content
    assert 'name="_save"' not in content

    retried = []
    monkeypatch.setattr(
        services,
        "retry_entity",
        lambda entity_id: (
            retried.append(entity_id) or Task.objects.create(integration=world, trigger=Task.Trigger.RETRY)
        ),
    )
    admin_client.post(admin_url(Entity, "retry", entity.pk))
    admin_client.post(admin_url(Entity, "changelist"), {"action": "retry", "_selected_action": [entity.pk]})
    assert retried == [entity.pk, entity.pk]


def test_log_codes_link_to_the_error_catalogue(admin_client, world):
    content = admin_client.get(admin_url(LogEntry, "changelist")).content.decode()
    catalogue = reverse("admin:integrations_error_catalogue")
    assert f'href="{catalogue}#code-order.missing_vat"' in content

    content = admin_client.get(catalogue).content.decode()
    registry.load_error_catalogue()
    for code in errors.CATALOGUE:
        assert f'id="code-{code}"' in content
    assert errors.ORDER_MISSING_VAT.hint in content
    assert "Transient" in content and "Permanent" in content
    assert catalogue in admin_client.get(reverse("admin:index")).content.decode()


def test_webhook_body_is_shown_escaped(admin_client, world):
    rejected = WebhookDelivery.objects.get(outcome=WebhookDelivery.Outcome.REJECTED)
    content = admin_client.get(admin_url(WebhookDelivery, "change", rejected.pk)).content.decode()
    assert "not json &lt;b&gt;" in content


# --- references ---------------------------------------------------------------------


def test_staff_added_reference_is_marked_as_staff(admin_client, world):
    response = admin_client.post(
        admin_url(Reference, "add"),
        {
            "integration": world.pk,
            "data_type": "order",
            "source_id": "legacy-1",
            "target_id": "17",
            "note": "pre go-live",
        },
    )
    assert response.status_code == 302
    assert Reference.objects.get(source_id="legacy-1").origin == Reference.Origin.STAFF


def test_reference_delete_warns_about_a_new_record(admin_client, world):
    reference = Reference.objects.get()
    content = " ".join(admin_client.get(admin_url(Reference, "delete", reference.pk)).content.decode().split())
    assert "is linked again; only when there is none does it create a NEW record" in content
    response = admin_client.post(
        admin_url(Reference, "changelist"), {"action": "delete_selected", "_selected_action": [reference.pk]}
    )
    assert "is linked again; only when there is none does it create a NEW record" in " ".join(
        response.content.decode().split()
    )


# --- query counts -------------------------------------------------------------------


def changelist_queries(client, url: str) -> int:
    client.get(url)  # warm caches (content types, session) so both counts compare like with like
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def grow(integration: Integration, rows: int) -> None:
    flow = integration.flows.get()
    for _ in range(rows):
        make_task(integration, flow, status=Task.Status.FAILED, reference=f"9{Task.objects.count():05d}")


@pytest.mark.parametrize("model", [Task, LogEntry, Entity, Integration, Connector, WebhookDelivery])
def test_changelist_query_count_does_not_grow_with_rows(admin_client, db, model):
    small = build_integration(name="Small")
    grow(small, 3)
    url = admin_url(model, "changelist")
    few = changelist_queries(admin_client, url)
    for n in range(9):
        grow(build_integration(name=f"Shop {n}"), 3)
    assert changelist_queries(admin_client, url) == few


# --- a task shows the errors of its records --------------------------------------------


def needs_attention_task(integration: Integration, *, references: tuple[str, ...] = ("700001",)) -> Task:
    """A task like the ones the engine leaves: no error of its own, the reason on its records' log lines."""
    flow = integration.flows.get()
    task = Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=Task.Trigger.ORDER_PUSH,
        status=Task.Status.NEEDS_ATTENTION,
        count_total=len(references),
        count_failed=len(references),
        attempts=1,
    )
    for reference in references:
        entity = Entity.objects.create(
            integration=integration,
            data_type="order",
            source_id=f"src-{reference}",
            reference=reference,
            status=Entity.Status.NEEDS_ATTENTION,
            last_error_code="fortnox.article_not_found",
        )
        LogEntry.objects.create(
            integration=integration,
            task=task,
            entity=entity,
            flow=flow,
            level=LogEntry.Level.INFO,
            reference=reference,
            data_type="order",
            message=f"Order {reference} received",
        )
        LogEntry.objects.create(
            integration=integration,
            task=task,
            entity=entity,
            flow=flow,
            level=LogEntry.Level.ERROR,
            reference=reference,
            data_type="order",
            code="fortnox.article_not_found",
            message=f"Order {reference}: article SKU-404 does not exist in Fortnox",
        )
    return task


def test_needs_attention_task_page_shows_the_errors_of_its_records(admin_client, world):
    registry.load_error_catalogue()
    task = needs_attention_task(world)
    entity = Entity.objects.get(reference="700001")
    content = admin_client.get(admin_url(Task, "change", task.pk)).content.decode()
    catalogue = reverse("admin:integrations_error_catalogue")
    hint = errors.lookup("fortnox.article_not_found").hint

    section = content[content.index(">Record errors</h2>") :]
    table = section[: section.index("</table>")]
    for column in ("Code", "Message", "Hint", "Record"):
        assert f"<th>{column}</th>" in table
    assert f'href="{catalogue}#code-fortnox.article_not_found"' in table
    assert "Order 700001: article SKU-404 does not exist in Fortnox" in table
    assert escape(hint) in table  # the catalogue's hint, as the log line has none of its own
    assert f'href="{admin_url(Entity, "change", entity.pk)}"' in table
    # The task's own error fields are filled from its records instead of staying empty.
    error_box = content[content.index(">Error</h2>") : content.index(">Record errors</h2>")]
    assert '#code-fortnox.article_not_found"' in error_box
    assert "article SKU-404 does not exist" in error_box
    assert escape(hint) in error_box


def test_task_without_record_errors_says_so(admin_client, world):
    task = Task.objects.get(status=Task.Status.SUCCEEDED)
    content = admin_client.get(admin_url(Task, "change", task.pk)).content.decode()
    assert "None: no record of this task logged an error or a warning." in content


def test_task_list_shows_the_error_code_and_order_numbers(admin_client, world):
    task = needs_attention_task(world, references=("700001", "700002", "700003", "700004"))
    response = admin_client.get(admin_url(Task, "changelist"))
    content = response.content.decode()
    row = content[content.index(f'href="{admin_url(Task, "change", task.pk)}"') :]
    row = row[: row.index("</tr>")]
    assert "#code-fortnox.article_not_found" in row
    assert "700001, 700002, 700003" in row
    assert "+1 more" in row


def test_task_list_query_count_is_bounded(admin_client, world, django_assert_max_num_queries):
    for n in range(30):
        needs_attention_task(world, references=(f"8{n:05d}", f"9{n:05d}"))
    admin_client.get(admin_url(Task, "changelist"))  # warm the session and content types
    with django_assert_max_num_queries(12):
        response = admin_client.get(admin_url(Task, "changelist"))
    assert response.status_code == 200
    assert "800029" in response.content.decode()


# --- the error catalogue separates information from errors ---------------------------------


def test_catalogue_lists_successes_as_information_not_failures(admin_client, world):
    content = admin_client.get(reverse("admin:integrations_error_catalogue")).content.decode()
    information = content[content.index('id="information"') :]
    failures = content[: content.index('id="information"')]
    for code in ("order.invoiced", "order.acknowledged", "order.invoice_found", "reference.deleted"):
        assert f'id="code-{code}"' in information
        assert f'id="code-{code}"' not in failures
        row = information[information.index(f'id="code-{code}"') :]
        row = row[: row.index("</tr>")]
        assert "Transient" not in row and "Information" in row
    assert 'id="code-order.missing_vat"' in failures and 'id="code-http.timeout"' in failures
    assert errors.ORDER_INVOICED.is_info and not errors.ORDER_INVOICED.permanent
    assert not errors.ORDER_MISSING_VAT.is_info


def test_catalogue_search_filters_by_code_title_and_hint(admin_client, world):
    url = reverse("admin:integrations_error_catalogue")
    content = admin_client.get(url, {"q": "vat rate"}).content.decode()
    assert 'id="catalogue-q"' in content and 'value="vat rate"' in content
    assert 'id="code-order.missing_vat"' in content
    assert 'id="code-http.timeout"' not in content
    content = admin_client.get(url, {"q": "HTTP.TIMEOUT"}).content.decode()
    assert 'id="code-http.timeout"' in content and 'id="code-order.missing_vat"' not in content
    content = admin_client.get(url, {"q": "Reconnect Fortnox"}).content.decode()  # a word of the hint only
    assert 'id="code-fortnox.invalid_refresh_token"' in content
    assert 'id="code-order.missing_vat"' not in content


# --- the log list is readable and filters by date --------------------------------------------


def test_log_list_shows_whole_messages_and_hints_and_filters_by_date(admin_client, world):
    message = "Order 100777: " + "the article named on row 3 is not in Fortnox; " * 4
    LogEntry.objects.create(
        integration=world,
        level=LogEntry.Level.ERROR,
        code="fortnox.article_not_found",
        reference="100777",
        message=message.strip(),
    )
    old = LogEntry.objects.create(
        integration=world,
        level=LogEntry.Level.INFO,
        message="a line from last year",
        created_at=timezone.now() - timedelta(days=400),
    )
    url = admin_url(LogEntry, "changelist")
    response = admin_client.get(url)
    content = response.content.decode()
    assert message.strip() in content  # not cut at 120 characters
    assert escape(errors.ORDER_MISSING_VAT.hint) in content  # not cut at 80 characters
    assert "field-short_message" in content and "white-space: normal" in content

    assert "created_at__gte" in content  # the date filter's choices
    this_year = timezone.localtime().year
    listed = admin_client.get(url, {"created_at__year": this_year}).context["cl"].result_list
    assert old not in list(listed) and listed
    since = (timezone.localtime() - timedelta(days=7)).date().isoformat()
    listed = admin_client.get(url, {"created_at__gte": since}).context["cl"].result_list
    assert old not in list(listed) and listed


# --- time history: moving a cursor back, run now, rewind and resend ----------------------------


@pytest.fixture
def product_cursor(world) -> TimeHistory:
    Flow.objects.create(integration=world, kind="products_to_commerce")
    return TimeHistory.objects.create(
        integration=world,
        data_type="product",
        direction="erp_to_commerce",
        last_loaded_at=timezone.now() - timedelta(days=2),
    )


def test_cursor_page_says_unchanged_records_are_not_resent_and_offers_resend(admin_client, product_cursor):
    content = admin_client.get(admin_url(TimeHistory, "change", product_cursor.pk)).content.decode()
    assert "sends nothing when nothing changed" in content
    assert f'action="{admin_url(TimeHistory, "run", product_cursor.pk)}"' in content
    assert f'action="{admin_url(TimeHistory, "resend", product_cursor.pk)}"' in content

    orders = TimeHistory.objects.get(data_type="order")
    content = admin_client.get(admin_url(TimeHistory, "change", orders.pk)).content.decode()
    assert "never invoiced twice" in content
    assert admin_url(TimeHistory, "resend", orders.pk) not in content


def test_cursor_run_now_and_rewind_and_resend_queue_the_flow(
    admin_client, product_cursor, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr("integrations.engine.queueing.enqueue", lambda task_id, *, at=None: queued.append(task_id))
    flow = Flow.objects.get(kind="products_to_commerce")
    assert admin_client.get(admin_url(TimeHistory, "resend", product_cursor.pk)).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(admin_url(TimeHistory, "run", product_cursor.pk))
    assert response.status_code == 302
    run = Task.objects.filter(flow=flow).latest("id")
    assert run.params == {"mode": "incremental"} and run.trigger == Task.Trigger.MANUAL
    assert any("unchanged are not sent again" in m and "Rewind and resend" in m for m in page_messages(response))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(admin_url(TimeHistory, "resend", product_cursor.pk))
    resend = Task.objects.filter(flow=flow).latest("id")
    assert resend.pk != run.pk and resend.params == {"mode": "incremental", "force": True}
    assert any("changed or not" in m for m in page_messages(response))
    assert queued == [run.pk, resend.pk]

    orders = TimeHistory.objects.get(data_type="order")
    before = Task.objects.count()
    response = admin_client.post(admin_url(TimeHistory, "resend", orders.pk))
    assert Task.objects.count() == before
    assert any("never sent twice" in m for m in page_messages(response))


# --- django-q2's own screens are read-only internals ------------------------------------------


def test_django_q_screens_are_read_only_under_internals(admin_client, world):
    from django_q.models import Failure, OrmQ, Schedule, Success

    schedule = Schedule.objects.create(func="integrations.jobs.sweep", schedule_type=Schedule.MINUTES, minutes=1)
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "Internals" in index
    for model in (Schedule, Success, Failure, OrmQ):
        opts = model._meta
        changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200
        assert 'name="action"' not in changelist.content.decode()  # no resubmit, no bulk delete
        assert admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add")).status_code == 403
    change = reverse("admin:django_q_schedule_change", args=[schedule.pk])
    content = admin_client.get(change).content.decode()
    assert 'name="_save"' not in content
    assert admin_client.post(change, {"func": "os.system", "schedule_type": "I"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:django_q_schedule_delete", args=[schedule.pk]), {"post": "yes"}).status_code
        == 403
    )
    schedule.refresh_from_db()
    assert schedule.func == "integrations.jobs.sweep"
