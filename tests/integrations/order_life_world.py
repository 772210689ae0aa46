"""A Norce ↔ Fortnox integration over real HTTP (both simulators in this process) with the
orders flow and the deliveries, invoices and cancellations flow, for the order-life tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations import services
from integrations.engine.tokens import store_tokens
from integrations.flows.order_records import store_order
from integrations.models import Connector, Entity, Flow, Integration, Task
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration
from tests.integrations.test_relink import fortnox_action  # noqa: F401 - re-exported for the tests

LIFE = "order_life_to_commerce"


@pytest.fixture(scope="module")
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def norce(norce_server: NorceSimulator) -> NorceSimulator:
    norce_server.reset()
    norce_server.connect_limiter.enabled = False
    return norce_server


@pytest.fixture
def shop(fortnox, norce, settings) -> Integration:
    """Orders become Fortnox invoices and Norce is told Confirmed; the life flow is added."""
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    integration = build_integration(
        norce_url=norce.url, fortnox_url=fortnox.url, flow_settings={"freight_article": "FRAKT"}
    )
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox.issue_tokens("fortnox-client"))
    Flow.objects.create(integration=integration, kind=LIFE, settings={})
    return integration


def life_flow(integration: Integration) -> Flow:
    return integration.flows.get(kind=LIFE)


def orders_flow(integration: Integration) -> Flow:
    return integration.flows.get(kind="orders_to_erp")


def place_and_invoice(integration: Integration, norce: NorceSimulator, *, confirm: bool = True) -> dict[str, Any]:
    """A Norce order pushed to Brygga, invoiced in Fortnox and (with `confirm`) confirmed to Norce."""
    order = norce.place_order()
    ref = order["ClientOrderRef"]
    entity, _ = store_order(
        integration=integration,
        source_id=ref,
        payload=norce.render_order_request(order),
        received_via="push",
        reference=ref,
    )
    run(integration, orders_flow(integration), {"entity_ids": [entity.pk]}, trigger=Task.Trigger.ORDER_PUSH)
    if confirm:
        run(integration, orders_flow(integration), {"acknowledge": True}, trigger=Task.Trigger.FOLLOW_UP)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED, entity.last_error_message
    return {"ref": ref, "invoice": entity.target_id, "order": order, "entity": entity}


def run(integration: Integration, flow: Flow, params: dict[str, Any], *, trigger: str = Task.Trigger.MANUAL) -> Task:
    task = services.create_task(integration=integration, flow=flow, trigger=trigger, params=params)
    services.execute_task(task.pk)
    task.refresh_from_db()
    return task


def poll(integration: Integration) -> Task:
    return run(integration, life_flow(integration), {"mode": "incremental"}, trigger=Task.Trigger.SCHEDULE)


def life_entity(integration: Integration, key: str) -> Entity:
    return Entity.objects.get(integration=integration, data_type="fulfilment", source_id=key)


def invoices_told(norce: NorceSimulator, number: str) -> list[dict[str, Any]]:
    with norce.lock:
        return [i for i in norce.invoices if i["body"].get("InvoiceNo") == number]


def cancellations_told(norce: NorceSimulator, ref: str) -> list[dict[str, Any]]:
    with norce.lock:
        return [c for c in norce.cancellations if c["client_order_ref"] == ref]
