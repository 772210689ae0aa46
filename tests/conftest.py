"""Shared fixtures: a small world of one merchant with a Norce ↔ Fortnox integration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.demo import create_norce_fortnox_integration
from integrations.flows.master_settings import FlowSettings, parse_settings
from integrations.models import Integration, Merchant
from simulators.fortnox.server import FortnoxSimulator

NORCE_CREDENTIALS = {
    "client_id": "norce-client",
    "client_secret": "norce-secret-value",
    "receiver_username": "norce",
    "receiver_password": "receiver-secret-value",
    "event_secret": "event-secret-value",
}
FORTNOX_CREDENTIALS = {"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"}


def build_integration(
    *,
    norce_url: str = "http://127.0.0.1:9",
    fortnox_url: str = "http://127.0.0.1:9",
    flow_settings: dict | None = None,
    name: str = "Webshop",
) -> Integration:
    merchant, _ = Merchant.objects.get_or_create(slug="demo-shop", defaults={"name": "Demo Shop AB"})
    return create_norce_fortnox_integration(
        merchant=merchant,
        name=name,
        norce_url=norce_url,
        fortnox_url=fortnox_url,
        norce_settings={"application_id": 1244, "client_id_number": 1234, "scope": "playground", "account_id": 10000},
        norce_credentials=NORCE_CREDENTIALS,
        fortnox_credentials=FORTNOX_CREDENTIALS,
        flow_settings=flow_settings,
    )


def product_settings(**values) -> FlowSettings:
    return parse_settings("products_to_commerce", values)


def price_settings(**values) -> FlowSettings:
    return parse_settings("prices_to_commerce", values)


def stock_settings(**values) -> FlowSettings:
    return parse_settings("stock_to_commerce", values)


def customer_settings(**values) -> FlowSettings:
    return parse_settings("customers_to_commerce", values)


@pytest.fixture
def integration(db) -> Integration:
    return build_integration()


@pytest.fixture(scope="module")
def fortnox_server() -> Iterator[FortnoxSimulator]:
    """The Fortnox simulator over real HTTP, one per test module (tests reset it as they need)."""
    simulator = FortnoxSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def fortnox(fortnox_server: FortnoxSimulator) -> FortnoxSimulator:
    """The module's Fortnox simulator with its demo data only, and no rate limit of its own."""
    fortnox_server.reset(auth=True)
    fortnox_server.limiter.enabled = False
    fortnox_server.seed_demo()
    return fortnox_server
