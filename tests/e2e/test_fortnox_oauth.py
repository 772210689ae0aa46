"""Connecting Fortnox from admin: button → consent (auto-approved by the simulator) → callback."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.engine.clients import client_for
from integrations.engine.tokens import store_tokens
from integrations.models import Connector
from tests.conftest import build_integration

pytestmark = pytest.mark.e2e


def test_connect_to_fortnox_from_admin(db, fortnox, admin_client):
    integration = build_integration(fortnox_url=fortnox.url)
    erp = integration.connectors.get(role=Connector.Role.ERP)
    assert not erp.tokens

    # The button is a form: a plain visit (a followed link, a reload) starts nothing.
    assert admin_client.get(f"/admin/integrations/connector/{erp.pk}/fortnox-connect/").status_code == 405
    pressed = admin_client.post(f"/admin/integrations/connector/{erp.pk}/fortnox-connect/")
    assert pressed.status_code == 302
    consent_url = pressed["Location"]
    query = parse_qs(urlsplit(consent_url).query)
    assert consent_url.startswith(f"{fortnox.url}/oauth-v1/auth?")
    assert query["client_id"] == ["fortnox-client"] and query["response_type"] == ["code"]
    assert "invoice" in query["scope"][0].split()
    assert "account_type" not in query

    approved = requests.get(consent_url, allow_redirects=False, timeout=10)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    assert back.path == "/oauth/fortnox/callback"

    done = admin_client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302 and f"/connector/{erp.pk}/" in done["Location"]
    erp.refresh_from_db()
    assert erp.tokens["refresh_token"] and erp.token_expires_at
    assert client_for(erp).company_information()["CompanyName"]

    # The code is single-use: replaying the callback fails with a clear message and keeps the tokens.
    tokens = dict(erp.tokens)
    replay = admin_client.get(f"{back.path}?{back.query}", follow=True)
    assert b"fortnox." in replay.content
    erp.refresh_from_db()
    assert erp.tokens["refresh_token"] == tokens["refresh_token"]


def test_a_forged_state_is_refused(db, fortnox, admin_client):
    integration = build_integration(fortnox_url=fortnox.url)
    erp = integration.connectors.get(role=Connector.Role.ERP)
    response = admin_client.get("/oauth/fortnox/callback?code=abc&state=forged")
    assert response.status_code == 400 and b"does not belong to a connection started here" in response.content
    erp.refresh_from_db()
    assert not erp.tokens


def test_connect_a_service_account_then_tokens_come_by_client_credentials(db, fortnox, admin_client):
    fortnox.require_service_consent = True
    integration = build_integration(fortnox_url=fortnox.url)
    erp = integration.connectors.get(role=Connector.Role.ERP)
    store_tokens(erp, fortnox.issue_tokens("fortnox-client"), grant_type="authorization_code")
    erp.settings = {"grant": "client_credentials", "tenant_id": str(fortnox.tenant_id)}
    erp.save()

    page = admin_client.get(f"/admin/integrations/connector/{erp.pk}/change/").content.decode()
    assert f'<form method="post" action="/admin/integrations/connector/{erp.pk}/fortnox-connect/">' in page
    assert f"Client credentials (service account; tenant id), tenant {fortnox.tenant_id}" in page

    pressed = admin_client.post(f"/admin/integrations/connector/{erp.pk}/fortnox-connect/")
    assert pressed.status_code == 302
    query = parse_qs(urlsplit(pressed["Location"]).query)
    assert query["account_type"] == ["service"]
    approved = requests.get(pressed["Location"], allow_redirects=False, timeout=10)
    back = urlsplit(approved.headers["Location"])
    done = admin_client.get(f"{back.path}?{back.query}")
    assert done.status_code == 302
    erp.refresh_from_db()
    assert erp.tokens["grant"] == "client_credentials" and "refresh_token" not in erp.tokens

    fortnox.expire_access_tokens()
    assert client_for(erp).company_information()["CompanyName"]
    assert [t["grant_type"] for t in fortnox.issued_tokens] == ["seed", "authorization_code", "client_credentials"]
    assert fortnox.refresh_token_uses == {}
