"""Master data from Fortnox into Norce through Norce Connect — products, prices, stock and
customers — over real HTTP with a real q cluster: what Norce ends up holding, what each
import carried, and how rejected rows, failed jobs, 429 storms and lost events end."""

from __future__ import annotations

import time

import pytest
import requests

from integrations import services
from integrations.flows import connect_jobs
from integrations.models import ConnectJob, Connector, Entity, Flow, LogEntry, Task
from tests.e2e.harness import QCluster, wait_until

pytestmark = pytest.mark.e2e

CONNECT = "/commerce/connect/"


# -- helpers -----------------------------------------------------------------------------------
def entity(flow: Flow, source_id: str) -> Entity | None:
    return Entity.objects.filter(
        integration_id=flow.integration_id, data_type=flow.data_type, source_id=source_id
    ).first()


def status_of(flow: Flow, source_id: str) -> str | None:
    found = entity(flow, source_id)
    return found.status if found else None


def run(flow: Flow, **kwargs) -> Task:
    return services.run_flow_now(flow.pk, **kwargs)


def wait_finished(task: Task, timeout: float = 60) -> Task:
    return wait_until(
        lambda: (t := Task.objects.get(pk=task.pk)).status in Task.FINISHED and t,
        timeout=timeout,
        message=f"task {task.pk} ({task.flow}) to finish",
    )


def wait_synced(flow: Flow, *source_ids: str, timeout: float = 60) -> None:
    wait_until(
        lambda: all(status_of(flow, s) == Entity.Status.SYNCED for s in source_ids),
        timeout=timeout,
        message=f"{', '.join(source_ids)} synced ({flow.kind})",
    )


def sku_part_nos(item: dict) -> list[str]:
    return [sku["PartNo"] for variant in item.get("Variants") or [] for sku in variant.get("Skus") or []]


def imported_part_nos(imports: list[dict]) -> list[str]:
    names = []
    for record in imports:
        for item in record["items"] or []:
            names.extend(
                sku_part_nos(item) if record["method"] == "ImportProducts" else [item.get("PartNo") or item.get("Code")]
            )
    return names


def put_customer(fortnox, number: str, **fields) -> None:
    """Change a customer in Fortnox as its API would (PUT /3/customers/<number>)."""
    token = fortnox.issue_tokens("fortnox-client")["access_token"]
    response = requests.put(
        f"{fortnox.url}/3/customers/{number}",
        json={"Customer": fields},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


# -- 1. products ------------------------------------------------------------------------------------
def test_an_article_created_changed_and_deactivated_in_fortnox_follows_in_norce(master_flows, norce, fortnox, cluster):
    flow = master_flows["products_to_commerce"]
    fortnox.add_article(
        "BRY-100",
        "Termosmugg blå",
        sales_price=120,
        vat=12,
        EAN="7350000000017",
        StockGoods=True,
        WebshopArticle=True,
        Manufacturer="Nordvik",
    )

    wait_finished(run(flow))
    wait_synced(flow, "BRY-100")
    sku = norce.connect.sku("BRY-100")
    assert sku["Status"] == 1  # Active
    assert sku["VatRates"] == [{"SalesArea": 1, "Rate": 12}]
    assert sku["EanCode"] == "7350000000017"
    assert sku["Cultures"]["sv-SE"]["ErpName"] == "Termosmugg blå"
    product = norce.connect.product_of("BRY-100")
    assert product["Code"] == "BRY-100"
    assert product["ManufacturerCode"] == "NORDVIK"
    assert product["Cultures"]["sv-SE"]["Name"] == "Termosmugg blå"
    # The first run read the whole catalogue: every Fortnox article is a SKU in Norce.
    assert all(norce.connect.sku(number) for number in fortnox.articles)

    # A changed EAN: only that field goes out, for only that article.
    seen = len(norce.connect.imports)
    fortnox.seed_articles([{"ArticleNumber": "BRY-100", "EAN": "7350000000024"}])
    wait_finished(run(flow))
    wait_until(
        lambda: norce.connect.sku("BRY-100").get("EanCode") == "7350000000024",
        timeout=30,
        message="the new EAN in Norce",
    )
    wait_synced(flow, "BRY-100")
    later = norce.connect.imports[seen:]
    assert [i["method"] for i in later] == ["ImportProducts"]
    header = later[0]["header"]
    assert header["SkuFieldsThatAreSet"] == [5]  # EanCode
    assert header["ProductFieldsThatAreSet"] == [4]  # Variants (structure only)
    assert header["VariantFieldsThatAreSet"] == [5]  # Skus (structure only)
    assert not [name for name in header if "Culture" in name], header
    assert header["FullFile"] is False
    assert imported_part_nos(later) == ["BRY-100"]  # the unchanged articles were not sent again
    assert later[0]["items"][0]["Variants"][0]["Skus"] == [{"PartNo": "BRY-100", "EanCode": "7350000000024"}]
    assert norce.connect.product_of("BRY-100")["Cultures"]["sv-SE"]["Name"] == "Termosmugg blå"

    # A changed description: the culture lists only.
    seen = len(norce.connect.imports)
    fortnox.seed_articles([{"ArticleNumber": "BRY-100", "Description": "Termosmugg marinblå"}])
    wait_finished(run(flow))
    wait_until(
        lambda: norce.connect.product_of("BRY-100")["Cultures"]["sv-SE"]["Name"] == "Termosmugg marinblå",
        timeout=30,
        message="the new name in Norce",
    )
    later = norce.connect.imports[seen:]
    assert len(later) == 1
    header = later[0]["header"]
    assert header["ProductCultureFieldsThatAreSet"] == [0]  # Name
    assert header["SkuCultureFieldsThatAreSet"] == [0]  # ErpName
    assert header["ProductFieldsThatAreSet"] == [4, 5]  # Variants, Cultures (structure only)
    assert "SkuFieldsThatAreSet" not in header
    assert imported_part_nos(later) == ["BRY-100"]
    assert norce.connect.sku("BRY-100")["Cultures"]["sv-SE"]["ErpName"] == "Termosmugg marinblå"
    assert norce.connect.sku("BRY-100")["EanCode"] == "7350000000024"

    # Deactivated in Fortnox → Inactive (5) in Norce.
    seen = len(norce.connect.imports)
    fortnox.deactivate_article("BRY-100")
    wait_finished(run(flow))
    wait_until(lambda: norce.connect.sku("BRY-100")["Status"] == 5, timeout=30, message="SKU inactive in Norce")
    wait_synced(flow, "BRY-100")
    later = norce.connect.imports[seen:]
    assert len(later) == 1 and later[0]["header"]["SkuFieldsThatAreSet"] == [1]  # Status
    assert imported_part_nos(later) == ["BRY-100"]
    assert norce.connect.sku("BRY-100")["EanCode"] == "7350000000024"


# -- 2. prices, stock and customers ---------------------------------------------------------------
def test_prices_stock_and_customers_reach_norce_and_a_change_sends_only_that_field(
    master_flows, norce, fortnox, cluster
):
    products, prices = master_flows["products_to_commerce"], master_flows["prices_to_commerce"]
    stock, customers = master_flows["stock_to_commerce"], master_flows["customers_to_commerce"]
    fortnox.add_article(
        "BRY-200", "Ullpläd grå", sales_price=400, vat=25, EAN="7350000000208", StockGoods=True, WebshopArticle=True
    )
    fortnox.set_price("A", "BRY-200", 449)
    fortnox.set_stock("BRY-200", 10, reserved=3)
    private = fortnox.add_customer(
        "Karin Berg",
        Email="karin.berg@example.se",
        Type="PRIVATE",
        Address1="Skolgatan 4",
        ZipCode="753 20",
        City="Uppsala",
    )["CustomerNumber"]
    company = fortnox.add_customer(
        "Granit Bygg AB",
        Type="COMPANY",
        OrganisationNumber="556677-8899",
        Email="faktura@granitbygg.se",
        Address1="Hamngatan 2",
        ZipCode="111 47",
        City="Stockholm",
    )["CustomerNumber"]

    # Prices and stock need the SKUs in Norce first.
    wait_finished(run(products))
    wait_synced(products, "BRY-200")
    tasks = [run(prices), run(stock), run(customers)]
    wait_until(
        lambda: (norce.connect.price("BRY-200", "SEK-WEB", 1) or {}).get("PriceSale") == 449,
        timeout=60,
        message="the price of list A in Norce's SEK-WEB",
    )
    wait_until(
        lambda: (norce.connect.onhand("BRY-200", "WH1", "LOC1") or {}).get("OnhandValue") == 7,
        timeout=60,
        message="available stock (10 in stock − 3 reserved) in WH1/LOC1",
    )
    wait_until(
        lambda: norce.connect.customer(private) and norce.connect.company(company),
        timeout=60,
        message="the customer and the company in Norce",
    )
    for task in tasks:
        wait_finished(task)
    wait_synced(prices, "BRY-200@SEK-WEB/1")
    wait_synced(stock, "BRY-200@WH1/LOC1")
    wait_synced(customers, private, company)

    price = norce.connect.price("BRY-200", "SEK-WEB", 1)
    assert price["CurrencyCode"] == "SEK" and price["IsActive"] is True
    person = norce.connect.customer(private)
    assert person["Code"] == private
    assert person["EmailAddress"] == "karin.berg@example.se"
    assert (person["FirstName"], person["LastName"]) == ("Karin", "Berg")
    assert person["InvoiceAddress"]["City"] == "Uppsala"
    firm = norce.connect.company(company)
    assert firm["OrganizationNo"] == "556677-8899"
    assert firm["Name"] == "Granit Bygg AB"
    assert firm["EmailAddress"] == "faktura@granitbygg.se"
    assert company not in (norce.connect.customers or {})  # a company is not imported as a person
    methods = {i["method"] for i in norce.connect.imports}
    assert {"ImportSkuPriceLists", "ImportOnhands", "ImportCustomers", "ImportCompanies"} <= methods
    customer_codes = [
        item["Code"] for i in norce.connect.imports if i["method"] == "ImportCustomers" for item in i["items"]
    ]
    company_codes = [
        item["Code"] for i in norce.connect.imports if i["method"] == "ImportCompanies" for item in i["items"]
    ]
    assert private in customer_codes and private not in company_codes
    assert company in company_codes and company not in customer_codes

    # One field changes in each: only that field is sent, for only that record.
    seen = len(norce.connect.imports)
    fortnox.set_price("A", "BRY-200", 499)
    fortnox.set_stock("BRY-200", 12, reserved=2)
    put_customer(fortnox, private, Email="karin@berg.example.se")
    tasks = [run(prices), run(stock), run(customers)]
    wait_until(
        lambda: norce.connect.price("BRY-200", "SEK-WEB", 1).get("PriceSale") == 499,
        timeout=60,
        message="the new price in Norce",
    )
    wait_until(
        lambda: norce.connect.onhand("BRY-200", "WH1", "LOC1").get("OnhandValue") == 10,
        timeout=60,
        message="the new available stock in Norce",
    )
    wait_until(
        lambda: norce.connect.customer(private).get("EmailAddress") == "karin@berg.example.se",
        timeout=60,
        message="the new e-mail address in Norce",
    )
    for task in tasks:
        wait_finished(task)
    later = {i["method"]: i for i in norce.connect.imports[seen:]}
    assert len(later) == len(norce.connect.imports[seen:]) == 3, [i["method"] for i in norce.connect.imports[seen:]]

    price_import = later["ImportSkuPriceLists"]
    assert price_import["header"]["SkuPriceListFieldsThatAreSet"] == [3]  # PriceSale
    assert price_import["items"] == [
        {"PartNo": "BRY-200", "PriceListCode": "SEK-WEB", "QuantityBreak": 1, "CurrencyCode": "SEK", "PriceSale": 499}
    ]
    stock_import = later["ImportOnhands"]
    assert stock_import["header"]["SkuOnhandFieldsThatAreSet"] == [3]  # OnhandValue
    assert stock_import["items"] == [
        {"PartNo": "BRY-200", "WarehouseCode": "WH1", "LocationCode": "LOC1", "OnhandValue": 10}
    ]
    customer_import = later["ImportCustomers"]
    assert customer_import["header"]["CustomerFieldsThatAreSet"] == [3]  # EmailAddress
    assert customer_import["items"] == [{"Type": 1, "Code": private, "EmailAddress": "karin@berg.example.se"}]
    # The rest of the record stays as Norce had it.
    assert norce.connect.customer(private)["FirstName"] == "Karin"
    assert norce.connect.company(company)["EmailAddress"] == "faktura@granitbygg.se"


def test_a_new_integrations_first_run_of_all_four_flows_writes_every_row(master_flows, norce, fortnox, cluster):
    """Stock and prices started first, the products and customers right behind them: the price and
    stock rows wait for the products import that creates their SKUs, so Norce ignores none."""
    order = ("stock_to_commerce", "prices_to_commerce", "products_to_commerce", "customers_to_commerce")
    tasks = [run(master_flows[kind]) for kind in order]
    for task in tasks:
        wait_finished(task)
    records = Entity.objects.filter(integration_id=master_flows["products_to_commerce"].integration_id).exclude(
        data_type="order"
    )

    def settled() -> bool:
        return (
            records.exists()
            and not records.exclude(status=Entity.Status.SYNCED).exists()
            and not ConnectJob.objects.filter(status__in=connect_jobs.OPEN).exists()
            and not Task.objects.filter(
                status__in=(Task.Status.QUEUED, Task.Status.RUNNING), next_retry_at__isnull=True
            ).exists()
        )

    wait_until(settled, timeout=90, message="every master-data record synced and every job ended")
    assert set(records.values_list("data_type", flat=True)) == {"product", "price", "stock", "customer"}
    assert not LogEntry.objects.filter(code="norce.row_ignored").exists()
    jobs = list(ConnectJob.objects.all())
    assert {job.method for job in jobs} >= {
        "Product/ImportProducts",
        "Product/ImportSkuPriceLists",
        "Product/ImportOnhands",
    }, [job.method for job in jobs]
    for job in jobs:
        assert job.status == ConnectJob.Status.SUCCEEDED, (job.method, job.messages)
        assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (job.item_count, 0, 0), job.method
    # Norce holds a price and stock for every article that has them.
    for number in fortnox.articles:
        assert norce.connect.sku(number), number
        assert norce.connect.price(number, "SEK-WEB", 1), number
    prices_stock = [i["method"] for i in norce.connect.imports]
    assert prices_stock.index("ImportProducts") < prices_stock.index("ImportSkuPriceLists")
    assert prices_stock.index("ImportProducts") < prices_stock.index("ImportOnhands")


# -- 3. rejected rows and failed jobs ----------------------------------------------------------------
def test_a_row_norce_rejects_needs_attention_and_the_rest_of_the_job_syncs(master_flows, norce, fortnox, cluster):
    flow = master_flows["products_to_commerce"]
    fortnox.add_article("BRY-300", "Kaffekopp svart", vat=25, EAN="ABC123", StockGoods=True)
    fortnox.add_article("BRY-301", "Tekanna vit", vat=25, EAN="7350000000314", StockGoods=True)

    task = run(flow)
    bad = wait_until(
        lambda: (e := entity(flow, "BRY-300")) and e.status == Entity.Status.NEEDS_ATTENTION and e,
        timeout=60,
        message="the article with the bad EAN to need attention",
    )
    wait_finished(task)
    job = ConnectJob.objects.get(flow=flow)
    # Norce says "validation failed"; one row was rejected and the others written: partly failed.
    assert job.status == ConnectJob.Status.PARTLY_FAILED
    assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (job.item_count - 1, 0, 1)
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 4
    assert bad.last_error_code == "norce.validation"
    assert "ABC123" in bad.last_error_message
    error = LogEntry.objects.get(entity=bad, level=LogEntry.Level.ERROR)
    assert error.code == "norce.validation"
    assert "EanCode 'ABC123' is not a valid EAN" in error.message  # Norce's own words
    assert error.hint
    assert norce.connect.sku("BRY-300") is None

    # Every other record of the same job is in Norce and synced.
    others = Entity.objects.filter(pk__in=job.entity_ids).exclude(pk=bad.pk)
    assert others.count() == job.item_count - 1 > 1
    wait_until(
        lambda: not others.exclude(status=Entity.Status.SYNCED).exists(),
        timeout=10,
        message="the job's other records synced",
    )
    assert norce.connect.sku("BRY-301")["EanCode"] == "7350000000314"
    assert all(norce.connect.sku(e.source_id) for e in others)


def test_a_failed_job_restarted_from_admin_completes_and_its_records_sync(master_flows, norce, fortnox, cluster):
    flow = master_flows["products_to_commerce"]
    norce.connect.fail_next_jobs = 1
    fortnox.add_article("BRY-400", "Skärbräda ek", vat=25, EAN="7350000000406", StockGoods=True)

    task = run(flow)
    wait_until(
        lambda: status_of(flow, "BRY-400") == Entity.Status.FAILED,
        timeout=60,
        message="the records of the failed job to be failed",
    )
    wait_finished(task)
    job = ConnectJob.objects.get(flow=flow)
    assert job.status == ConnectJob.Status.FAILED
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 3
    records = Entity.objects.filter(pk__in=job.entity_ids)
    assert records.count() == job.item_count > 1
    assert set(records.values_list("status", flat=True)) == {Entity.Status.FAILED}
    assert set(records.values_list("last_error_code", flat=True)) == {"norce.job_failed"}
    assert norce.connect.sku("BRY-400") is None

    restarted = connect_jobs.restart(job.pk)  # the admin's "Restart job"
    assert restarted.restarts == 1
    wait_until(
        lambda: ConnectJob.objects.get(pk=job.pk).status == ConnectJob.Status.SUCCEEDED,
        timeout=30,
        message="the restarted job to succeed",
    )
    wait_until(
        lambda: not records.exclude(status=Entity.Status.SYNCED).exists(),
        timeout=15,
        message="every record of the restarted job synced",
    )
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 2
    assert norce.connect.jobs[int(job.job_id)]["restarts"] == 1
    assert len(norce.connect.imports) == 1  # Norce ran its stored payload; nothing was sent again
    assert norce.connect.sku("BRY-400")["EanCode"] == "7350000000406"
    assert all(norce.connect.sku(e.source_id) for e in records)


# -- 4. a 429 storm and a lost JobCompletedEvent -----------------------------------------------------
def test_a_429_storm_and_a_lost_job_event_delay_the_sync_but_lose_nothing(
    master_flows, wired, norce, fortnox, cluster, live_server
):
    flow = master_flows["products_to_commerce"]
    commerce = wired.connectors.get(role=Connector.Role.COMMERCE)
    commerce.settings = {**commerce.settings, "job_events": True}
    commerce.save(update_fields=["settings"])
    norce.configure_events(
        f"{live_server.url}/norce/{wired.pk}/events",
        {"X-Brygga-Secret": "event-secret-value"},
        event_types=("JobCompletedEvent",),
    )
    norce.lose_events = True
    norce.connect.job_delay = 1.0
    numbers = [f"BRY-5{i:02d}" for i in range(6)]
    for i, number in enumerate(numbers):
        fortnox.add_article(
            number, f"Ljusstake {i}", sales_price=100 + i, vat=25, EAN=f"73500000005{i:02d}", StockGoods=True
        )

    norce.faults.update({"storm_requests": 4, "retry_after": 1, "paths": [CONNECT]})
    task = run(flow)
    wait_until(
        lambda: any(e["result"] == "lost" for e in norce.event_log),
        timeout=90,
        message="Norce to finish the job and lose its JobCompletedEvent",
    )
    wait_finished(task, timeout=30)
    assert norce.status_counts.get(429, 0) > 0
    job = ConnectJob.objects.get(flow=flow)
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 2
    # Brygga has not heard of the end: the job is open, with the event safety net queued.
    assert job.status in connect_jobs.OPEN
    assert Task.objects.filter(
        flow=flow, trigger=Task.Trigger.FOLLOW_UP, status=Task.Status.QUEUED, params__follow_jobs=True
    ).exists()

    # The flow's next scheduled run finds the job's end; nothing is sent twice.
    norce.lose_events = False
    imports = len(norce.connect.imports)
    wait_finished(run(flow, trigger=Task.Trigger.SCHEDULE))
    wait_until(
        lambda: ConnectJob.objects.get(pk=job.pk).status == ConnectJob.Status.SUCCEEDED,
        timeout=30,
        message="the job whose event was lost to be found succeeded",
    )
    wait_synced(flow, *numbers, timeout=30)
    assert not Entity.objects.filter(data_type="product").exclude(status=Entity.Status.SYNCED).exists()
    assert len(norce.connect.imports) == imports
    for i, number in enumerate(numbers):
        sku = norce.connect.sku(number)
        assert sku["EanCode"] == f"73500000005{i:02d}"
        assert sku["Status"] == 1
        assert norce.connect.product_of(number)["Cultures"]["sv-SE"]["Name"] == f"Ljusstake {i}"


# -- 6. the shared Connect limit ----------------------------------------------------------------------
def test_workers_together_never_exceed_norce_connect_limit(master_flows, norce, fortnox):
    """Four workers sending three flows in one-record imports (far more than 60 calls a minute
    of work) stay within 60 Connect requests per rolling minute; Norce never answers 429."""
    small = {"batch_size": 1, "max_wait_seconds": 0, "job_wait_seconds": 5}
    for kind in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"):
        Flow.objects.filter(pk=master_flows[kind].pk).update(settings={**master_flows[kind].settings, **small})
    workers = QCluster(workers=4, env={"RATE_LIMITS": "true"}).start()
    try:
        for kind in ("products_to_commerce", "prices_to_commerce", "stock_to_commerce"):
            run(master_flows[kind])

        def connect_times() -> list[float]:
            with norce.lock:
                return sorted(t for t, _, path in norce.requests_seen if path.startswith(CONNECT))

        first = wait_until(lambda: connect_times()[:1], timeout=60, message="the first Connect request")[0]
        observed = 75.0
        while time.time() < first + observed + 0.5:
            time.sleep(1)
    finally:
        workers.stop()
    times = [t for t in connect_times() if t <= first + observed]
    busiest = max(sum(1 for u in times[i:] if u < t + 60) for i, t in enumerate(times))
    assert len(times) > 60, f"only {len(times)} Connect requests in {observed:g}s: the limit was never tested"
    assert busiest <= 60, f"{busiest} Connect requests within 60 s"
    assert norce.status_counts.get(429, 0) == 0
    assert norce.connect_limiter.rejected == 0
    assert len(norce.connect.imports) > 40
