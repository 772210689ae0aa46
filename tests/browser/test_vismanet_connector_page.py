"""A Visma.net connector's admin page reads as Visma.net's: its credentials named and never
shown back, its tenant in the settings."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from integrations.demo import create_norce_erp_integration
from integrations.models import Connector, Merchant
from tests.browser.conftest import World, screenshot

SECRET = "visma-secret-value-123"


@pytest.fixture
def visma_connector(world: World) -> Connector:
    merchant = Merchant.objects.create(slug="friluft", name="Demo Friluft AB")
    integration = create_norce_erp_integration(
        merchant=merchant,
        name="Webshop ↔ Visma.net",
        norce_url="http://127.0.0.1:9",
        norce_credentials={"client_id": "n", "client_secret": "s"},
        erp_system=Connector.System.VISMANET,
        erp_url="https://api.finance.visma.net",
        erp_auth_url="https://connect.visma.com",
        erp_settings={"tenant_id": "6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f"},
        erp_credentials={"client_id": "app", "client_secret": SECRET, "webhook_secret": SECRET},
    )
    return integration.connectors.get(role=Connector.Role.ERP)


def test_a_visma_net_connector_page_names_its_credentials_and_keeps_them_secret(visma_connector, page: Page):
    page.goto(f"/admin/integrations/connector/{visma_connector.pk}/change/")
    expect(page.locator("h2, h1").filter(has_text="Visma.net").first).to_be_visible()
    expect(page.get_by_label("Webhook secret")).to_be_visible()
    expect(page.get_by_label("Client secret")).to_have_value("")
    expect(page.get_by_text("6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f").first).to_be_visible()
    assert SECRET not in page.content()
    screenshot(page, "vismanet-connector")
