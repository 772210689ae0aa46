"""Systems in admin come from the connector packages' declarations: a package listed in
settings.BRYGGA_CONNECTORS is offered on the connector form with its credential inputs, and one
that connects by consent gets a "Connect to …" button and the one OAuth callback."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from connectors.fortnox import oauth as fortnox_oauth
from integrations.crypto import decrypt_json
from integrations.models import Connector, Integration, Merchant
from tests.conftest import build_integration
from tests.integrations.consent_erp import client as consent_client
from tests.integrations.consent_erp import oauth as consent_oauth

FAKE_ERP = "tests.contract.fake_erp"
CONSENT_ERP = "tests.integrations.consent_erp"

# The connector form's credential inputs before systems were declared: (name, label, help text).
PRODUCT_CREDENTIALS = [
    ("credential_client_id", "Client id", "The OAuth client id of the API application."),
    ("credential_client_secret", "Client secret", "The OAuth client secret of the API application."),
    (
        "credential_receiver_username",
        "Order receiver username",
        "Norce only: the user name Norce sends (Basic auth) when it pushes orders to Brygga.",
    ),
    (
        "credential_receiver_password",
        "Order receiver password",
        "Norce only: the password Norce sends (Basic auth) when it pushes orders to Brygga.",
    ),
    ("credential_event_secret", "Event secret", "Norce only: the shared secret Norce sends with event notifications."),
    (
        "credential_webhook_secret",
        "Webhook secret",
        "Visma.net only: a secret you choose; the notifications Visma.net sends carry it (the "
        "X-Webhook-Token header of the Developer Portal subscription, or ?token=… on its URL).",
    ),
]
PRODUCT_SYSTEMS = [("", "---------"), ("norce", "Norce Commerce"), ("fortnox", "Fortnox"), ("vismanet", "Visma.net")]


@pytest.fixture
def with_fake_erp(settings) -> None:
    settings.BRYGGA_CONNECTORS = [*settings.BRYGGA_CONNECTORS, FAKE_ERP]


@pytest.fixture
def with_consent_erp(settings) -> None:
    settings.BRYGGA_CONNECTORS = [*settings.BRYGGA_CONNECTORS, CONSENT_ERP]
    settings.SITE_URL = "https://brygga.example.com"
    consent_client.exchanged.clear()


def add_url() -> str:
    return reverse("admin:integrations_connector_add")


def change_url(connector: Connector) -> str:
    return reverse("admin:integrations_connector_change", args=[connector.pk])


def system_options(page: str) -> list[tuple[str, str]]:
    select = re.search(r'<select name="system"[^>]*>(.*?)</select>', page, re.S)
    assert select, "no system select on the page"
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


def credential_inputs(page: str) -> list[str]:
    return re.findall(r'<input type="password" name="(credential_[a-z_]+)"', page)


def connect_forms(page: str) -> list[tuple[str, str]]:
    """(action, button text) of every POST form whose action ends in -connect/."""
    return re.findall(r'<form method="post" action="([^"]*-connect/)">.*?<button[^>]*>([^<]*)</button>', page, re.S)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def new_integration() -> Integration:
    merchant = Merchant.objects.create(name="Fake Shop AB", slug="fake-shop")
    return Integration.objects.create(merchant=merchant, name="Shop")


def test_system_choices_are_the_declared_systems(settings):
    field = Connector._meta.get_field("system")
    assert list(field.choices) == PRODUCT_SYSTEMS[1:]
    assert Connector(system="norce").get_system_display() == "Norce Commerce"
    assert Connector(system="fortnox").get_system_display() == "Fortnox"

    settings.BRYGGA_CONNECTORS = [*settings.BRYGGA_CONNECTORS, FAKE_ERP]
    assert list(field.choices) == [*PRODUCT_SYSTEMS[1:], ("fakeerp", "Fake ERP")]
    assert Connector(system="fakeerp").get_system_display() == "Fake ERP"


def test_the_add_form_offers_a_listed_package_with_its_credential_input(admin_client, with_fake_erp):
    page = admin_client.get(add_url()).content.decode()
    assert system_options(page) == [*PRODUCT_SYSTEMS, ("fakeerp", "Fake ERP")]
    assert credential_inputs(page) == [name for name, _, _ in PRODUCT_CREDENTIALS] + ["credential_api_key"]
    assert '<label for="id_credential_api_key">API key:</label>' in page
    assert "The fake ERP's key." in page


def test_a_saved_fake_erp_connector_keeps_only_its_credential_encrypted(admin_client, with_fake_erp):
    integration = new_integration()
    response = admin_client.post(
        add_url(),
        {
            "integration": integration.pk,
            "system": "fakeerp",
            "role": "erp",
            "base_url": "fake-erp.invalid/company-1",
            "auth_url": "",
            "settings": "{}",
            "credential_api_key": "fake-api-key-value",
            "credential_client_id": "not-for-the-fake",
        },
    )
    assert response.status_code == 302, response.content.decode()
    connector = Connector.objects.get(integration=integration)
    assert connector.system == "fakeerp" and connector.base_url == "https://fake-erp.invalid/company-1"
    assert connector.credentials == {"api_key": "fake-api-key-value"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM integrations_connector WHERE id = %s", [connector.pk])
        (stored,) = cursor.fetchone()
    assert "fake-api-key-value" not in stored and decrypt_json(stored) == {"api_key": "fake-api-key-value"}

    page = admin_client.get(change_url(connector)).content.decode()
    assert "fake-api-key-value" not in page
    assert credential_inputs(page) == ["credential_api_key"]
    assert "Currently set; leave empty to keep it. The fake ERP's key." in page
    assert "<tr><th>API key</th><td>set</td></tr>" in page
    assert 'name="fortnox_grant"' not in page and not connect_forms(page) and "Connect to" not in page
    assert "Fake ERP (ERP) · " in page


def test_without_another_package_the_add_form_is_the_products(admin_client, db):
    page = admin_client.get(add_url()).content.decode()
    assert system_options(page) == PRODUCT_SYSTEMS
    assert "fakeerp" not in page and "credential_api_key" not in page
    assert credential_inputs(page) == [name for name, _, _ in PRODUCT_CREDENTIALS]
    for name, label, help_text in PRODUCT_CREDENTIALS:
        assert f'<label for="id_{name}">{label}:</label>' in page
        assert f'<div class="help" id="id_{name}_helptext">' in page
        assert help_text in page
    assert 'name="fortnox_grant"' in page and 'name="fortnox_tenant_id"' in page


def test_norce_and_fortnox_connectors_keep_their_inputs_and_buttons(admin_client, db):
    integration = build_integration()
    norce = integration.connectors.get(system=Connector.System.NORCE)
    page = admin_client.get(change_url(norce)).content.decode()
    assert credential_inputs(page) == [
        name for name, _, _ in PRODUCT_CREDENTIALS if name != "credential_webhook_secret"
    ]
    assert 'name="fortnox_grant"' not in page and not connect_forms(page)
    assert f"/norce/{integration.pk}/orders" in page

    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    page = admin_client.get(change_url(fortnox)).content.decode()
    assert credential_inputs(page) == ["credential_client_id", "credential_client_secret"]
    assert 'name="fortnox_grant"' in page and 'name="fortnox_tenant_id"' in page
    connect = f"/admin/integrations/connector/{fortnox.pk}/fortnox-connect/"
    assert connect_forms(page) == [(connect, "Connect to Fortnox")]
    assert "Not connected: press &#x27;Connect to Fortnox&#x27;." in page


def test_a_system_without_oauth_is_not_connected_by_consent(admin_client, db):
    integration = build_integration()
    norce = integration.connectors.get(system=Connector.System.NORCE)
    response = admin_client.post(f"/admin/integrations/connector/{norce.pk}/norce-connect/")
    assert response.status_code == 302 and response.url == change_url(norce)
    assert messages_of(response) == ["Norce Commerce connectors are not connected by consent."]

    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    assert admin_client.post(f"/admin/integrations/connector/{fortnox.pk}/norce-connect/").status_code == 404
    assert admin_client.get(f"/admin/integrations/connector/{fortnox.pk}/fortnox-connect/").status_code == 405


def test_a_system_declaring_oauth_is_connected_through_the_one_callback(admin_client, with_consent_erp):
    integration = build_integration()
    erp = integration.connectors.get(role=Connector.Role.ERP)
    erp.system, erp.credentials, erp.settings = "consenterp", {"app_key": "app-1"}, {}
    erp.save()
    connect = f"/admin/integrations/connector/{erp.pk}/consenterp-connect/"

    page = admin_client.get(change_url(erp)).content.decode()
    assert connect_forms(page) == [(connect, "Connect to Consent ERP")]
    assert credential_inputs(page) == ["credential_app_key"] and 'name="fortnox_grant"' not in page
    assert "Not connected: press &#x27;Connect to Consent ERP&#x27;." in page

    assert admin_client.get(connect).status_code == 405
    pressed = admin_client.post(connect)
    assert pressed.status_code == 302 and pressed.url.startswith(consent_oauth.CONSENT_URL)
    query = parse_qs(urlsplit(pressed.url).query)
    assert query["app"] == ["app-1"]
    assert query["redirect_uri"] == ["https://brygga.example.com/oauth/fortnox/callback"]
    assert consent_oauth.read_state(query["state"][0]) == erp.pk

    # A state Fortnox signed names a Fortnox connector, never this one.
    foreign = admin_client.get(
        reverse("fortnox-oauth-callback"), {"code": "abc", "state": fortnox_oauth.make_state(erp.pk)}
    )
    assert foreign.status_code == 400 and foreign.json()["reason"] == "the connector no longer exists."
    forged = admin_client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": "forged"})
    assert forged.json()["error"] == "Fortnox or Consent ERP connection failed"
    assert not consent_client.exchanged

    done = admin_client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": query["state"][0]})
    assert done.status_code == 302 and done.url == change_url(erp)
    assert consent_client.exchanged == [(erp.pk, "abc", "https://brygga.example.com/oauth/fortnox/callback")]
    assert any("connected to Consent ERP" in m for m in messages_of(done))
    erp.refresh_from_db()
    assert erp.tokens["access_token"] == "token-for-abc"
    assert "Connected; access token expires at" in admin_client.get(change_url(erp)).content.decode()


def test_the_fortnox_callback_reads_only_fortnox_states_for_fortnox_connectors(admin_client, with_consent_erp):
    integration = build_integration()
    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    state = consent_oauth.make_state(fortnox.pk)
    response = admin_client.get(reverse("fortnox-oauth-callback"), {"code": "abc", "state": state})
    assert response.status_code == 400 and response.json()["reason"] == "the connector no longer exists."
    fortnox.refresh_from_db()
    assert not fortnox.tokens and not consent_client.exchanged
