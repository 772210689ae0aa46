"""The master-data flows (Fortnox → Norce through Connect) run in-process against the Norce and
Fortnox simulators over real HTTP: what Norce ends up holding, what each import carried, how
jobs end and restart, JobCompletedEvent, full files and dry runs, staleness, admin and API."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from connectors.norce import connect
from connectors.norce import jobs as norce_jobs
from core.errors import SyncError
from core.ports import CATALOGUE_TARGET, MASTER_DATA_SOURCE
from integrations import resync, selectors, services
from integrations.demo import MASTER_FLOWS, add_master_data_flows
from integrations.engine.clients import client_for, connector_for, port_for
from integrations.engine.tokens import store_tokens
from integrations.flows import connect_jobs
from integrations.flows.master_settings import parse_settings
from integrations.models import (
    ConnectJob,
    Connector,
    Entity,
    Flow,
    LogEntry,
    ResyncRun,
    Task,
    WebhookDelivery,
)
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration

pytestmark = pytest.mark.django_db(transaction=True)

SECRETS = ("norce-secret-value", "receiver-secret-value", "event-secret-value", "fortnox-secret-value")
NORCE_ONLY = "NORCE-ONLY-1"


# -- simulators and the world ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=11)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def norce(norce_server: NorceSimulator) -> NorceSimulator:
    norce_server.reset()
    norce_server.connect.job_delay = 0.05
    norce_server.event_retry_delays = [0.05]
    return norce_server


@pytest.fixture
def flows(norce, fortnox, settings, tmp_path) -> dict[str, Flow]:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False, "SPOOL_DIR": str(tmp_path / "spool")}
    integration = build_integration(norce_url=norce.url, fortnox_url=fortnox.url)
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox.issue_tokens("fortnox-client"))
    return add_master_data_flows(
        integration, settings={kind: {"max_wait_seconds": 0, "job_wait_seconds": 15} for kind in MASTER_FLOWS}
    )


def run(flow: Flow, **params) -> Task:
    """Run one task of the flow in this process; returns it finished."""
    task = Task.objects.create(
        integration=flow.integration,
        flow=flow,
        trigger="manual",
        params=params or {"mode": "incremental"},
        status="queued",
    )
    services.execute_task(task.pk)
    task.refresh_from_db()
    return task


def run_queued_follow_ups(flow: Flow, **params) -> list[Task]:
    """Execute the flow's queued follow-up tasks whose params contain `params`."""
    done = []
    for task in Task.objects.filter(flow=flow, trigger=Task.Trigger.FOLLOW_UP, status=Task.Status.QUEUED).order_by(
        "pk"
    ):
        if all(task.params.get(k) == v for k, v in params.items()):
            services.execute_task(task.pk)
            task.refresh_from_db()
            done.append(task)
    return done


def entities(flow: Flow):
    return Entity.objects.filter(integration_id=flow.integration_id, data_type=flow.data_type)


def entity(flow: Flow, source_id: str) -> Entity:
    return entities(flow).get(source_id=source_id)


def statuses(flow: Flow) -> dict[str, str]:
    return dict(entities(flow).values_list("source_id", "status"))


def flow_client(flow: Flow, role: str):
    return client_for(flow.integration.connectors.get(role=role))


def flow_port(flow: Flow, capability: str):
    return port_for(connector_for(flow.integration_id, capability), capability)


def demo_articles(fortnox: FortnoxSimulator) -> list[dict]:
    return [dict(a) for a in fortnox.articles.values()]


def stock_goods(fortnox: FortnoxSimulator) -> list[str]:
    return sorted(
        a["ArticleNumber"]
        for a in demo_articles(fortnox)
        if a.get("StockGoods") and str(a.get("Type") or "").upper() != "SERVICE"
    )


def last_job(flow: Flow) -> ConnectJob:
    return ConnectJob.objects.filter(flow=flow).order_by("-pk").first()


# -- each flow syncs the demo data ---------------------------------------------------------------


def test_products_flow_syncs_every_demo_article(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    task = run(flow)
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    numbers = sorted(a["ArticleNumber"] for a in demo_articles(fortnox))
    assert len(numbers) > 10
    assert statuses(flow) == dict.fromkeys(numbers, Entity.Status.SYNCED)
    for number in numbers:
        assert norce.connect.sku(number) is not None, f"{number} missing in Norce"
    frakt = norce.connect.sku("FRAKT")
    # Not a webshop article, but webshop_only is off: active; a service is ErpStandardNoStock.
    assert frakt["Status"] == 1 and frakt["Type"] == 16
    sample = next(a for a in demo_articles(fortnox) if a.get("EAN"))
    sku = norce.connect.sku(sample["ArticleNumber"])
    assert sku["EanCode"] == sample["EAN"]
    assert sku["VatRates"] == [{"SalesArea": 1, "Rate": int(sample["VAT"])}]
    assert sku["Cultures"]["sv-SE"]["ErpName"] == sample["Description"]
    job = last_job(flow)
    assert job.status == ConnectJob.Status.SUCCEEDED and job.method == connect.PRODUCTS
    assert job.item_count == len(numbers) and job.header["AccountId"] == 10000 and job.header["FullFile"] is False


def test_prices_flow_syncs_price_list_a(flows, norce, fortnox):
    assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED  # Norce prices only known SKUs
    flow = flows["prices_to_commerce"]
    task = run(flow)
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    synced = statuses(flow)
    assert synced and set(synced.values()) == {Entity.Status.SYNCED}
    for article in demo_articles(fortnox):
        number = article["ArticleNumber"]
        price = norce.connect.price(number, "SEK-STD", 1)
        assert price is not None, f"no price for {number} in Norce"
        assert price["PriceSale"] == pytest.approx(float(article["SalesPrice"])), number
        assert price["CurrencyCode"] == "SEK"


def test_stock_flow_syncs_stock_goods_only(flows, norce, fortnox):
    assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED  # Norce stocks only known SKUs
    flow = flows["stock_to_commerce"]
    task = run(flow)
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    goods = stock_goods(fortnox)
    assert goods
    assert statuses(flow) == {f"{n}@MAIN/MAIN": Entity.Status.SYNCED for n in goods}
    for article in demo_articles(fortnox):
        onhand = norce.connect.onhand(article["ArticleNumber"], "MAIN", "MAIN")
        if article["ArticleNumber"] in goods:
            expected = article.get("DisposableQuantity", article.get("QuantityInStock"))
            assert onhand is not None and onhand["OnhandValue"] == pytest.approx(float(expected))
        else:
            assert onhand is None, f"service article {article['ArticleNumber']} got stock in Norce"
    # Stock imports may use the reserved share of the Connect limit.
    assert last_job(flow).method == connect.ONHANDS


def test_customers_flow_syncs_private_customers_and_companies(flows, norce, fortnox):
    flow = flows["customers_to_commerce"]
    task = run(flow)
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    assert statuses(flow) == {"1": Entity.Status.SYNCED, "2": Entity.Status.SYNCED}
    anna = norce.connect.customer("1")
    assert anna["FirstName"] == "Anna" and anna["LastName"] == "Svensson"
    assert anna["EmailAddress"] == "anna@example.se"
    company = norce.connect.company("2")
    assert company["Name"] == "Norrlands Kontor AB" and company["OrganizationNo"] == "556123-4567"
    assert norce.connect.customer("2") is None and norce.connect.company("1") is None
    methods = set(ConnectJob.objects.filter(flow=flow).values_list("method", flat=True))
    assert methods == {connect.CUSTOMERS, connect.COMPANIES}
    assert all("FullFile" not in job.header for job in ConnectJob.objects.filter(flow=flow))


@pytest.mark.parametrize(
    "kind, lookup",
    [
        ("prices_to_commerce", lambda norce, number: norce.connect.price(number, "SEK-STD", 1)),
        ("stock_to_commerce", lambda norce, number: norce.connect.onhand(number, "MAIN", "MAIN")),
    ],
)
def test_rows_norce_ignored_for_a_missing_sku_reach_norce_once_the_sku_exists(flows, norce, fortnox, kind, lookup):
    """The products are kept in Norce by other means (no products flow), and a SKU is not there yet:
    Norce ignores its price or stock row (a warning, not an error) and the row goes again."""
    flow = flows[kind]
    Flow.objects.filter(pk=flows["products_to_commerce"].pk).update(enabled=False)
    number = stock_goods(fortnox)[0]
    run(flow)
    assert lookup(norce, number) is None
    assert ConnectJob.objects.get(flow=flow).rows_ignored > 0
    norce.connect.seed_skus([a["ArticleNumber"] for a in demo_articles(fortnox)])
    run(flow)
    assert lookup(norce, number) is not None, (
        f"{kind}: Norce ignored the row of {number} (SKU did not exist yet) but the record was confirmed as "
        f"synced ({entity(flow, number + ('@SEK-STD/1' if kind.startswith('prices') else '@MAIN/MAIN')).status}), "
        "so it is never sent again once the SKU exists"
    )


# -- prices and stock wait for their products ----------------------------------------------------------


def imported_methods(norce: NorceSimulator) -> list[str]:
    return [i["method"] for i in norce.connect.imports]


def test_prices_and_stock_run_before_the_products_wait_and_go_when_the_products_job_ends(flows, norce, fortnox):
    prices, stock, products = flows["prices_to_commerce"], flows["stock_to_commerce"], flows["products_to_commerce"]
    # A new integration: prices and stock run first.
    for flow in (prices, stock):
        task = run(flow)
        assert task.status == Task.Status.SUCCEEDED, task.error_message
        assert entities(flow).exists() and set(statuses(flow).values()) == {Entity.Status.PENDING}
        waiting = LogEntry.objects.get(task=task, message__contains="wait for their products")
        assert f"{entities(flow).count()} record(s)" in waiting.message
    assert norce.connect.imports == [], "prices or stock went to Norce before the products"

    assert run(products).status == Task.Status.SUCCEEDED
    assert imported_methods(norce) == ["ImportProducts"]
    # The products job's end queued the held-back prices and stock.
    for flow in (prices, stock):
        [follow_up] = run_queued_follow_ups(flow, send_only=True)
        assert follow_up.status == Task.Status.SUCCEEDED, follow_up.error_message
        assert set(statuses(flow).values()) == {Entity.Status.SYNCED}
    assert sorted(imported_methods(norce)[1:]) == ["ImportOnhands", "ImportSkuPriceLists"]
    for job in ConnectJob.objects.all():
        assert job.status == ConnectJob.Status.SUCCEEDED, (job.method, job.messages)
        assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (job.item_count, 0, 0), job.method
    assert not LogEntry.objects.filter(code="norce.row_ignored").exists()
    number = stock_goods(fortnox)[0]
    assert norce.connect.price(number, "SEK-STD", 1) and norce.connect.onhand(number, "MAIN", "MAIN")


def test_a_price_waits_while_its_product_needs_attention_and_the_others_go(flows, norce, fortnox):
    prices, products = flows["prices_to_commerce"], flows["products_to_commerce"]
    bad = stock_goods(fortnox)[0]
    norce.connect.reject_rows = {bad: "EanCode is not a valid GTIN"}
    run(products)
    assert entity(products, bad).status == Entity.Status.NEEDS_ATTENTION
    task = run(prices)
    assert entity(prices, f"{bad}@SEK-STD/1").status == Entity.Status.PENDING
    assert {s for source_id, s in statuses(prices).items() if not source_id.startswith(f"{bad}@")} == {
        Entity.Status.SYNCED
    }
    assert bad in LogEntry.objects.get(task=task, message__contains="wait for their products").message
    assert not LogEntry.objects.filter(code="norce.row_ignored").exists()

    # The product is corrected and retried: its job's end releases the price.
    norce.connect.reject_rows = {}
    assert run(products, entity_ids=[entity(products, bad).pk]).status == Task.Status.SUCCEEDED
    assert entity(products, bad).status == Entity.Status.SYNCED
    run_queued_follow_ups(prices, send_only=True)
    assert entity(prices, f"{bad}@SEK-STD/1").status == Entity.Status.SYNCED
    assert norce.connect.price(bad, "SEK-STD", 1) is not None

    # Now that the products flow has read the catalogue, a SKU without a product record (made in
    # Norce Admin, say) is not held: its stock goes at once.
    other = stock_goods(fortnox)[1]
    Entity.objects.filter(pk=entity(products, other).pk).delete()
    stock = flows["stock_to_commerce"]
    assert run(stock).status == Task.Status.SUCCEEDED
    assert entity(stock, f"{other}@MAIN/MAIN").status == Entity.Status.SYNCED


# -- rewind and resend (force) ---------------------------------------------------------------------------


def rewind(flow: Flow) -> None:
    from integrations.models import TimeHistory

    TimeHistory.objects.filter(integration_id=flow.integration_id, data_type=flow.data_type).update(
        last_loaded_at=timezone.now() - timedelta(days=30)
    )


def test_rewind_and_run_sends_nothing_unchanged_but_says_so_and_force_sends_every_record_whole(flows, norce, fortnox):
    flow = flows["customers_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    imports = len(norce.connect.imports)
    rewind(flow)
    again = run(flow)
    assert len(norce.connect.imports) == imports
    assert LogEntry.objects.filter(task=again, message__contains="nothing to send: Norce already has").exists()

    rewind(flow)
    forced = run(flow, mode="incremental", force=True)
    assert forced.status == Task.Status.SUCCEEDED, forced.error_message
    new = norce.connect.imports[imports:]
    assert sorted(i["method"] for i in new) == ["ImportCompanies", "ImportCustomers"]
    sent = {item["Code"]: item for i in new for item in i["items"]}
    assert set(sent) == {"1", "2"}
    assert sent["1"]["EmailAddress"] == "anna@example.se" and sent["1"]["FirstName"] == "Anna"  # whole records
    for i in new:
        assert i["header"][
            "CustomerFieldsThatAreSet" if i["method"] == "ImportCustomers" else "CompanyFieldsThatAreSet"
        ], i["header"]
    assert set(statuses(flow).values()) == {Entity.Status.SYNCED}
    assert LogEntry.objects.filter(task=forced, message__contains="sent again as asked").exists()


def test_a_resend_continued_in_a_follow_up_still_sends_whole_records(flows, norce, fortnox, settings):
    flow = flows["products_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    imports = len(norce.connect.imports)
    settings.BRYGGA = {**settings.BRYGGA, "TASK_SLICE_SECONDS": -1}  # hand over before sending anything
    rewind(flow)
    run(flow, mode="incremental", force=True)
    assert len(norce.connect.imports) == imports
    settings.BRYGGA = {**settings.BRYGGA, "TASK_SLICE_SECONDS": 120}
    [continuation] = run_queued_follow_ups(flow, send_only=True, force=True)
    assert continuation.status == Task.Status.SUCCEEDED, continuation.error_message
    [resent] = norce.connect.imports[imports:]
    assert resent["count"] == len(demo_articles(fortnox))
    assert "SkuCultureFieldsThatAreSet" in resent["header"] and "SkuFieldsThatAreSet" in resent["header"]


# -- only changes are sent -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", MASTER_FLOWS)
def test_second_run_sends_nothing_when_nothing_changed(flows, norce, kind):
    flow = flows[kind]
    if kind in ("prices_to_commerce", "stock_to_commerce"):  # their rows need the SKUs in Norce
        assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED
    assert run(flow).status == Task.Status.SUCCEEDED
    imports, jobs = len(norce.connect.imports), ConnectJob.objects.count()
    assert imports >= 1
    second = run(flow)
    assert second.status == Task.Status.SUCCEEDED, second.error_message
    assert len(norce.connect.imports) == imports, "an unchanged catalogue was sent again"
    assert ConnectJob.objects.count() == jobs
    assert set(statuses(flow).values()) == {Entity.Status.SYNCED}


def test_a_changed_field_is_the_only_one_sent(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    target = next(a for a in demo_articles(fortnox) if a.get("EAN"))
    number = target["ArticleNumber"]
    fortnox.seed_articles([{"ArticleNumber": number, "EAN": "7350000000017"}])
    imports = len(norce.connect.imports)

    assert run(flow).status == Task.Status.SUCCEEDED
    new = norce.connect.imports[imports:]
    assert len(new) == 1 and new[0]["count"] == 1
    assert new[0]["items"] == [
        {
            "ManufacturerCode": entity(flow, number).payload["identity"]["ManufacturerCode"],
            "Code": number,
            "Variants": [{"ManufacturerPartNo": number, "Skus": [{"PartNo": number, "EanCode": "7350000000017"}]}],
        }
    ]
    job = last_job(flow)
    lists = {k: v for k, v in job.header.items() if k.endswith("FieldsThatAreSet")}
    assert lists == {"ProductFieldsThatAreSet": [4], "VariantFieldsThatAreSet": [5], "SkuFieldsThatAreSet": [5]}
    assert job.sent == [[entity(flow, number).pk, entity(flow, number).payload_hash, {"Sku.EanCode": "7350000000017"}]]
    assert norce.connect.sku(number)["EanCode"] == "7350000000017"
    assert entity(flow, number).sent_payload["fields"]["Sku.EanCode"] == "7350000000017"
    assert entity(flow, number).status == Entity.Status.SYNCED


def test_a_task_naming_keys_reads_those_records_now_and_sends_only_what_changed(flows, norce, fortnox):
    """What a webhook queues ({"keys": [...]}): the named articles read again from the ERP; an
    unchanged one sends nothing, a changed one sends its changed field, the cursor stays."""
    flow = flows["products_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    cursor = services.get_cursor(flow.integration, flow.data_type, flow.direction)
    changed, unchanged = [a["ArticleNumber"] for a in demo_articles(fortnox) if a.get("EAN")][:2]
    fortnox.seed_articles([{"ArticleNumber": changed, "EAN": "7350000000024"}])
    imports = len(norce.connect.imports)

    assert run(flow, keys=[unchanged]).status == Task.Status.SUCCEEDED
    assert len(norce.connect.imports) == imports
    assert run(flow, keys=[changed, unchanged, changed]).status == Task.Status.SUCCEEDED
    new = norce.connect.imports[imports:]
    assert len(new) == 1 and new[0]["count"] == 1
    assert new[0]["items"][0]["Code"] == changed
    assert norce.connect.sku(changed)["EanCode"] == "7350000000024"
    assert services.get_cursor(flow.integration, flow.data_type, flow.direction) == cursor


def test_a_changed_stock_value_is_sent_alone(flows, norce, fortnox):
    assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED
    flow = flows["stock_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    number = stock_goods(fortnox)[0]
    fortnox.set_stock(number, 3)
    imports = len(norce.connect.imports)
    assert run(flow).status == Task.Status.SUCCEEDED
    new = norce.connect.imports[imports:]
    assert [(i["method"], i["count"]) for i in new] == [("ImportOnhands", 1)]
    assert new[0]["items"] == [{"PartNo": number, "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 3}]
    assert norce.connect.onhand(number, "MAIN", "MAIN")["OnhandValue"] == 3


# -- job outcomes ----------------------------------------------------------------------------------


def test_a_row_refused_by_norce_marks_only_that_record(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    bad = sorted(a["ArticleNumber"] for a in demo_articles(fortnox))[3]
    norce.connect.reject_rows = {bad: "EanCode is not a valid GTIN"}
    task = run(flow)
    job = last_job(flow)
    assert job.status_id == connect.JOB_VALIDATION_FAILED  # Norce's word
    # One row rejected, the others written: the job partly failed.
    assert job.status == ConnectJob.Status.PARTLY_FAILED
    assert job.failures == 1
    assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (job.item_count - 1, 0, 1)
    refused = entity(flow, bad)
    assert refused.status == Entity.Status.NEEDS_ATTENTION
    assert refused.last_error_code == "norce.validation"
    assert "EanCode is not a valid GTIN" in refused.last_error_message
    others = {s for source_id, s in statuses(flow).items() if source_id != bad}
    assert others == {Entity.Status.SYNCED}
    log = LogEntry.objects.get(entity=refused, code="norce.validation")
    assert log.level == LogEntry.Level.ERROR and log.hint
    assert task.status == Task.Status.PARTLY_FAILED
    assert (task.count_failed, task.count_succeeded) == (1, len(demo_articles(fortnox)) - 1)
    assert norce.connect.sku(bad) is None


def test_failed_job_then_restart_syncs_the_records(flows, norce):
    flow = flows["customers_to_commerce"]
    norce.connect.fail_next_jobs = 2  # customers and companies are two imports
    run(flow)
    jobs = list(ConnectJob.objects.filter(flow=flow).order_by("pk"))
    assert len(jobs) == 2 and {j.status for j in jobs} == {ConnectJob.Status.FAILED}
    assert statuses(flow) == {"1": Entity.Status.FAILED, "2": Entity.Status.FAILED}
    assert entity(flow, "1").last_error_code == "norce.job_failed"
    assert norce.connect.customer("1") is None

    for job in jobs:
        assert connect_jobs.restartable(job) == (True, "")
        restarted = connect_jobs.restart(job.pk)
        assert restarted.status == ConnectJob.Status.QUEUED and restarted.restarts == 1
    assert statuses(flow) == {"1": Entity.Status.SENT, "2": Entity.Status.SENT}
    assert norce.connect.wait_idle(10)
    follow_ups = run_queued_follow_ups(flow, follow_jobs=True)
    assert follow_ups
    assert {j.status for j in ConnectJob.objects.filter(flow=flow)} == {ConnectJob.Status.SUCCEEDED}
    assert statuses(flow) == {"1": Entity.Status.SYNCED, "2": Entity.Status.SYNCED}
    assert norce.connect.customer("1")["FirstName"] == "Anna"
    assert norce.connect.company("2")["Name"] == "Norrlands Kontor AB"
    assert LogEntry.objects.filter(flow=flow, message__contains="restarted").count() == 2


def test_a_job_whose_rows_norce_ignored_is_partly_failed_with_its_row_counts(flows, norce, fortnox):
    flow = flows["prices_to_commerce"]
    Flow.objects.filter(pk=flows["products_to_commerce"].pk).update(enabled=False)
    numbers = sorted(a["ArticleNumber"] for a in demo_articles(fortnox))
    norce.connect.seed_skus(numbers[:3])  # Norce has three of the SKUs
    task = run(flow)
    job = last_job(flow)
    assert job.status_id == connect.JOB_SUCCEEDED  # Norce calls it a success
    assert job.status == ConnectJob.Status.PARTLY_FAILED
    assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (3, job.item_count - 3, 0)
    ignored = LogEntry.objects.filter(task=task, code="norce.row_ignored")
    assert ignored.count() == job.item_count - 3

    # Every row ignored: partly failed still (nothing was refused), never green.
    Entity.objects.filter(pk__in=job.entity_ids).update(status=Entity.Status.PENDING)
    norce.connect.skus.clear()
    run(flow, send_only=True)
    all_ignored = last_job(flow)
    assert all_ignored.pk != job.pk
    assert (all_ignored.status, all_ignored.rows_written, all_ignored.rows_ignored) == (
        ConnectJob.Status.PARTLY_FAILED,
        0,
        all_ignored.item_count,
    )


def test_a_job_whose_every_row_norce_rejected_failed_validation(flows, norce, fortnox):
    flow = flows["customers_to_commerce"]
    norce.connect.reject_rows = {"1": "Email is not valid", "2": "OrganizationNo is not valid"}
    run(flow)
    for job in ConnectJob.objects.filter(flow=flow):
        assert job.status == ConnectJob.Status.VALIDATION_FAILED
        assert (job.rows_written, job.rows_ignored, job.rows_rejected) == (0, 0, 1)


def test_row_counts_read_norces_summary_of_ignored_rows_and_a_failed_job_classifies_none():
    messages = [
        {"SeverityId": 2, "Message": "Row 1 (PartNo A): SKU does not exist; price for X ignored", "ImportedRow": 1},
        {"SeverityId": 3, "Message": "Row 2 (PartNo B): PriceSale is not a number", "ImportedRow": 2},
        {"SeverityId": 2, "Message": "... and 40 more row(s) ignored", "ImportedRow": None},
    ]
    counts = norce_jobs.row_counts(
        status_id=connect.JOB_VALIDATION_FAILED, dto={"Inserts": 5, "Updates": 2, "Fail": 1}, messages=messages
    )
    assert counts == norce_jobs.RowCounts(written=7, ignored=41, rejected=1)
    assert norce_jobs.job_status(connect.JOB_VALIDATION_FAILED, counts) == ConnectJob.Status.PARTLY_FAILED
    failed = norce_jobs.row_counts(
        status_id=connect.JOB_FAILED,
        dto={"Fail": 42, "Totals": 42},
        messages=[{"SeverityId": 3, "Message": "Simulated processing failure", "ImportedRow": None}],
    )
    assert failed == norce_jobs.RowCounts()
    assert norce_jobs.job_status(connect.JOB_FAILED, failed) == ConnectJob.Status.FAILED
    assert norce_jobs.job_status(connect.JOB_SUCCEEDED, norce_jobs.RowCounts(written=3)) == ConnectJob.Status.SUCCEEDED


def make_job(flow: Flow, status: str, status_id: int | None, *, age_days: float = 0) -> ConnectJob:
    return ConnectJob.objects.create(
        integration_id=flow.integration_id,
        flow=flow,
        job_id=f"9{ConnectJob.objects.count()}",
        method=connect.PRODUCTS,
        status=status,
        status_id=status_id,
        created_at=timezone.now() - timedelta(days=age_days),
    )


def test_restartable_refuses_unfinished_validation_failed_and_old_jobs(flows, norce):
    flow = flows["products_to_commerce"]
    cases = {
        "unfinished": make_job(flow, ConnectJob.Status.QUEUED, connect.JOB_QUEUED),
        "running": make_job(flow, ConnectJob.Status.RUNNING, connect.JOB_INITIALIZED),
        "validation": make_job(flow, ConnectJob.Status.VALIDATION_FAILED, connect.JOB_VALIDATION_FAILED),
        "old": make_job(flow, ConnectJob.Status.FAILED, connect.JOB_FAILED, age_days=14.5),
    }
    reasons = {name: connect_jobs.restartable(job) for name, job in cases.items()}
    assert reasons["unfinished"] == (False, "The job has not finished yet.")
    assert reasons["running"][0] is False
    assert reasons["validation"][0] is False and "correct the records" in reasons["validation"][1]
    assert reasons["old"][0] is False and "14 days" in reasons["old"][1]
    for job in cases.values():
        with pytest.raises(SyncError) as raised:
            connect_jobs.restart(job.pk)
        assert raised.value.code == "norce.job_restart_refused"
        job.refresh_from_db()
        assert job.restarts == 0
    # Within the window, finished jobs qualify.
    assert (
        connect_jobs.restartable(make_job(flow, ConnectJob.Status.SUCCEEDED, connect.JOB_SUCCEEDED, age_days=13.9))[0]
        is True
    )
    assert connect_jobs.restartable(make_job(flow, ConnectJob.Status.FAILED, connect.JOB_FAILED))[0] is True


# -- JobCompletedEvent ------------------------------------------------------------------------------


def post_event(client, integration_id: int, body: dict, secret: str = "event-secret-value"):
    return client.post(
        f"/norce/{integration_id}/events",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_BRYGGA_SECRET=secret,
    )


def test_job_completed_event_queues_a_check_of_an_open_job(flows, norce, client):
    flow = flows["stock_to_commerce"]
    assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED
    Flow.objects.filter(pk=flow.pk).update(settings={"max_wait_seconds": 0, "job_wait_seconds": 0})
    norce.connect.job_delay = 60  # the job stays queued in Norce
    run(flow)
    job = last_job(flow)
    assert job.status in connect_jobs.OPEN
    before = set(Task.objects.filter(flow=flow).values_list("pk", flat=True))

    norce.connect.update_settings({"job_delay": 0})
    assert norce.connect.wait_idle(10)
    response = post_event(
        client, flow.integration_id, {"ClientId": 1234, "ApplicationId": 1244, "JobId": int(job.job_id), "StatusId": 2}
    )
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    new = Task.objects.filter(flow=flow).exclude(pk__in=before)
    assert [(t.trigger, t.params, t.status) for t in new] == [
        (Task.Trigger.FOLLOW_UP, {"follow_jobs": True}, Task.Status.QUEUED)
    ]
    assert new.get().next_retry_at is None, "the check after an event should run at once"
    delivery = WebhookDelivery.objects.get(reference=f"job {job.job_id}")
    assert delivery.outcome == WebhookDelivery.Outcome.ACCEPTED

    services.execute_task(new.get().pk)
    job.refresh_from_db()
    assert job.status == ConnectJob.Status.SUCCEEDED
    assert set(statuses(flow).values()) == {Entity.Status.SYNCED}


def test_job_completed_event_for_an_unknown_job_is_ignored(flows, client):
    flow = flows["products_to_commerce"]
    tasks = Task.objects.count()
    response = post_event(client, flow.integration_id, {"JobId": 424242, "StatusId": 2})
    assert response.status_code == 200 and response.json() == {"status": "ignored", "JobId": "424242"}
    assert Task.objects.count() == tasks
    assert WebhookDelivery.objects.get(reference="job 424242").outcome == WebhookDelivery.Outcome.IGNORED


def test_job_completed_event_needs_the_secret(flows, client):
    flow = flows["products_to_commerce"]
    tasks = Task.objects.count()
    response = post_event(client, flow.integration_id, {"JobId": 1, "StatusId": 2}, secret="wrong")
    assert response.status_code == 401
    assert Task.objects.count() == tasks  # nothing acted on
    # Kept as refused, for support to see.
    assert list(WebhookDelivery.objects.values_list("outcome", flat=True)) == [WebhookDelivery.Outcome.REJECTED]


# -- dry runs and full files ------------------------------------------------------------------------


def test_dry_run_writes_nothing_and_counts_a_norce_only_sku(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    norce.connect.seed_skus([NORCE_ONLY, {"PartNo": "NORCE-HIDDEN", "Status": 4}])
    settings = parse_settings(flow.kind, flow.settings)
    report = resync.dry_run(
        flow,
        settings,
        flow_port(flow, MASTER_DATA_SOURCE),
        flow_port(flow, CATALOGUE_TARGET),
        full=True,
    )
    count = len(demo_articles(fortnox))
    assert report.read == count and report.would_send == count and report.errors == 0
    assert report.by_method == {connect.PRODUCTS: count}
    assert report.would_deactivate == 1, "only the active Norce-only SKU would be deactivated"
    assert "Sku.EanCode" in report.fields
    assert not Entity.objects.exists() and not ConnectJob.objects.exists() and not ResyncRun.objects.exists()
    assert not LogEntry.objects.exists()
    assert norce.connect.imports == []
    assert norce.connect.sku(NORCE_ONLY)["Status"] == 1


def test_incremental_dry_run_after_a_sync_sees_only_the_change(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    assert run(flow).status == Task.Status.SUCCEEDED
    number = min(a["ArticleNumber"] for a in demo_articles(fortnox))
    fortnox.seed_articles([{"ArticleNumber": number, "Description": "Nytt namn"}])
    settings = parse_settings(flow.kind, flow.settings)
    before = list(entities(flow).values_list("pk", "status", "payload_hash"))
    report = resync.dry_run(
        flow,
        settings,
        flow_port(flow, MASTER_DATA_SOURCE),
        flow_port(flow, CATALOGUE_TARGET),
        full=False,
    )
    assert report.would_send == 1
    assert report.fields == {"ProductCulture.Name", "SkuCulture.ErpName"}
    assert report.unchanged == report.read - 1
    assert report.would_deactivate is None
    assert list(entities(flow).values_list("pk", "status", "payload_hash")) == before


def command_context(flow: Flow) -> services.FlowContext:
    return services.FlowContext(task=resync.command_task(flow, {"mode": "full"}))


def active_part_nos(norce: NorceSimulator) -> set[str]:
    return {p for p, sku in norce.connect.skus.items() if sku.get("Status") == 1}


def test_full_file_deactivates_a_norce_only_sku(flows, norce, fortnox):
    flow = flows["products_to_commerce"]
    norce.connect.seed_skus([NORCE_ONLY])
    settings = parse_settings(flow.kind, flow.settings)
    run_ = resync.full_file(
        command_context(flow),
        flow,
        settings,
        flow_port(flow, CATALOGUE_TARGET),
        flow_port(flow, MASTER_DATA_SOURCE),
        follow_timeout=30,
    )
    assert run_.status == ResyncRun.Status.DONE, run_.error
    assert norce.connect.sku(NORCE_ONLY)["Status"] == 5
    numbers = {a["ArticleNumber"] for a in demo_articles(fortnox)}
    assert numbers <= set(norce.connect.skus)
    job = ConnectJob.objects.get(pk__in=run_.job_ids)
    assert job.full_file and job.header["FullFile"] is True and job.item_count == len(numbers)
    assert not os.path.exists(run_.spool_path), "the spool is removed when the run is done"


def test_a_full_file_started_from_admin_runs_as_queued_tasks_to_its_end(flows, norce, fortnox):
    """A full file on the queue (admin's 'Full file', a scheduled one) works in slices: each task
    hands what is left to a follow-up, and the last one leaves the run done."""
    flow = flows["products_to_commerce"]
    norce.connect.seed_skus([NORCE_ONLY])
    first = run(flow, mode="full")
    assert first.status == Task.Status.SUCCEEDED, first.error_message
    for _ in range(60):
        if not run_queued_follow_ups(flow, mode="full"):
            break
        time.sleep(0.5)  # the Connect job finishes in the simulator meanwhile
    run_ = ResyncRun.objects.get(flow=flow)
    assert run_.status == ResyncRun.Status.DONE, run_.error
    assert not Task.objects.filter(flow=flow, status=Task.Status.FAILED).exists()
    numbers = {a["ArticleNumber"] for a in demo_articles(fortnox)}
    assert numbers <= set(norce.connect.skus)
    assert norce.connect.sku(NORCE_ONLY)["Status"] == 5


def test_interrupted_full_file_resumes_from_the_pages_done(flows, norce, fortnox, monkeypatch):
    monkeypatch.setattr("connectors.fortnox.lists.PAGE_SIZE", 10)
    flow = flows["products_to_commerce"]
    norce.connect.seed_skus([NORCE_ONLY])
    settings = parse_settings(flow.kind, flow.settings)
    numbers = sorted(a["ArticleNumber"] for a in demo_articles(fortnox))
    pages = -(-len(numbers) // 10)
    assert pages >= 3

    first = resync.full_file(
        command_context(flow),
        flow,
        settings,
        flow_port(flow, CATALOGUE_TARGET),
        flow_port(flow, MASTER_DATA_SOURCE),
        deadline=time.monotonic() - 1,
    )
    first.refresh_from_db()
    assert first.status == ResyncRun.Status.READING
    assert (first.pages_done, first.total_pages, first.items) == (1, pages, 10)
    assert norce.connect.imports == [], "nothing is sent before the whole source is read"
    assert os.path.getsize(first.spool_path) == first.spool_offset > 0

    seen_pages: list[int] = []
    fortnox.requests_seen.clear()
    second = resync.full_file(
        command_context(flow),
        flow,
        settings,
        flow_port(flow, CATALOGUE_TARGET),
        flow_port(flow, MASTER_DATA_SOURCE),
        follow_timeout=30,
        progress=lambda state: seen_pages.append(state.pages_done),
    )
    assert second.pk == first.pk
    assert second.status == ResyncRun.Status.DONE, second.error
    assert seen_pages[0] == 2, f"the resumed run read from page {seen_pages[0]}, not page 2"
    second.refresh_from_db()
    assert second.pages_done == pages and second.items == len(numbers)

    [full] = norce.connect.imports
    assert full["full_file"] is True and full["count"] == len(numbers), "an article was spooled twice or lost"
    assert active_part_nos(norce) == set(numbers)
    assert norce.connect.sku(NORCE_ONLY)["Status"] == 5


# -- staleness ------------------------------------------------------------------------------------------


def succeeded_task(flow: Flow, finished_ago: timedelta) -> Task:
    at = timezone.now() - finished_ago
    return Task.objects.create(
        integration=flow.integration,
        flow=flow,
        trigger=Task.Trigger.SCHEDULE,
        status=Task.Status.SUCCEEDED,
        created_at=at,
        started_at=at,
        finished_at=at,
    )


def flow_status_of(flow: Flow) -> selectors.FlowStatus:
    return next(s for s in selectors.flow_status(flow.integration_id) if s.flow_id == flow.pk)


def test_stock_flow_is_stale_after_15_minutes_without_success(flows):
    stock = flows["stock_to_commerce"]
    assert selectors.stale_after_seconds(stock) == 15 * 60
    assert flow_status_of(stock).stale is True, "a flow that never succeeded is stale"
    succeeded_task(stock, timedelta(minutes=20))
    status = flow_status_of(stock)
    assert status.stale is True and status.stale_after_seconds == 900 and status.staleness_seconds >= 1200
    succeeded_task(stock, timedelta(minutes=2))
    assert flow_status_of(stock).stale is False
    # Products keep a day's threshold: 20 minutes is not stale there.
    products = flows["products_to_commerce"]
    succeeded_task(products, timedelta(minutes=20))
    assert flow_status_of(products).stale is False and flow_status_of(products).stale_after_seconds == 86400


def test_staleness_threshold_follows_the_flow_settings_and_disabled_flows_are_not_stale(flows):
    stock = flows["stock_to_commerce"]
    succeeded_task(stock, timedelta(minutes=20))
    Flow.objects.filter(pk=stock.pk).update(settings={"stale_after_minutes": 30})
    assert flow_status_of(stock).stale is False and flow_status_of(stock).stale_after_seconds == 1800
    Flow.objects.filter(pk=stock.pk).update(settings={"stale_after_minutes": 5}, enabled=False)
    assert flow_status_of(stock).stale is False
    orders = stock.integration.flows.get(kind="orders_to_erp")
    assert selectors.stale_after_seconds(orders) is None


# -- admin and API -----------------------------------------------------------------------------------------


def assert_no_secrets(content: bytes) -> None:
    text = content.decode()
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked into the page"


def test_connect_job_admin_pages_and_restart(flows, norce, admin_client):
    flow = flows["customers_to_commerce"]
    norce.connect.fail_next_jobs = 1
    run(flow)
    failed = ConnectJob.objects.get(flow=flow, status=ConnectJob.Status.FAILED)

    changelist = admin_client.get(reverse("admin:integrations_connectjob_changelist"))
    assert changelist.status_code == 200
    assert failed.job_id in changelist.content.decode()
    assert_no_secrets(changelist.content)

    change = admin_client.get(reverse("admin:integrations_connectjob_change", args=[failed.pk]))
    assert change.status_code == 200
    content = change.content.decode()
    assert "Restart job" in content and "Simulated processing failure" in content
    assert_no_secrets(change.content)

    response = admin_client.post(reverse("admin:integrations_connectjob_restart", args=[failed.pk]), follow=True)
    assert response.status_code == 200
    assert f"Job {failed.job_id}: restarted in Norce" in response.content.decode()
    failed.refresh_from_db()
    assert failed.restarts == 1 and failed.status == ConnectJob.Status.QUEUED
    # An unfinished job offers no restart, and a POST is refused with a message.
    unfinished = admin_client.get(reverse("admin:integrations_connectjob_change", args=[failed.pk])).content.decode()
    assert "Restart job</button>" not in unfinished
    refused = admin_client.post(reverse("admin:integrations_connectjob_restart", args=[failed.pk]), follow=True)
    assert "not restarted" in refused.content.decode()


def test_connect_job_admin_shows_row_counts_and_norces_messages_as_a_table(flows, norce, fortnox, admin_client):
    flow = flows["prices_to_commerce"]
    Flow.objects.filter(pk=flows["products_to_commerce"].pk).update(enabled=False)
    numbers = sorted(a["ArticleNumber"] for a in demo_articles(fortnox))
    norce.connect.seed_skus(numbers[1:])  # Norce lacks the first SKU: its price row is ignored
    run(flow)
    job = last_job(flow)
    skipped = entity(flow, f"{numbers[0]}@SEK-STD/1")

    content = admin_client.get(reverse("admin:integrations_connectjob_change", args=[job.pk])).content.decode()
    for label, value in (("Rows written", job.item_count - 1), ("Rows ignored", 1), ("Rows rejected", 0)):
        assert f"<label>{label}:</label>" in content
        assert f'<div class="readonly">{value}</div>' in content, label
    assert "#fd7e14" in content and "Partly failed" in content  # an orange badge, not green
    assert '"SeverityId"' not in content  # no raw JSON
    table = content[content.index('<table class="connect-job-messages">') :]
    table = table[: table.index("</table>")]
    for heading in ("Row", "Severity", "Message", "Record"):
        assert f'<th scope="col">{heading}</th>' in table
    assert "SKU does not exist" in table and "Warning" in table
    record_url = reverse("admin:integrations_entity_change", args=[skipped.pk])
    assert f'<a href="{record_url}">{numbers[0]}</a>' in table
    assert_no_secrets(content.encode())

    changelist = admin_client.get(reverse("admin:integrations_connectjob_changelist")).content.decode()
    row = changelist[changelist.index(f">{job.job_id}</a>") :]
    row = row[row.index('<td class="field-rows">') :]
    row = row[: row.index("</td>")]
    assert row.startswith(f'<td class="field-rows">{job.item_count - 1}&nbsp;written<br>')
    assert '<span style="color:#b45309;font-weight:600">1&nbsp;ignored</span>' in row
    assert "<span>0&nbsp;rejected</span>" in row


def test_resync_run_admin_pages(flows, norce, admin_client, monkeypatch):
    monkeypatch.setattr("connectors.fortnox.lists.PAGE_SIZE", 10)
    flow = flows["products_to_commerce"]
    settings = parse_settings(flow.kind, flow.settings)
    run_ = resync.full_file(
        command_context(flow),
        flow,
        settings,
        flow_port(flow, CATALOGUE_TARGET),
        flow_port(flow, MASTER_DATA_SOURCE),
        deadline=time.monotonic() - 1,
    )
    changelist = admin_client.get(reverse("admin:integrations_resyncrun_changelist"))
    assert changelist.status_code == 200
    assert_no_secrets(changelist.content)
    change = admin_client.get(reverse("admin:integrations_resyncrun_change", args=[run_.pk]))
    assert change.status_code == 200
    assert_no_secrets(change.content)
    assert "Reading the source" in change.content.decode()


def test_send_full_file_now_queues_a_full_resync_task(flows, admin_client):
    flow = flows["stock_to_commerce"]
    response = admin_client.post(reverse("admin:integrations_flow_full_file", args=[flow.pk]), follow=True)
    assert response.status_code == 200
    assert "full file queued as task" in response.content.decode()
    task = Task.objects.get(flow=flow)
    assert task.trigger == Task.Trigger.RESYNC and task.params == {"mode": "full"}


@pytest.fixture
def api(flows) -> APIClient:
    user = get_user_model().objects.create_user("monitor", password="x", is_staff=True)  # the status API is staff-only
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_connect_jobs_api_lists_jobs_with_a_token(flows, norce, api):
    flow = flows["customers_to_commerce"]
    run(flow)
    response = api.get("/api/v1/connect-jobs/")
    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    ids = {str(row["job_id"]) for row in rows}
    assert ids == set(ConnectJob.objects.values_list("job_id", flat=True)) and len(ids) == 2
    assert {row["status"] for row in rows} == {"succeeded"}
    for row in rows:
        job = ConnectJob.objects.get(job_id=row["job_id"])
        assert (row["rows_written"], row["rows_ignored"], row["rows_rejected"]) == (job.item_count, 0, 0)
    assert_no_secrets(response.content)


def test_connect_jobs_api_refuses_without_a_token(flows):
    response = APIClient().get("/api/v1/connect-jobs/")
    assert response.status_code in (401, 403)


def test_integrations_api_shows_the_stale_flag(flows, api):
    stock = flows["stock_to_commerce"]
    succeeded_task(stock, timedelta(minutes=20))
    body = api.get(f"/api/v1/integrations/{stock.integration_id}/").json()
    by_kind = {f["kind"]: f for f in body["flows"]}
    assert by_kind["stock_to_commerce"]["stale"] is True
    assert by_kind["stock_to_commerce"]["stale_after_seconds"] == 900
    assert by_kind["products_to_commerce"]["stale_after_seconds"] == 86400


def test_stock_flow_uses_the_reserved_share_of_the_connect_limit(flows, norce, fortnox, settings):
    from integrations.models import RateLimitBucket

    assert run(flows["products_to_commerce"]).status == Task.Status.SUCCEEDED
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": True, "CONNECT_PRIORITY_RESERVE": 10}
    key = f"norce-connect:{flow_client(flows['stock_to_commerce'], 'commerce').host}"
    now = time.time()
    # Bulk imports have used their whole share (60 - 10) of this minute.
    RateLimitBucket.objects.update_or_create(key=key, defaults={"hits": [now - 1] * 50})
    started = time.monotonic()
    task = run(flows["stock_to_commerce"])
    assert task.status == Task.Status.SUCCEEDED, task.error_message
    assert time.monotonic() - started < 30, "stock waited for the bulk share to free"
    assert norce.connect.onhand(stock_goods(fortnox)[0], "MAIN", "MAIN") is not None
    assert len(RateLimitBucket.objects.get(key=key).hits) > 50
