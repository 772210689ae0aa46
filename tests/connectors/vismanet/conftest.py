"""Fixtures: a Visma.net connector (the usual world's ERP connector, switched to Visma.net) and its
client over a fake HTTP edge."""

from __future__ import annotations

import pytest
import requests

from integrations.engine.clients import client_for
from integrations.models import Connector
from tests.connectors.vismanet.fake_http import API, AUTH, TENANT, FakeVisma

CREDENTIALS = {"client_id": "visma-client", "client_secret": "visma-secret-value", "webhook_secret": "hook-secret"}


def make_vismanet(connector: Connector, *, base_url: str = API, auth_url: str = AUTH, **settings) -> Connector:
    connector.system = "vismanet"
    connector.base_url = base_url
    connector.auth_url = auth_url
    connector.settings = {"tenant_id": TENANT, **settings}
    connector.credentials = dict(CREDENTIALS)
    connector.tokens = {}
    connector.save()
    return connector


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}


@pytest.fixture
def connector(integration) -> Connector:
    return make_vismanet(integration.connectors.get(role=Connector.Role.ERP))


@pytest.fixture
def fake() -> FakeVisma:
    return FakeVisma()


def session_for(fake: FakeVisma) -> requests.Session:
    session = requests.Session()
    session.mount("http://", fake)
    session.mount("https://", fake)
    return session


@pytest.fixture
def client(connector, fake):
    return client_for(connector, session=session_for(fake))
