"""Seeding the demo: two merchants whose integrations point at the simulators — one on Norce ↔
Fortnox, one on Norce ↔ Visma.net."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from integrations import schedules
from integrations.engine.tokens import store_tokens
from integrations.flows.master_settings import MASTER_KINDS
from integrations.models import Connector, Flow, Integration, Merchant, ScheduleRule

DEMO_SLUG = "demo-sportshop"
VISMANET_DEMO_SLUG = "demo-friluft"


@dataclass
class AdminLogin:
    username: str
    password: str
    token: str


def ensure_admin(username: str = "admin") -> AdminLogin:
    """An admin user with a fresh password, and an API token."""
    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"email": "admin@example.com"})
    password = secrets.token_urlsafe(9)
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return AdminLogin(username=username, password=password, token=token.key)


NORCE_SETTINGS = {"application_id": 1244, "scope": "playground", "account_id": 10000, "currency_ids": {"1": "SEK"}}


def create_norce_erp_integration(
    *,
    merchant: Merchant,
    name: str,
    norce_url: str,
    norce_credentials: dict[str, str],
    erp_system: str,
    erp_url: str,
    erp_credentials: dict[str, str],
    erp_auth_url: str = "",
    erp_settings: dict | None = None,
    norce_settings: dict | None = None,
    flow_settings: dict | None = None,
    order_exclusion_date=None,
) -> Integration:
    """An integration of Norce and an ERP with its two connectors and the orders flow (used by
    the demo, tests and benchmarks)."""
    integration = Integration.objects.create(merchant=merchant, name=name, order_exclusion_date=order_exclusion_date)
    Connector.objects.create(
        integration=integration,
        role=Connector.Role.COMMERCE,
        system=Connector.System.NORCE,
        base_url=norce_url,
        settings=dict(norce_settings or NORCE_SETTINGS),
        credentials=norce_credentials,
    )
    Connector.objects.create(
        integration=integration,
        role=Connector.Role.ERP,
        system=erp_system,
        base_url=erp_url,
        auth_url=erp_auth_url or erp_url,
        settings=dict(erp_settings or {}),
        credentials=erp_credentials,
    )
    Flow.objects.create(integration=integration, kind="orders_to_erp", settings=flow_settings or {})
    return integration


def create_norce_fortnox_integration(
    *,
    merchant: Merchant,
    name: str,
    norce_url: str,
    fortnox_url: str,
    norce_credentials: dict[str, str],
    fortnox_credentials: dict[str, str],
    norce_settings: dict | None = None,
    flow_settings: dict | None = None,
    order_exclusion_date=None,
) -> Integration:
    """A Norce ↔ Fortnox integration with the orders flow."""
    return create_norce_erp_integration(
        merchant=merchant,
        name=name,
        norce_url=norce_url,
        norce_credentials=norce_credentials,
        norce_settings=norce_settings,
        erp_system=Connector.System.FORTNOX,
        erp_url=fortnox_url,
        erp_credentials=fortnox_credentials,
        flow_settings=flow_settings,
        order_exclusion_date=order_exclusion_date,
    )


MASTER_FLOWS = MASTER_KINDS


def add_master_data_flows(
    integration: Integration, *, settings: dict[str, dict] | None = None, with_schedules: bool = False
) -> dict[str, Flow]:
    """The ERP → Norce flows (products, prices, stock, customers); with schedules: stock
    every 5 minutes, the others every 15, and a weekly full file on Sunday night."""
    flows = {
        kind: Flow.objects.create(integration=integration, kind=kind, settings=(settings or {}).get(kind, {}))
        for kind in MASTER_FLOWS
    }
    if with_schedules:
        rules = [
            (
                ScheduleRule(integration=integration, name="Stock every 5 minutes", interval_minutes=5),
                ["stock_to_commerce"],
            ),
            (
                ScheduleRule(
                    integration=integration, name="Products, prices and customers every 15 minutes", interval_minutes=15
                ),
                ["products_to_commerce", "prices_to_commerce", "customers_to_commerce"],
            ),
            (
                ScheduleRule(
                    integration=integration,
                    name="Weekly full file (Sunday 03:00)",
                    schedule_type=ScheduleRule.Type.CRON,
                    cron="0 3 * * 0",
                    mode=ScheduleRule.Mode.FULL,
                ),
                ["products_to_commerce", "prices_to_commerce", "stock_to_commerce"],
            ),
        ]
        for rule, kinds in rules:
            rule.save()
            rule.flows.add(*[flows[k] for k in kinds])
            transaction.on_commit(lambda r=rule: schedules.sync_schedule(r))
    return flows


def _fresh_merchant(slug: str, name: str, email: str) -> Merchant:
    """The demo merchant, its earlier integrations (and their schedules) removed: the simulators
    start empty on every run, so the integrations' history starts over with them."""
    merchant, _ = Merchant.objects.get_or_create(slug=slug, defaults={"name": name, "contact_email": email})
    for old in Integration.objects.filter(merchant=merchant):
        for rule in old.schedule_rules.all():
            schedules.remove_schedule(rule)
        old.delete()
    return merchant


def _demo_norce_credentials() -> dict[str, str]:
    return {
        "client_id": "norce-client",
        "client_secret": "norce-secret-value",
        "receiver_username": "norce",
        "receiver_password": secrets.token_urlsafe(16),
        "event_secret": secrets.token_urlsafe(16),
    }


def _add_fail_safe_poll(integration: Integration) -> None:
    rule = ScheduleRule.objects.create(integration=integration, name="Fail-safe order poll", interval_minutes=10)
    rule.flows.add(integration.flows.get(kind="orders_to_erp"))
    transaction.on_commit(lambda: schedules.sync_schedule(rule))


@transaction.atomic
def seed_demo_integration(*, norce_url: str, fortnox_url: str, fortnox_grant: dict) -> Integration:
    """(Re)create the Fortnox demo merchant's integration: invoices in Fortnox, master data and
    the order's life back to Norce."""
    merchant = _fresh_merchant(DEMO_SLUG, "Demo Sportshop AB", "it@sportshop.example.com")
    integration = create_norce_fortnox_integration(
        merchant=merchant,
        name="Webshop ↔ Fortnox",
        norce_url=norce_url,
        fortnox_url=fortnox_url,
        order_exclusion_date=timezone.now() - timedelta(days=1),
        flow_settings={"freight_article": "FRAKT"},
        norce_credentials=_demo_norce_credentials(),
        fortnox_credentials={"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"},
    )
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox_grant)
    add_master_data_flows(integration, with_schedules=True)
    add_order_life_flow(integration)
    _add_fail_safe_poll(integration)
    return integration


@transaction.atomic
def seed_vismanet_demo_integration(
    *, norce_url: str, vismanet_url: str, tenant_id: str, client_id: str, client_secret: str
) -> Integration:
    """(Re)create the Visma.net demo merchant's integration: each web order becomes a Visma.net
    sales order (SalesOrders V3), which the warehouse ships and invoices; the shipment goes back
    to Norce as a delivery note with its tracking number, the invoice as a Norce invoice. Master
    data flows from Visma.net to Norce on schedules, and at once on Visma.net's notifications."""
    merchant = _fresh_merchant(VISMANET_DEMO_SLUG, "Demo Friluft AB", "it@friluft.example.com")
    integration = create_norce_erp_integration(
        merchant=merchant,
        name="Webshop ↔ Visma.net",
        norce_url=norce_url,
        norce_credentials=_demo_norce_credentials(),
        erp_system=Connector.System.VISMANET,
        erp_url=vismanet_url,
        # The simulator serves the API, Visma Connect and SalesOrders V3 on one host.
        erp_settings={"tenant_id": tenant_id, "salesorder_url": vismanet_url},
        erp_credentials={
            "client_id": client_id,
            "client_secret": client_secret,
            "webhook_secret": secrets.token_urlsafe(16),
        },
        order_exclusion_date=timezone.now() - timedelta(days=1),
        flow_settings={"freight_article": "FRAKT", "document": "order"},
    )
    add_master_data_flows(integration, with_schedules=True)
    add_order_life_flow(integration)
    _add_fail_safe_poll(integration)
    return integration


def add_order_life_flow(integration: Integration, *, settings: dict | None = None) -> Flow:
    """Deliveries, ERP invoices and cancellations back to Norce, polled every 5 minutes (the
    ERP's notifications, where it sends them, trigger it at once)."""
    flow = Flow.objects.create(integration=integration, kind="order_life_to_commerce", settings=settings or {})
    rule = ScheduleRule.objects.create(
        integration=integration, name="Deliveries, invoices and cancellations every 5 minutes", interval_minutes=5
    )
    rule.flows.add(flow)
    transaction.on_commit(lambda: schedules.sync_schedule(rule))
    return flow
