"""Seeding the demo: a merchant whose Norce ↔ Fortnox integration points at the simulators."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from connectors.tokens import store_tokens
from integrations import schedules
from integrations.models import Connector, Flow, Integration, Merchant, ScheduleRule

DEMO_SLUG = "demo-sportshop"


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


@transaction.atomic
def seed_demo_integration(*, norce_url: str, fortnox_url: str, fortnox_grant: dict) -> Integration:
    """(Re)create the demo merchant's integration. The simulators start empty on every run,
    so the integration's history starts over with them."""
    merchant, _ = Merchant.objects.get_or_create(slug=DEMO_SLUG, defaults={
        "name": "Demo Sportshop AB", "contact_email": "it@sportshop.example.com"})
    for old in Integration.objects.filter(merchant=merchant):
        for rule in old.schedule_rules.all():
            schedules.remove_schedule(rule)
        old.delete()
    integration = Integration.objects.create(merchant=merchant, name="Webshop ↔ Fortnox",
                                             order_exclusion_date=timezone.now() - timedelta(days=1))
    Connector.objects.create(
        integration=integration, role=Connector.Role.COMMERCE, system=Connector.System.NORCE, base_url=norce_url,
        settings={"application_id": 1244, "scope": "playground", "account_id": 10000, "currency_ids": {"1": "SEK"}},
        credentials={"client_id": "norce-client", "client_secret": "norce-secret-value",
                     "receiver_username": "norce", "receiver_password": secrets.token_urlsafe(16),
                     "event_secret": secrets.token_urlsafe(16)},
    )
    erp = Connector.objects.create(
        integration=integration, role=Connector.Role.ERP, system=Connector.System.FORTNOX, base_url=fortnox_url,
        auth_url=fortnox_url, credentials={"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"},
    )
    store_tokens(erp, fortnox_grant)
    flow = Flow.objects.create(integration=integration, kind="orders_to_erp", settings={"freight_article": "FRAKT"})
    rule = ScheduleRule.objects.create(integration=integration, name="Fail-safe order poll", interval_minutes=10)
    rule.flows.add(flow)
    transaction.on_commit(lambda: schedules.sync_schedule(rule))
    return integration
