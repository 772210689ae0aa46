"""The catalogue target port's contract, run against every adapter (Norce Connect over HTTP to its
simulator today; a second webshop platform adds its harness here and runs the same)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.ports import CATALOGUE_TARGET, CatalogueTarget
from core.records import JobOutcome, Price, Product
from integrations.engine.clients import port_for
from integrations.flows.master_settings import parse_settings
from integrations.models import Connector
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=19)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(params=["norce"])
def target(request, settings, norce_server) -> CatalogueTarget:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    norce_server.reset()
    norce_server.connect.job_delay = 0.05
    connector = build_integration(norce_url=norce_server.url).connectors.get(role=Connector.Role.COMMERCE)
    return port_for(connector, CATALOGUE_TARGET)


def finished(target: CatalogueTarget, job_id: str, timeout: float = 30) -> JobOutcome:
    deadline = time.monotonic() + timeout
    while True:
        outcome = target.job(job_id)
        if outcome.finished or time.monotonic() > deadline:
            return outcome
        time.sleep(0.2)


PRODUCTS = parse_settings("products_to_commerce", {})
PRICES = parse_settings("prices_to_commerce", {})


def product(part_no: str) -> Product:
    return Product(part_no=part_no, name=f"Artikel {part_no}", vat_rate=Decimal(25), manufacturer="Acme AB")


def test_a_sent_record_is_written_and_its_job_says_so(target):
    record = target.record("product", product("CT-1"), PRODUCTS)
    assert record is not None and target.knows(record.method)
    assert target.record_id("product", "CT-1", 1, PRODUCTS) == record.source_id
    accepted = target.send(record.method, [record.payload()], set(record.fields))
    assert accepted.job_id and accepted.body
    outcome = finished(target, accepted.job_id)
    assert outcome.finished and outcome.status == "succeeded" and not outcome.could_not_run
    assert (outcome.written, outcome.ignored, outcome.rejected) == (1, 0, 0)
    assert "CT-1" in set(target.active_products())


def test_a_row_the_target_skips_is_reported_on_its_row(target):
    known = target.record("product", product("CT-2"), PRODUCTS)
    finished(target, target.send(known.method, [known.payload()], set(known.fields)).job_id)
    prices = [
        target.record("price", Price(part_no, Decimal("99.20"), includes_vat=False, vat_rate=Decimal(25)), PRICES)
        for part_no in ("CT-2", "CT-NOT-THERE")
    ]
    keys = set(prices[0].fields)
    outcome = finished(target, target.send(prices[0].method, [p.payload() for p in prices], keys).job_id)
    assert outcome.finished and outcome.status == "partly_failed"
    assert outcome.written == 1 and outcome.ignored == 1
    assert set(outcome.rows_ignored) == {2} and 1 not in outcome.row_errors


def test_a_finished_job_may_be_restarted_only_while_the_target_keeps_it(target):
    record = target.record("product", product("CT-3"), PRODUCTS)
    outcome = finished(target, target.send(record.method, [record.payload()], set(record.fields)).job_id)
    now = timezone.now()
    assert target.restartable(outcome.status_id, now - timedelta(days=1), now) == (True, "")
    ok, why = target.restartable(outcome.status_id, now - timedelta(days=30), now)
    assert not ok and why


def test_a_full_file_streams_every_item_in_one_import(target):
    records = [target.record("product", product(f"CT-F{i}"), PRODUCTS) for i in range(5)]
    (method,) = target.full_file_methods(records[0].fields)
    calls = []

    def items():
        calls.append(1)
        return (target.spool_item(record) for record in records)

    accepted = target.send_full_file(method, records[0].fields, items)
    outcome = finished(target, accepted.job_id)
    assert outcome.status == "succeeded" and outcome.written == 5 and calls
    assert {f"CT-F{i}" for i in range(5)} <= set(target.active_products())
