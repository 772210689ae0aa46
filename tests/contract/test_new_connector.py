"""A new ERP is one package and one line in settings: with the fake ERP listed in
BRYGGA_CONNECTORS, the orders flow invoices Norce orders in it exactly once and Norce is told,
with no change anywhere else. The flow runs in this process; Norce is its simulator over HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from django.utils import timezone

from integrations import registry, services
from integrations.demo import MASTER_FLOWS, add_master_data_flows
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


def test_master_data_of_an_erp_added_as_one_package_reaches_norce_and_a_change_goes_alone(
    with_fake_erp, norce_server, settings, tmp_path
):
    norce_server.reset()
    norce_server.connect.job_delay = 0.05
    settings.BRYGGA = {**settings.BRYGGA, "SPOOL_DIR": str(tmp_path / "spool")}
    integration = fake_erp_integration(norce_url=norce_server.url)
    books = ledger(integration.connectors.get(role=Connector.Role.ERP).base_url)
    books.items.clear()
    books.clock = 1_780_000_000
    books.put_item("FK-1", "Kaffe 500 g", vat="12", price="88.39", stock="14")
    books.put_item("FK-2", "Te 100 g", vat="12", price="40.00", stock="0")
    books.put_item("FK-3", "Inslagning", vat="25", price="20.00", stock=None)
    flows = add_master_data_flows(
        integration,
        settings={kind: {"max_wait_seconds": 0, "job_wait_seconds": 15} for kind in MASTER_FLOWS},
    )

    for kind in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"):
        task = services.create_task(integration=integration, flow=flows[kind], trigger=Task.Trigger.MANUAL)
        services.execute_task(task.pk)
        task.refresh_from_db()
        assert task.status == Task.Status.SUCCEEDED, task.error_message
    run_queued(integration)

    assert norce_server.connect.sku("FK-1")["Status"] == 1 and norce_server.connect.sku("FK-3") is not None
    assert norce_server.connect.price("FK-1", "SEK-STD", 1)["PriceSale"] == 88.39
    assert norce_server.connect.onhand("FK-1", "MAIN", "MAIN")["OnhandValue"] == 14
    assert norce_server.connect.onhand("FK-3", "MAIN", "MAIN") is None  # a service has no stock
    products = Entity.objects.filter(integration=integration, data_type="product")
    assert set(products.values_list("status", flat=True)) == {Entity.Status.SYNCED}

    imports_before = len(norce_server.connect.imports)
    books.clock = int(timezone.now().timestamp()) + 60  # after the stock flow's cursor
    books.put_item("FK-2", "Te 100 g", vat="12", price="40.00", stock="25")
    stock = flows["stock_to_commerce"]
    task = services.create_task(integration=integration, flow=stock, trigger=Task.Trigger.MANUAL)
    services.execute_task(task.pk)
    run_queued(integration)
    assert norce_server.connect.onhand("FK-2", "MAIN", "MAIN")["OnhandValue"] == 25
    sent = norce_server.connect.imports[imports_before:]
    assert len(sent) == 1 and [row["PartNo"] for row in sent[0]["items"]] == ["FK-2"]
