"""The order source port's contract, run against every adapter (Norce over HTTP to its
simulator today; a second webshop platform adds its harness in conftest and runs the same)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import SyncError
from core.ports import ORDER_SOURCE, OrderSource
from integrations.engine.clients import port_for
from integrations.models import Connector
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class OrderSourceHarness:
    source: OrderSource
    place: object  # place(ref) -> the pushed body of a new order in the webshop
    statuses: object  # statuses() -> {order ref: ERP document} the webshop was told


@pytest.fixture(scope="module")
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=17)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture(params=["norce"])
def order_source(request, settings, norce_server) -> OrderSourceHarness:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    norce_server.reset()
    connector = build_integration(norce_url=norce_server.url).connectors.get(role=Connector.Role.COMMERCE)

    def place(ref: str) -> dict:
        body = generate_order(random.Random(int(ref)), order_ref=ref, catalogue=DEMO_CATALOGUE)
        body = {key: value for key, value in body.items() if not key.startswith("_")}
        norce_server.place_order(body, push=False)
        return body

    def statuses() -> dict[str, str]:
        return {str(s["client_order_ref"]): s["erp_order_no"] for s in norce_server.order_statuses}

    return OrderSourceHarness(port_for(connector, ORDER_SOURCE), place, statuses)


def test_a_stored_push_reads_as_the_order_with_every_line_and_its_vat(order_source):
    body = order_source.place("72001")
    pushed = order_source.source.read_order(body, received_via="push", freight_articles=[])
    assert pushed.source_id == "72001"
    assert [line.part_no for line in pushed.lines] == [str(item["PartNo"]) for item in body["Items"]]
    assert all(line.vat_rate is not None and line.unit_vat is not None for line in pushed.lines)


def test_an_order_fetched_by_its_reference_has_the_lines_and_amounts_of_the_push(order_source):
    body = order_source.place("72002")
    pushed = order_source.source.read_order(body, received_via="push", freight_articles=[])
    fetched = order_source.source.read_order(
        order_source.source.fetch_order("72002"), received_via="event", freight_articles=[]
    )
    assert fetched.source_id == pushed.source_id
    assert [(line.part_no, line.quantity) for line in fetched.lines] == [
        (line.part_no, line.quantity) for line in pushed.lines
    ]
    net = sum((line.unit_price * line.quantity for line in fetched.lines), Decimal(0))
    assert net == sum((line.unit_price * line.quantity for line in pushed.lines), Decimal(0))


def test_an_order_the_webshop_does_not_have_yet_is_a_transient_error(order_source):
    with pytest.raises(SyncError) as missing:
        order_source.source.fetch_order("72999")
    assert not missing.value.permanent


def test_orders_changed_since_a_moment_include_a_new_order_with_its_change_time(order_source):
    before = timezone.now() - timedelta(minutes=1)
    order_source.place("72003")
    polled = {p.order.source_id: p for p in order_source.source.orders_changed_since(before, freight_articles=[])}
    assert "72003" in polled
    assert polled["72003"].changed_at is not None and polled["72003"].changed_at >= before
    assert polled["72003"].error is None and polled["72003"].reference == "72003"


def test_a_confirmed_order_tells_the_webshop_the_erp_document(order_source):
    order_source.place("72004")
    order_source.source.confirm_order("72004", document="5123")
    assert order_source.statuses() == {"72004": "5123"}


def test_a_status_for_an_order_the_webshop_lacks_is_refused_for_good(order_source):
    with pytest.raises(SyncError) as refused:
        order_source.source.confirm_order("72998", document="5124")
    assert refused.value.permanent
    assert refused.value.code in order_source.source.refused_status_codes
