"""Shared fixtures: a small world of one merchant with a Norce ↔ Fortnox integration."""
from __future__ import annotations

import pytest

from integrations.models import Connector, Flow, Integration, Merchant


def build_integration(*, norce_url: str = "http://127.0.0.1:9", fortnox_url: str = "http://127.0.0.1:9",
                      flow_settings: dict | None = None, name: str = "Webshop") -> Integration:
    merchant, _ = Merchant.objects.get_or_create(slug="demo-shop", defaults={"name": "Demo Shop AB"})
    integration = Integration.objects.create(merchant=merchant, name=name)
    Connector.objects.create(
        integration=integration, role=Connector.Role.COMMERCE, system=Connector.System.NORCE, base_url=norce_url,
        settings={"application_id": 1244, "client_id_number": 1234, "scope": "playground", "account_id": 10000},
        credentials={"client_id": "norce-client", "client_secret": "norce-secret-value",
                     "receiver_username": "norce", "receiver_password": "receiver-secret-value",
                     "event_secret": "event-secret-value"},
    )
    Connector.objects.create(
        integration=integration, role=Connector.Role.ERP, system=Connector.System.FORTNOX, base_url=fortnox_url,
        auth_url=fortnox_url, settings={},
        credentials={"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"},
    )
    Flow.objects.create(integration=integration, kind="orders_to_erp", settings=flow_settings or {})
    return integration


@pytest.fixture
def integration(db) -> Integration:
    return build_integration()
