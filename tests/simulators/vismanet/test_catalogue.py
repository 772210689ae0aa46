"""A generated inventory of many items: lists computed per page, items materialised only when changed."""

from __future__ import annotations

import time
import tracemalloc
from datetime import datetime

from simulators.vismanet.server import VismaNetSimulator


def test_a_million_items_list_without_materialising(sim: VismaNetSimulator, api) -> None:
    sim.seed_generated(1_000_000)
    start = time.perf_counter()
    page = api("GET", "/v1/inventory", pageNumber=150, pageSize=5000, expandWarehouseDetail="true").json()
    assert time.perf_counter() - start < 5
    assert len(page) == 5000
    total = 1_000_000 + len(sim.inventory)
    assert page[0]["metadata"]["totalCount"] == total
    numbers = [i["inventoryNumber"] for i in page]
    assert numbers == sorted(numbers)
    assert sim.state_summary()["materialised_items"] == 0
    one = api("GET", f"/v1/inventory/{numbers[10]}").json()
    assert one["description"] == page[10]["description"] and one["warehouseDetails"][0]["warehouse"]["id"] == "MAIN"


def test_reading_the_whole_of_a_large_catalogue_stays_small_in_memory(sim: VismaNetSimulator, api) -> None:
    sim.seed_generated(120_000)
    tracemalloc.start()
    seen = 0
    for page_number in range(1, 26):
        page = api("GET", "/v1/inventory", pageNumber=page_number, pageSize=5000).json()
        seen += len(page)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == 120_000 + len(sim.inventory)
    assert peak < 150 * 1024 * 1024
    assert sim.state_summary()["materialised_items"] == 0


def test_a_changed_item_is_materialised_and_found_by_the_change_filters(sim: VismaNetSimulator, api) -> None:
    sim.seed_generated(10_000)
    sim.clock = lambda: datetime(2031, 1, 1, 9, 0)
    sim.set_stock("G0000042", 7)
    sim.set_price("G0000043", "12.34")
    assert sim.state_summary()["materialised_items"] == 2
    changed = api(
        "GET",
        "/v1/inventory",
        availabilityLastModifiedDateTime="2031-01-01",
        availabilityLastModifiedDateTimeCondition=">=",
        expandWarehouseDetail="true",
    ).json()
    assert [(i["inventoryNumber"], i["warehouseDetails"][0]["quantityOnHand"]) for i in changed] == [("G0000042", 7)]
    prices = api(
        "GET", "/v1/customerSalesPrice", lastModifiedDateTime="2031-01-01", lastModifiedDateTimeCondition=">"
    ).json()
    assert [(p["inventoryId"], p["price"]) for p in prices] == [("G0000043", 12.34)]
    # The list still counts every item once and keeps order across stored and generated items.
    page = api("GET", "/v1/inventory", pageSize=5000, pageNumber=1, inventoryNumber="G0000042").json()
    assert len(page) == 1 and page[0]["metadata"]["totalCount"] == 1
    all_prices = api("GET", "/v1/customerSalesPrice", pageSize=1000, priceType="Base").json()
    assert all_prices[0]["metadata"]["totalCount"] == 10_000 + len(sim.inventory) - 2


def test_generated_items_can_be_ordered_and_invoiced(sim: VismaNetSimulator, api) -> None:
    sim.seed_generated(500)
    body = {"customer": {"id": "10001"}, "orderLines": [{"inventoryId": "G0000007", "quantity": 1}]}
    assert api("POST", "/api/v3/salesorders", body).status_code == 201
    number = sim.ship_order("SO", "000001")
    assert sim.invoices[sim.invoice_shipment(number)]["invoiceLines"][0]["inventoryNumber"] == "G0000007"
    assert sim.state_summary()["materialised_items"] == 1
