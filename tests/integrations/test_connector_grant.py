"""The Fortnox grant in admin: a Grant line on the connector page, inputs that edit the
settings, validation errors on the form, and "Connect to Fortnox" only by POST."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import Connector, Integration
from tests.conftest import build_integration


@pytest.fixture
def world(db) -> Integration:
    integration = build_integration()
    fortnox = integration.connectors.get(system=Connector.System.FORTNOX)
    fortnox.tokens = {
        "access_token": "fortnox-access-token-value",
        "refresh_token": "fortnox-refresh-token-value",
        "expires_at": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    fortnox.token_expires_at = timezone.now() + timedelta(hours=1)
    fortnox.save()
    return integration


def change_url(connector: Connector) -> str:
    return reverse("admin:integrations_connector_change", args=[connector.pk])


def connect_url(connector: Connector) -> str:
    return reverse("admin:integrations_connector_oauth_connect", args=[connector.pk, "fortnox"])


def post_data(connector: Connector, **fields: str) -> dict[str, str]:
    data = {
        "role": connector.role,
        "base_url": connector.base_url,
        "auth_url": connector.auth_url,
        "settings": json.dumps(connector.settings),
    }
    for key in ("client_id", "client_secret", "receiver_username", "receiver_password", "event_secret"):
        data[f"credential_{key}"] = ""
    data.update(fields)
    return data


def fortnox_of(world: Integration) -> Connector:
    return world.connectors.get(system=Connector.System.FORTNOX)


def text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_connector_page_shows_the_grant_and_its_inputs(admin_client, world):
    fortnox = fortnox_of(world)
    page = admin_client.get(change_url(fortnox)).content
    assert "Grant: Authorization code (an administrator connects; refresh tokens)" in text(page)
    assert b'name="fortnox_grant"' in page and b'name="fortnox_tenant_id"' in page
    assert b'<option value="authorization_code" selected>' in page

    fortnox.settings = {"grant": "client_credentials", "tenant_id": "123456"}
    fortnox.save()
    page = admin_client.get(change_url(fortnox)).content
    assert "Grant: Client credentials (service account; tenant id), tenant 123456" in text(page)
    assert b'<option value="client_credentials" selected>' in page
    assert b'value="123456"' in page
    assert "No service-account token yet" in text(page)  # the stored tokens came from the code grant

    norce = world.connectors.get(system=Connector.System.NORCE)
    assert b'name="fortnox_grant"' not in admin_client.get(change_url(norce)).content


def test_choosing_client_credentials_without_a_tenant_id_is_refused_on_the_form(admin_client, world):
    fortnox = fortnox_of(world)
    response = admin_client.post(
        change_url(fortnox), post_data(fortnox, fortnox_grant="client_credentials", fortnox_tenant_id="")
    )
    assert response.status_code == 200
    assert "&#x27;tenant_id&#x27; is required" in response.content.decode()
    assert Connector.objects.get(pk=fortnox.pk).settings == {}

    response = admin_client.post(
        change_url(fortnox), post_data(fortnox, fortnox_grant="client_credentials", fortnox_tenant_id="12 34")
    )
    assert response.status_code == 200
    assert "must be Fortnox&#x27;s DatabaseNumber" in response.content.decode()


def test_the_grant_inputs_are_stored_in_the_settings(admin_client, world):
    fortnox = fortnox_of(world)
    fortnox.settings = {"freight_part_nos": ["FRAKT"]}
    fortnox.save()
    response = admin_client.post(
        change_url(fortnox), post_data(fortnox, fortnox_grant="client_credentials", fortnox_tenant_id=" 987654 ")
    )
    assert response.status_code == 302
    assert Connector.objects.get(pk=fortnox.pk).settings == {
        "freight_part_nos": ["FRAKT"],
        "grant": "client_credentials",
        "tenant_id": "987654",
    }

    # Back to the code grant, with the tenant id emptied.
    fortnox.refresh_from_db()
    response = admin_client.post(
        change_url(fortnox), post_data(fortnox, fortnox_grant="authorization_code", fortnox_tenant_id="")
    )
    assert response.status_code == 302
    assert Connector.objects.get(pk=fortnox.pk).settings == {
        "freight_part_nos": ["FRAKT"],
        "grant": "authorization_code",
    }


def test_the_old_service_account_flag_is_refused_with_its_replacement(admin_client, world):
    fortnox = fortnox_of(world)
    data = post_data(fortnox, fortnox_grant="authorization_code", fortnox_tenant_id="")
    data["settings"] = json.dumps({"service_account": True})
    response = admin_client.post(change_url(fortnox), data)
    assert response.status_code == 200
    assert "no longer read: set &quot;grant&quot;: &quot;client_credentials&quot;" in response.content.decode()


def test_connect_to_fortnox_is_a_post_form_and_refuses_get(admin_client, world, settings):
    settings.SITE_URL = "https://brygga.example.com"
    fortnox = fortnox_of(world)
    page = admin_client.get(change_url(fortnox)).content.decode()
    form = re.search(rf'<form method="post" action="{re.escape(connect_url(fortnox))}">(.*?)</form>', page, re.S)
    assert form and "csrfmiddlewaretoken" in form.group(1) and "Connect to Fortnox" in form.group(1)
    assert f'href="{connect_url(fortnox)}"' not in page

    assert admin_client.get(connect_url(fortnox)).status_code == 405

    response = admin_client.post(connect_url(fortnox))
    assert response.status_code == 302
    query = parse_qs(urlparse(response.url).query)
    assert query["redirect_uri"] == ["https://brygga.example.com/oauth/fortnox/callback"]
    assert "account_type" not in query


def test_connect_asks_fortnox_for_a_service_account_with_client_credentials(admin_client, world):
    fortnox = fortnox_of(world)
    fortnox.settings = {"grant": "client_credentials", "tenant_id": "123456"}
    fortnox.save()
    response = admin_client.post(connect_url(fortnox))
    assert parse_qs(urlparse(response.url).query)["account_type"] == ["service"]


def test_connect_with_invalid_grant_settings_explains_instead_of_redirecting(admin_client, world):
    fortnox = fortnox_of(world)
    fortnox.settings = {"grant": "client_credentials"}
    fortnox.save()
    response = admin_client.post(connect_url(fortnox), follow=True)
    assert response.redirect_chain[-1][0] == change_url(fortnox)
    assert "config.connector_settings" in text(response.content)
    assert "tenant_id" in text(response.content)
