"""The Fortnox connector's explicit grant, against the Fortnox simulator over real HTTP.

A connector uses the grant its settings name whatever tokens it holds: one switched from
the authorization-code grant to client credentials stops using its refresh token; one
switched back uses the refresh token it still has, or asks for 'Connect to Fortnox'.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.fortnox import oauth
from connectors.fortnox.settings import parse_auth_settings, validate_settings
from core.errors import SyncError
from integrations.engine.clients import client_for
from integrations.engine.tokens import store_tokens
from integrations.models import Connector
from simulators.fortnox.server import FortnoxSimulator
from tests.conftest import build_integration


@pytest.fixture
def fortnox() -> Iterator[FortnoxSimulator]:
    sim = FortnoxSimulator()
    sim.seed_demo()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def erp(db, fortnox) -> Connector:
    integration = build_integration(fortnox_url=fortnox.url)
    return integration.connectors.get(role=Connector.Role.ERP)


def code_grant_tokens(fortnox: FortnoxSimulator, erp: Connector) -> dict:
    """The connector as 'Connect to Fortnox' leaves it: access and refresh token of the code grant."""
    issued = fortnox.issue_tokens("fortnox-client")
    store_tokens(erp, issued, grant_type="authorization_code")
    return issued


def use_grant(erp: Connector, settings: dict) -> Connector:
    erp.settings = settings
    erp.save()
    return Connector.objects.get(pk=erp.pk)


def grants_issued(fortnox: FortnoxSimulator) -> list[str]:
    return [t["grant_type"] for t in fortnox.issued_tokens]


def test_switched_to_client_credentials_gets_tokens_by_client_credentials_not_by_refresh(fortnox, erp):
    issued = code_grant_tokens(fortnox, erp)
    erp = use_grant(erp, {"grant": "client_credentials", "tenant_id": str(fortnox.tenant_id)})

    assert client_for(erp).company_information()["CompanyName"]

    assert grants_issued(fortnox) == ["seed", "client_credentials"]
    assert fortnox.refresh_token_uses == {}
    stored = Connector.objects.get(pk=erp.pk).tokens
    assert stored["grant"] == "client_credentials"
    assert stored["access_token"] != issued["access_token"]
    assert "refresh_token" not in stored  # that grant never uses one

    # The next access token is fetched by client credentials too.
    fortnox.expire_access_tokens()
    client_for(Connector.objects.get(pk=erp.pk)).company_information()
    assert grants_issued(fortnox) == ["seed", "client_credentials", "client_credentials"]


def test_tokens_stored_without_a_grant_count_as_the_code_grants(fortnox, erp):
    store_tokens(erp, fortnox.issue_tokens("fortnox-client"))  # as rows stored before the grant was recorded
    assert "grant" not in Connector.objects.get(pk=erp.pk).tokens
    client_for(Connector.objects.get(pk=erp.pk)).company_information()
    assert grants_issued(fortnox) == ["seed"]  # the code grant keeps using them

    erp = use_grant(
        Connector.objects.get(pk=erp.pk), {"grant": "client_credentials", "tenant_id": str(fortnox.tenant_id)}
    )
    client_for(erp).company_information()
    assert grants_issued(fortnox) == ["seed", "client_credentials"]
    assert "refresh_token" not in Connector.objects.get(pk=erp.pk).tokens


def test_switched_back_from_client_credentials_asks_to_connect_again(fortnox, erp):
    erp = use_grant(erp, {"grant": "client_credentials", "tenant_id": str(fortnox.tenant_id)})
    client_for(erp).company_information()
    assert grants_issued(fortnox) == ["client_credentials"]

    erp = use_grant(Connector.objects.get(pk=erp.pk), {"grant": "authorization_code"})
    with pytest.raises(SyncError) as caught:
        client_for(erp).company_information()
    assert caught.value.code == "fortnox.not_connected"
    assert "service account" in caught.value.message
    assert "Connect to Fortnox" in caught.value.hint
    assert grants_issued(fortnox) == ["client_credentials"]  # the service-account token is not used


def test_switched_back_with_its_refresh_token_uses_it(fortnox, erp):
    issued = code_grant_tokens(fortnox, erp)
    fortnox.require_service_consent = True  # no service account was approved for this app
    erp = use_grant(erp, {"grant": "client_credentials", "tenant_id": str(fortnox.tenant_id)})
    with pytest.raises(SyncError) as caught:
        client_for(erp).company_information()
    assert caught.value.code == "fortnox.auth"
    assert fortnox.refresh_token_uses == {}
    assert Connector.objects.get(pk=erp.pk).tokens["refresh_token"] == issued["refresh_token"]

    erp = use_grant(Connector.objects.get(pk=erp.pk), {"grant": "authorization_code"})
    fortnox.expire_access_tokens()
    assert client_for(erp).company_information()["CompanyName"]
    assert fortnox.refresh_token_uses == {issued["refresh_token"]: 1}
    stored = Connector.objects.get(pk=erp.pk).tokens
    assert stored["grant"] == "authorization_code" and stored["refresh_token"] != issued["refresh_token"]


def test_tenant_id_alone_does_not_switch_the_grant(fortnox, erp):
    erp = use_grant(erp, {"tenant_id": str(fortnox.tenant_id)})
    with pytest.raises(SyncError) as caught:
        client_for(erp).company_information()
    assert caught.value.code == "fortnox.not_connected"
    assert fortnox.issued_tokens == []


def test_invalid_grant_settings_are_a_configuration_error(fortnox, erp):
    erp = use_grant(erp, {"grant": "client_credentials"})
    with pytest.raises(SyncError) as caught:
        client_for(erp).company_information()
    assert caught.value.code == "config.connector_settings"
    assert "tenant_id" in caught.value.message and "Tenant id" in caught.value.hint
    assert fortnox.issued_tokens == []


def test_consent_url_asks_for_a_service_account_when_the_grant_says_so(erp):
    assert "account_type" not in oauth.authorization_url(erp, redirect_uri="https://b/cb", state="s")
    erp.settings = {"grant": "client_credentials", "tenant_id": "123456"}
    assert "account_type=service" in oauth.authorization_url(erp, redirect_uri="https://b/cb", state="s")
    erp.settings = {"service_account": True}
    with pytest.raises(SyncError) as caught:
        oauth.authorization_url(erp, redirect_uri="https://b/cb", state="s")
    assert caught.value.code == "config.connector_settings"
    assert "grant" in caught.value.message


@pytest.mark.parametrize(
    "raw, problem",
    [
        ({"grant": "password"}, "'grant' must be one of"),
        ({"grant": "client_credentials"}, "'tenant_id' is required"),
        ({"grant": "client_credentials", "tenant_id": "12a"}, "'tenant_id' must be"),
        ({"grant": "client_credentials", "tenant_id": "١٢٣"}, "'tenant_id' must be"),
        ({"tenant_id": True}, "'tenant_id' must be"),
        ({"service_account": True}, "'service_account' is no longer read"),
    ],
)
def test_bad_grant_settings_name_the_problem(raw, problem):
    with pytest.raises(ValueError, match=problem):
        parse_auth_settings(raw)


def test_grant_settings_are_normalised_and_other_keys_kept():
    assert validate_settings({}) == {"grant": "authorization_code"}
    assert validate_settings({"grant": "client_credentials", "tenant_id": 987654, "other": 1}) == {
        "grant": "client_credentials",
        "tenant_id": "987654",
        "other": 1,
    }
    assert validate_settings({"grant": "authorization_code", "tenant_id": ""}) == {"grant": "authorization_code"}
