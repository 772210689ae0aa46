"""A Fortnox refresh whose answer is lost: recovered where Fortnox allows it, and otherwise one
clear "reconnect Fortnox" state while the orders wait — then they go on by themselves."""

from __future__ import annotations

import base64

import pytest
import requests
from django.utils import timezone

from connectors.fortnox.client import tenant_of
from core.errors import SyncError
from integrations import services
from integrations.engine.clients import client_for
from integrations.engine.tokens import store_tokens
from integrations.flows.order_records import store_order
from integrations.models import Connector, Entity, LogEntry, Task
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def norce_server():
    simulator = NorceSimulator(seed=3)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def world(fortnox, norce_server, settings):
    """An integration connected to Fortnox by 'Connect to Fortnox' (a refresh token), whose access
    token has just expired, so the next call refreshes."""
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    norce_server.reset()
    integration = build_integration(
        norce_url=norce_server.url, fortnox_url=fortnox.url, flow_settings={"freight_article": "FRAKT"}
    )
    erp = integration.connectors.get(role=Connector.Role.ERP)
    issued = fortnox.issue_tokens("fortnox-client")
    store_tokens(erp, issued, grant_type="authorization_code")
    fortnox.expire_access_tokens()
    Connector.objects.filter(pk=erp.pk).update(token_expires_at=timezone.now())
    erp.refresh_from_db()
    tokens = dict(erp.tokens, expires_at=timezone.now().isoformat())
    Connector.objects.filter(pk=erp.pk).update(tokens=tokens)
    return {"integration": integration, "erp": Connector.objects.get(pk=erp.pk), "issued": issued}


def spend_refresh_token_elsewhere(fortnox, refresh_token: str) -> None:
    """Our earlier refresh reached Fortnox and rotated the token, but its answer never came back."""
    basic = base64.b64encode(b"fortnox-client:fortnox-secret-value").decode()
    answer = requests.post(
        f"{fortnox.url}/oauth-v1/token",
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        timeout=5,
    )
    assert answer.status_code == 200


def test_the_tenant_is_read_from_the_access_tokens_claim(world, fortnox):
    assert tenant_of(world["issued"]["access_token"]) == str(fortnox.tenant_id)
    assert tenant_of("not-a-jwt") == "" and tenant_of(None) == ""


def test_a_spent_refresh_token_moves_the_connector_to_its_service_account_when_fortnox_allows(world, fortnox):
    fortnox.require_service_consent = True
    fortnox.service_consents.add("fortnox-client")
    spend_refresh_token_elsewhere(fortnox, world["issued"]["refresh_token"])

    assert client_for(world["erp"]).company_information()["CompanyName"]
    erp = Connector.objects.get(pk=world["erp"].pk)
    assert erp.settings["grant"] == "client_credentials" and erp.settings["tenant_id"] == str(fortnox.tenant_id)
    assert not erp.needs_reconnect
    assert [t["grant_type"] for t in fortnox.issued_tokens][-1] == "client_credentials"
    assert client_for(erp).company_information()["CompanyName"]  # and it keeps working


def test_a_token_answer_lost_to_our_timeout_is_recovered_through_the_service_account(world, fortnox, settings):
    """Over real HTTP: Fortnox grants the refresh (the token is spent) and answers after our timeout."""
    settings.BRYGGA = {**settings.BRYGGA, "HTTP_TIMEOUT": 0.5}
    fortnox.service_consents.add("fortnox-client")  # the app's service account was approved
    fortnox.hold_token_answer, fortnox.hold_token_answers = 1.5, 1
    try:
        info = client_for(world["erp"]).company_information()
    finally:
        fortnox.hold_token_answer = 0.0
    assert info["CompanyName"]
    spent = world["issued"]["refresh_token"]
    # Sent once, answered late; sent once more (refused: spent); then the service account.
    assert fortnox.refresh_token_uses[spent] == 2
    assert [t["grant_type"] for t in fortnox.issued_tokens][-2:] == ["refresh_token", "client_credentials"]
    erp = Connector.objects.get(pk=world["erp"].pk)
    assert erp.settings["grant"] == "client_credentials" and not erp.needs_reconnect


def test_a_refresh_whose_request_never_arrived_is_sent_again_with_the_same_token(world, fortnox):
    real = requests.Session()

    class LosesTheFirstTokenRequest(requests.Session):
        lost = 0

        def request(self, method, url, **kwargs):
            if "/oauth-v1/token" in url and not self.lost:
                self.lost += 1
                raise requests.ConnectionError("connection reset before the request was sent")
            return real.request(method, url, **kwargs)

    session = LosesTheFirstTokenRequest()
    assert client_for(world["erp"], session=session).company_information()["CompanyName"]
    assert session.lost == 1
    assert fortnox.refresh_token_uses[world["issued"]["refresh_token"]] == 1
    assert not Connector.objects.get(pk=world["erp"].pk).needs_reconnect


def test_without_a_service_account_a_spent_token_stops_the_integration_at_once_and_orders_wait(
    world, fortnox, norce_server
):
    fortnox.require_service_consent = True  # the app may not use service accounts: a person must reconnect
    spend_refresh_token_elsewhere(fortnox, world["issued"]["refresh_token"])
    integration, flow = world["integration"], world["integration"].flows.get(kind="orders_to_erp")
    refs = [norce_server.place_order(push=False)["ClientOrderRef"] for _ in range(3)]
    ids = []
    for ref in refs:
        entity, _ = store_order(
            integration=integration,
            source_id=ref,
            payload=norce_server.render_order_request(ref),
            received_via="push",
            reference=ref,
        )
        ids.append(entity.pk)
    tasks = [
        services.create_task(
            integration=integration, flow=flow, trigger=Task.Trigger.ORDER_PUSH, params={"entity_ids": [entity_id]}
        )
        for entity_id in ids
    ]

    for _ in range(3):  # the first meets the refused refresh; every run after that waits at once
        for task in tasks:
            Task.objects.filter(pk=task.pk).update(next_retry_at=None)
            assert services.execute_task(task.pk) == Task.Status.QUEUED
    erp = Connector.objects.get(pk=world["erp"].pk)
    assert erp.needs_reconnect and "refresh token" in erp.reconnect_reason.lower()
    assert fortnox.invoices == {}
    for task in Task.objects.filter(pk__in=[t.pk for t in tasks]):
        assert (task.status, task.attempts, task.error_code) == (Task.Status.QUEUED, 0, "connector.reconnect_needed")
    assert set(Entity.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Entity.Status.PENDING}
    assert set(Entity.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {0}
    # One error says why (where it happened), not one per order and per retry.
    assert LogEntry.objects.filter(level=LogEntry.Level.ERROR, code="fortnox.invalid_refresh_token").count() == 1

    # A person reconnects (a new consent gives new tokens): everything goes on by itself.
    store_tokens(erp, fortnox.issue_tokens("fortnox-client"), grant_type="authorization_code")
    assert services.resume_after_reconnect(erp.pk) == 3
    for task in tasks:
        assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    assert sorted(i["ExternalInvoiceReference1"] for i in fortnox.invoices.values()) == sorted(refs)
    assert not Connector.objects.get(pk=erp.pk).needs_reconnect


def test_the_reconnect_state_is_shown_on_the_dashboard_the_connector_and_the_api(world, fortnox, admin_client):
    fortnox.require_service_consent = True
    spend_refresh_token_elsewhere(fortnox, world["issued"]["refresh_token"])
    erp = world["erp"]
    with pytest.raises(SyncError):
        client_for(erp).company_information()
    index = admin_client.get("/admin/").content.decode()
    assert "Needs a person now" in index and "Reconnect Fortnox" in index
    assert f"/admin/integrations/connector/{erp.pk}/change/" in index
    page = admin_client.get(f"/admin/integrations/connector/{erp.pk}/change/").content.decode()
    assert "no longer accepts Brygga&#x27;s authorisation" in page and "Connect to Fortnox" in page
    listing = admin_client.get("/admin/integrations/integration/").content.decode()
    assert "Reconnect Fortnox" in listing
    api = admin_client.get(f"/api/v1/integrations/{world['integration'].pk}/").json()
    assert api["reconnect_needed"] is True
    (fortnox_connector,) = [c for c in api["connectors"] if c["system"] == "fortnox"]
    assert fortnox_connector["needs_reconnect"] is True and fortnox_connector["reconnect_reason"]
    assert world["issued"]["refresh_token"] not in str(api) and world["issued"]["refresh_token"] not in index + page
