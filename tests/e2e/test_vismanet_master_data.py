"""Master data from Visma.net into Norce through Norce Connect — products, prices, stock and
customers — over real HTTP with a real q cluster: an incremental run reads what Visma.net's
change filters let through since the cursor and sends only what changed; a notification sends
the record it names at once; a full file makes Norce equal to Visma.net (also through the
`resync` command)."""

from __future__ import annotations

import io
import os
import re
from decimal import Decimal

import pytest
import requests
from django.core.management import call_command

from connectors.vismanet.wrapper import wrap
from integrations import services
from integrations.demo import add_master_data_flows
from integrations.models import ConnectJob, Entity, Flow, LogEntry, ResyncRun, Task
from simulators.vismanet.demo import FREIGHT_ITEM
from tests.e2e.conftest import MASTER_SETTINGS
from tests.e2e.harness import wait_until
from tests.e2e.test_master_data import imported_part_nos, run, wait_finished, wait_synced
from tests.e2e.test_resync_command import resync, spool  # noqa: F401 (spool: a fixture)

pytestmark = pytest.mark.e2e

ITEM = "KO-5001"  # a demo catalogue item (a stock item in warehouse MAIN)
PRICE_LIST, WAREHOUSE, LOCATION = "SEK-WEB", "WH1", "LOC1"

# The Fortnox settings, plus Visma.net's part: the Base sales prices (no customer price class)
# and the stock of warehouse MAIN only. No overlap: Visma.net stamps changes to the millisecond,
# so a run reads exactly what changed since the last one, and the read count shows what the
# change filter let through.
VISMA_MASTER_SETTINGS = {kind: {**values, "overlap_minutes": 0} for kind, values in MASTER_SETTINGS.items()}
VISMA_MASTER_SETTINGS["prices_to_commerce"]["vismanet_price_class"] = ""
VISMA_MASTER_SETTINGS["stock_to_commerce"]["vismanet_warehouses"] = ["MAIN"]


@pytest.fixture
def visma_master(visma_wired, norce) -> dict[str, Flow]:
    """The Visma.net integration's four master-data flows (ERP → Norce), sending at once, with
    Norce's Connect jobs processed 0.2 s after they are queued. Returns {kind: Flow}."""
    norce.connect.job_delay = 0.2
    return add_master_data_flows(
        visma_wired, settings={kind: dict(values) for kind, values in VISMA_MASTER_SETTINGS.items()}
    )


# -- helpers -----------------------------------------------------------------------------------
def cursor(flow: Flow):
    return services.get_cursor(flow.integration, flow.data_type, flow.direction)


def read_report(task: Task) -> dict:
    """What the run's read step logged: read, changed, unchanged … and the `since` it asked for."""
    (log,) = LogEntry.objects.filter(task=task, details__has_key="since")
    return log.details


def items(vismanet) -> dict[str, dict]:
    with vismanet.lock:
        return {number: dict(item) for number, item in vismanet.inventory.items()}


def stock_items(vismanet) -> list[str]:
    return [n for n, item in items(vismanet).items() if item["type"] == "FinishedGoodItem"]


def base_price(vismanet, number: str) -> Decimal:
    with vismanet.lock:
        return vismanet.base_price(vismanet.company(), vismanet.inventory[number])


def since_seen(norce, seen: int) -> list[dict]:
    return norce.connect.imports[seen:]


def put_customer(vismanet, number: str, **fields) -> None:
    """Change a customer in Visma.net as its API would (PUT /v1/customer/<number>, wrapped)."""
    token = vismanet.issue_tokens()["access_token"]
    response = requests.put(
        f"{vismanet.url}/v1/customer/{number}",
        json=wrap(fields),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text


def first_runs(flows: dict[str, Flow], vismanet) -> None:
    """Every item, price and stock level of Visma.net in Norce (products first)."""
    products, prices, stock = (flows[k] for k in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"))
    wait_finished(run(products))
    wait_synced(products, *items(vismanet))
    for task in (run(prices), run(stock)):
        wait_finished(task)
    wait_synced(prices, *(f"{n}@{PRICE_LIST}/1" for n in items(vismanet)))
    wait_synced(stock, *(f"{n}@{WAREHOUSE}/{LOCATION}" for n in stock_items(vismanet)))


# -- 1. incremental runs -------------------------------------------------------------------------------
def test_a_change_in_visma_is_read_by_the_change_filter_and_only_that_field_is_sent(
    visma_master, norce, vismanet, cluster
):
    vismanet.configure_webhooks(None)  # the schedule alone: what the change filters let through
    products, prices, stock = (
        visma_master[k] for k in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce")
    )
    catalogue = items(vismanet)
    first_runs(visma_master, vismanet)
    # The whole catalogue is in Norce, as Visma.net holds it.
    for number, item in catalogue.items():
        sku = norce.connect.sku(number)
        assert sku["Status"] == 1, number
        assert sku["Cultures"]["sv-SE"]["ErpName"] == item["description"]
        assert (sku.get("EanCode") or "") == item["ean"], number
        price = norce.connect.price(number, PRICE_LIST, 1)
        assert Decimal(str(price["PriceSale"])) == base_price(vismanet, number), number
    for number in stock_items(vismanet):
        onhand = norce.connect.onhand(number, WAREHOUSE, LOCATION)
        assert Decimal(str(onhand["OnhandValue"])) == vismanet.on_hand(number), number
    assert norce.connect.onhand(FREIGHT_ITEM, WAREHOUSE, LOCATION) is None  # not kept in stock
    assert norce.connect.sku(ITEM)["VatRates"] == [{"SalesArea": 1, "Rate": 25}]

    # A changed EAN: Visma.net's change filter lets only that item through; only the EAN goes out.
    before = cursor(products)
    seen = len(norce.connect.imports)
    vismanet.seed_inventory([{"inventoryNumber": ITEM, "ean": "7350000000024"}])
    task = wait_finished(run(products))
    wait_synced(products, ITEM)
    report = read_report(task)
    assert (report["read"], report["changed"]) == (1, 1)
    assert report["since"] == before.isoformat()  # read from where the last run started
    assert cursor(products) > before
    later = since_seen(norce, seen)
    assert [i["method"] for i in later] == ["ImportProducts"]
    header = later[0]["header"]
    assert header["SkuFieldsThatAreSet"] == [5]  # EanCode
    assert header["ProductFieldsThatAreSet"] == [4]  # Variants (structure only)
    assert not [name for name in header if "Culture" in name], header
    assert header["FullFile"] is False
    assert later[0]["items"][0]["Variants"][0]["Skus"] == [{"PartNo": ITEM, "EanCode": "7350000000024"}]
    assert norce.connect.sku(ITEM)["EanCode"] == "7350000000024"

    # A changed description: the culture lists only.
    before, seen = cursor(products), len(norce.connect.imports)
    vismanet.seed_inventory([{"inventoryNumber": ITEM, "description": "Kaffe mörkrost 500 g"}])
    task = wait_finished(run(products))
    wait_synced(products, ITEM)
    assert read_report(task)["read"] == 1 and cursor(products) > before
    (change,) = since_seen(norce, seen)
    assert change["header"]["ProductCultureFieldsThatAreSet"] == [0]  # Name
    assert change["header"]["SkuCultureFieldsThatAreSet"] == [0]  # ErpName
    assert "SkuFieldsThatAreSet" not in change["header"]
    assert imported_part_nos([change]) == [ITEM]
    assert norce.connect.product_of(ITEM)["Cultures"]["sv-SE"]["Name"] == "Kaffe mörkrost 500 g"
    assert norce.connect.sku(ITEM)["EanCode"] == "7350000000024"

    # Inactive in Visma.net → Inactive (5) in Norce.
    seen = len(norce.connect.imports)
    vismanet.seed_inventory([{"inventoryNumber": ITEM, "status": "Inactive"}])
    wait_finished(run(products))
    wait_until(lambda: norce.connect.sku(ITEM)["Status"] == 5, timeout=30, message="the SKU inactive in Norce")
    (change,) = since_seen(norce, seen)
    assert change["header"]["SkuFieldsThatAreSet"] == [1] and imported_part_nos([change]) == [ITEM]  # Status

    # A new Base price: that price row, PriceSale only.
    before, seen = cursor(prices), len(norce.connect.imports)
    vismanet.set_price(ITEM, Decimal("211.20"))
    task = wait_finished(run(prices))
    wait_synced(prices, f"{ITEM}@{PRICE_LIST}/1")
    assert read_report(task)["read"] == 1 and cursor(prices) > before
    (change,) = since_seen(norce, seen)
    assert change["method"] == "ImportSkuPriceLists"
    assert change["header"]["SkuPriceListFieldsThatAreSet"] == [3]  # PriceSale
    assert len(change["items"]) == 1
    row = change["items"][0]
    assert (row["PartNo"], row["PriceListCode"], row["QuantityBreak"]) == (ITEM, PRICE_LIST, 1)
    assert Decimal(str(row["PriceSale"])) == Decimal("211.20")
    assert set(row) == {"PartNo", "PriceListCode", "QuantityBreak", "CurrencyCode", "PriceSale"}

    # A stock count in MAIN: that stock row, OnhandValue only.
    before, seen = cursor(stock), len(norce.connect.imports)
    vismanet.set_stock(ITEM, 12)
    task = wait_finished(run(stock))
    wait_synced(stock, f"{ITEM}@{WAREHOUSE}/{LOCATION}")
    assert read_report(task)["read"] == 1 and cursor(stock) > before
    (change,) = since_seen(norce, seen)
    assert change["method"] == "ImportOnhands"
    assert change["header"]["SkuOnhandFieldsThatAreSet"] == [3]  # OnhandValue
    assert change["items"] == [
        {"PartNo": ITEM, "WarehouseCode": WAREHOUSE, "LocationCode": LOCATION, "OnhandValue": 12}
    ]

    # Stock in a warehouse the flow does not read (vismanet_warehouses: MAIN) changes nothing in Norce.
    seen = len(norce.connect.imports)
    vismanet.set_stock(ITEM, 40, warehouse="RETUR")
    task = wait_finished(run(stock))
    report = read_report(task)
    assert (report["read"], report["changed"], report["unchanged"]) == (1, 0, 1)
    assert since_seen(norce, seen) == []
    assert norce.connect.onhand(ITEM, WAREHOUSE, LOCATION)["OnhandValue"] == 12
    assert not LogEntry.objects.filter(level=LogEntry.Level.ERROR).exists()


# -- 2. notifications --------------------------------------------------------------------------------
def test_a_visma_notification_sends_the_item_it_names_without_waiting_for_the_schedule(
    visma_master, norce, vismanet, cluster
):
    products, prices, stock = (
        visma_master[k] for k in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce")
    )
    first_runs(visma_master, vismanet)
    cursors = {flow.kind: cursor(flow) for flow in (products, prices, stock)}
    earlier = set(Task.objects.values_list("pk", flat=True))

    price = Decimal("107.14")
    # A new item in Visma.net (InventoryItem.Created): its SKU, price and stock reach Norce,
    # the price and stock rows once the products import has created the SKU.
    seen = len(norce.connect.imports)
    vismanet.seed_inventory(
        [
            {
                "inventoryNumber": "BRY-100",
                "description": "Termosmugg blå",
                "vatRate": 12,
                "defaultPrice": price,
                "ean": "7350000000017",
                "onHand": 25,
            }
        ]
    )
    wait_until(lambda: norce.connect.sku("BRY-100"), timeout=60, message="the new item's SKU in Norce")
    wait_until(
        lambda: Decimal(str((norce.connect.price("BRY-100", PRICE_LIST, 1) or {}).get("PriceSale", 0))) == price,
        timeout=60,
        message="the new item's price in Norce",
    )
    wait_until(
        lambda: (norce.connect.onhand("BRY-100", WAREHOUSE, LOCATION) or {}).get("OnhandValue") == 25,
        timeout=60,
        message="the new item's stock in Norce",
    )
    wait_synced(products, "BRY-100")
    wait_synced(prices, f"BRY-100@{PRICE_LIST}/1")
    wait_synced(stock, f"BRY-100@{WAREHOUSE}/{LOCATION}")
    sku = norce.connect.sku("BRY-100")
    assert sku["Status"] == 1 and sku["EanCode"] == "7350000000017"
    assert sku["VatRates"] == [{"SalesArea": 1, "Rate": 12}]
    assert norce.connect.product_of("BRY-100")["Cultures"]["sv-SE"]["Name"] == "Termosmugg blå"
    assert {i["method"] for i in since_seen(norce, seen)} == {"ImportProducts", "ImportSkuPriceLists", "ImportOnhands"}
    assert all(imported_part_nos([i]) == ["BRY-100"] for i in since_seen(norce, seen))
    methods = [i["method"] for i in since_seen(norce, seen)]
    assert methods.index("ImportProducts") < methods.index("ImportSkuPriceLists")
    assert methods.index("ImportProducts") < methods.index("ImportOnhands")

    # A changed item (InventoryItem.Updated): only its name goes out.
    for kind in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"):
        wait_until(
            lambda k=kind: not Task.objects.filter(flow=visma_master[k]).exclude(status__in=Task.FINISHED).exists(),
            timeout=60,
            message=f"the {kind} tasks of the new item ended",
        )
    seen = len(norce.connect.imports)
    vismanet.seed_inventory([{"inventoryNumber": ITEM, "description": "Kaffe mörkrost 500 g"}])
    wait_until(
        lambda: norce.connect.product_of(ITEM)["Cultures"]["sv-SE"]["Name"] == "Kaffe mörkrost 500 g",
        timeout=60,
        message="the new name in Norce",
    )
    wait_synced(products, ITEM)
    for kind in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"):
        wait_until(
            lambda k=kind: (
                Task.objects.filter(flow=visma_master[k], params={"keys": [ITEM]})
                .filter(status__in=Task.FINISHED)
                .exists()
            ),
            timeout=60,
            message=f"the {kind} task of the notice ended",
        )
    (change,) = since_seen(norce, seen)  # price and stock read it again and found nothing changed
    assert change["method"] == "ImportProducts" and imported_part_nos([change]) == [ITEM]
    assert change["header"]["ProductCultureFieldsThatAreSet"] == [0]

    # Nothing ran on a schedule or by hand: the notifications named the items, and the cursors
    # stayed where they were (the next scheduled run still reads everything since them).
    new = Task.objects.exclude(pk__in=earlier)
    assert set(new.values_list("trigger", flat=True)) <= {Task.Trigger.WEBHOOK, Task.Trigger.FOLLOW_UP}
    for flow in (products, prices, stock):
        named = [t.params for t in new.filter(flow=flow, trigger=Task.Trigger.WEBHOOK).order_by("pk")]
        assert named == [{"keys": ["BRY-100"]}, {"keys": [ITEM]}], (flow.kind, named)
        assert cursor(flow) == cursors[flow.kind]
    vismanet.wait_for_webhooks(30)
    with vismanet.lock:
        notices = [(d["body"]["event"], d["body"]["id"], d["delivered"]) for d in vismanet.webhook_deliveries]
    assert notices == [("InventoryItem.Created", "BRY-100", 1), ("InventoryItem.Updated", ITEM, 1)]


# -- 3. a full file ----------------------------------------------------------------------------------
def test_a_full_mode_run_sends_the_whole_catalogue_and_deactivates_what_visma_does_not_have(
    visma_master, norce, vismanet, cluster
):
    products = visma_master["products_to_commerce"]
    norce.connect.seed_skus(["OLD-1", {"PartNo": "OLD-2", "Status": "Active"}])
    vismanet.configure_webhooks(None)
    vismanet.seed_inventory([{"inventoryNumber": "HB-5102", "status": "Inactive"}])

    task = wait_finished(run(products, params={"mode": "full"}), timeout=90)
    assert task.status == Task.Status.SUCCEEDED, task.status
    run_ = wait_until(
        lambda: ResyncRun.objects.filter(
            flow=products, status__in=[ResyncRun.Status.DONE, ResyncRun.Status.FAILED]
        ).first(),
        timeout=60,
        message="the full file to end",
    )
    assert run_.status == ResyncRun.Status.DONE, run_.error
    catalogue = items(vismanet)
    (full,) = norce.connect.imports
    assert full["full_file"] is True and full["method"] == "ImportProducts"
    assert full["count"] == len(catalogue) > 40
    assert sorted(imported_part_nos([full])) == sorted(catalogue)
    assert run_.items == len(catalogue)
    job = ConnectJob.objects.get(flow=products)
    assert job.full_file and job.status == ConnectJob.Status.SUCCEEDED
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 2
    # What only Norce had is Inactive; every Visma.net item is there, active as in Visma.net.
    assert norce.connect.sku("OLD-1")["Status"] == 5
    assert norce.connect.sku("OLD-2")["Status"] == 5
    for number, item in catalogue.items():
        assert norce.connect.sku(number)["Status"] == (5 if item["status"] == "Inactive" else 1), number
        assert norce.connect.product_of(number)["Cultures"]["sv-SE"]["Name"] == item["description"]
    assert norce.connect.sku("HB-5102")["Status"] == 5


# -- 4. the resync command -----------------------------------------------------------------------------
def test_the_resync_command_dry_runs_then_makes_norce_equal_to_visma(visma_wired, visma_master, norce, vismanet, spool):
    norce.connect.seed_skus(["OLD-1", "OLD-2", "OLD-3"])
    catalogue = items(vismanet)

    output = resync(visma_wired, "--full", "--dry-run")
    assert "Dry run (full file): nothing was sent or changed." in output
    read = int(re.search(r"read from the ERP:\s+([\d,]+)", output).group(1).replace(",", ""))
    assert read == len(catalogue)
    assert int(re.search(r"would deactivate:\s+([\d,]+)", output).group(1).replace(",", "")) >= 3
    assert norce.connect.imports == [] and not ResyncRun.objects.exists() and not ConnectJob.objects.exists()
    assert norce.connect.sku("OLD-1")["Status"] == 1

    output = resync(visma_wired, "--full")
    run_ = ResyncRun.objects.get()
    assert run_.status == ResyncRun.Status.DONE, output
    assert f"Full file #{run_.pk} done" in output
    (full,) = norce.connect.imports
    assert full["full_file"] is True and full["method"] == "ImportProducts"
    assert full["count"] == run_.items == len(catalogue)
    assert ConnectJob.objects.get().status == ConnectJob.Status.SUCCEEDED
    assert [norce.connect.sku(f"OLD-{i}")["Status"] for i in (1, 2, 3)] == [5, 5, 5]
    for number, item in catalogue.items():
        assert norce.connect.sku(number)["Status"] == 1, number
        assert norce.connect.product_of(number)["Cultures"]["sv-SE"]["Name"] == item["description"]
    assert not os.path.exists(run_.spool_path)

    # An incremental resync of the prices (from no cursor: everything) sends every Base price.
    out = io.StringIO()
    call_command("resync", str(visma_wired.pk), "prices", "--no-progress", stdout=out, stderr=io.StringIO())
    assert f"Read {len(catalogue)}: {len(catalogue)} changed" in out.getvalue(), out.getvalue()
    for number in catalogue:
        price = norce.connect.price(number, PRICE_LIST, 1)
        assert Decimal(str(price["PriceSale"])) == base_price(vismanet, number), number
    assert not Entity.objects.filter(data_type="price").exclude(status=Entity.Status.SYNCED).exists()


# -- 5. customers ------------------------------------------------------------------------------------
def test_customers_reach_norce_as_people_and_companies_and_a_notified_change_sends_that_field(
    visma_master, norce, vismanet, cluster
):
    flow = visma_master["customers_to_commerce"]
    with vismanet.lock:
        customers = {number: dict(c) for number, c in vismanet.customers.items()}
    people = sorted(n for n, c in customers.items() if not c["corporateId"])
    companies = sorted(n for n, c in customers.items() if c["corporateId"])
    assert len(people) == 12 and len(companies) == 8

    wait_finished(run(flow))
    wait_synced(flow, *customers)
    person = norce.connect.customer(people[0])
    anna = customers[people[0]]
    assert person["Code"] == people[0]
    assert (person["FirstName"], person["LastName"]) == tuple(anna["name"].split(" ", 1))
    assert person["EmailAddress"] == anna["mainContact"]["email"]
    assert person["InvoiceAddress"]["City"] == anna["mainAddress"]["city"]
    firm = norce.connect.company(companies[0])
    company = customers[companies[0]]
    assert firm["OrganizationNo"] == company["corporateId"]
    assert firm["Name"] == company["name"]
    assert firm["EmailAddress"] == company["mainContact"]["email"]
    imported = {
        method: sorted(item["Code"] for i in norce.connect.imports if i["method"] == method for item in i["items"])
        for method in ("ImportCustomers", "ImportCompanies")
    }
    assert imported == {"ImportCustomers": people, "ImportCompanies": companies}

    # A changed e-mail address, made through Visma.net's API: its Customer.Updated notification
    # sends that field of that customer, with no run of the flow by hand or schedule.
    earlier = set(Task.objects.values_list("pk", flat=True))
    seen = len(norce.connect.imports)
    put_customer(vismanet, people[0], mainContact={"email": "anna@svensson.example.se"})
    wait_until(
        lambda: norce.connect.customer(people[0]).get("EmailAddress") == "anna@svensson.example.se",
        timeout=60,
        message="the new e-mail address in Norce",
    )
    wait_synced(flow, people[0])
    (change,) = since_seen(norce, seen)
    assert change["method"] == "ImportCustomers"
    assert change["header"]["CustomerFieldsThatAreSet"] == [3]  # EmailAddress
    assert change["items"] == [{"Type": 1, "Code": people[0], "EmailAddress": "anna@svensson.example.se"}]
    assert norce.connect.customer(people[0])["FirstName"] == person["FirstName"]
    (notice,) = Task.objects.exclude(pk__in=earlier).filter(trigger=Task.Trigger.WEBHOOK)
    assert notice.flow_id == flow.pk and notice.params == {"keys": [people[0]]}
