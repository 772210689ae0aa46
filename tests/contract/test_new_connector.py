"""A new ERP is one package and one line in settings: with the fake ERP listed in
BRYGGA_CONNECTORS, the orders flow invoices Norce orders in it exactly once and Norce is told,
with no change anywhere else. The flow runs in this process; Norce is its simulator over HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from integrations import registry, services
from integrations.flows.order_records import store_order
from integrations.models import Connector, Entity, Reference, Task
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from simulators.norce.server import NorceSimulator
from tests.contract.conftest import fake_erp_integration
from tests.contract.fake_erp.client import ledger

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=13)
    simulator.start()
    yield simulator
    simulator.stop()


def run_queued(integration) -> None:
    while True:
        queued = list(Task.objects.filter(integration=integration, status=Task.Status.QUEUED).order_by("pk"))
        if not queued:
            return
        for task in queued:
            services.execute_task(task.pk)


def test_orders_are_invoiced_once_in_an_erp_added_as_one_package(with_fake_erp, norce_server):
    norce_server.reset()
    assert registry.system("fakeerp").label == "Fake ERP"
    integration = fake_erp_integration(norce_url=norce_server.url, flow_settings={"freight_article": "FRAKT"})
    erp = integration.connectors.get(role=Connector.Role.ERP)
    books = ledger(erp.base_url)
    assert services.test_connection(erp.pk) == (True, f"Fake ERP company at {erp.base_url}")

    entities = []
    for number, ref in enumerate(("91001", "91002", "91003")):
        body = generate_order(random.Random(number), order_ref=ref, catalogue=DEMO_CATALOGUE)
        body = {key: value for key, value in body.items() if not key.startswith("_")}
        norce_server.place_order(body, push=False)
        entity, _ = store_order(
            integration=integration, source_id=ref, payload=body, received_via="push", reference=ref
        )
        entities.append(entity)
    flow = integration.flows.get()
    ids = [e.pk for e in entities]
    for _ in range(2):  # the second run is a retry of the same orders: nothing is created twice
        task = services.create_task(
            integration=integration, flow=flow, trigger=Task.Trigger.ORDER_PUSH, params={"entity_ids": ids}
        )
        services.execute_task(task.pk)
    run_queued(integration)

    invoices = [i for i in books.invoices.values() if not i["credit_of"]]
    assert sorted(i["reference"] for i in invoices) == ["91001", "91002", "91003"]
    assert books.calls.count("create_invoice") == 3
    for entity in Entity.objects.filter(pk__in=ids):
        assert entity.status == Entity.Status.SYNCED, entity.last_error_message
        reference = Reference.objects.get(integration=integration, data_type="order", source_id=entity.source_id)
        assert reference.target_id == entity.target_id
        assert books.invoices[entity.target_id]["reference"] == entity.source_id
        assert entity.acknowledged_at is not None
    told = {str(s["client_order_ref"]): s["erp_order_no"] for s in norce_server.order_statuses}
    assert told == {e.source_id: e.target_id for e in Entity.objects.filter(pk__in=ids)}
    logged = Entity.objects.get(pk=ids[0]).logs.filter(code="order.invoiced").first()
    assert logged is not None and "Fake ERP invoice" in logged.message
