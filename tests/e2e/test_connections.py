"""'Test connection' makes a real call with the stored credentials and remembers the outcome."""

from __future__ import annotations

import pytest

from integrations import services
from integrations.engine.tokens import store_tokens
from integrations.models import Connector

pytestmark = pytest.mark.e2e


def test_both_connectors_pass_against_the_simulators(wired, fortnox):
    for connector in Connector.objects.filter(integration=wired):
        ok, message = services.test_connection(connector.pk)
        assert ok, message
        connector.refresh_from_db()
        assert connector.last_test_ok is True and connector.last_test_at is not None
    assert "Demo Shop AB" in Connector.objects.get(integration=wired, role="erp").last_test_message


def test_wrong_credentials_fail_with_a_code_and_no_secret(wired, norce, fortnox):
    commerce = Connector.objects.get(integration=wired, role=Connector.Role.COMMERCE)
    services.set_connector_credentials(commerce.pk, {"client_secret": "not-the-secret"})
    ok, message = services.test_connection(commerce.pk)
    assert not ok and message.startswith("[norce.auth]")
    assert "not-the-secret" not in message

    erp = Connector.objects.get(integration=wired, role=Connector.Role.ERP)
    fortnox.expire_access_tokens()
    fortnox.expire_refresh_tokens()
    store_tokens(erp, {"access_token": "expired", "refresh_token": erp.tokens["refresh_token"], "expires_in": 0})
    ok, message = services.test_connection(erp.pk)
    assert not ok and message.startswith("[fortnox.invalid_refresh_token]") and "Reconnect Fortnox" in message
    erp.refresh_from_db()
    assert erp.last_test_ok is False
