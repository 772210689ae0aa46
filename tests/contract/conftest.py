"""Fixtures of the contract suites: every adapter of a port, behind one harness each.

A harness builds the adapter on a real connector and does, in the system's own way, what
the port does not offer (booking an invoice). The next adapter of a port adds a harness
here and gets the port's whole suite."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from core.ports import INVOICE_TARGET, MASTER_DATA_SOURCE, InvoiceTarget
from integrations.engine.clients import port_for
from integrations.engine.tokens import store_tokens
from integrations.models import Connector, Integration
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.orders import DEMO_CATALOGUE
from tests.conftest import build_integration
from tests.contract.fake_erp.client import ledger

FAKE_ERP = "tests.contract.fake_erp"
KNOWN_ARTICLES = sorted({item["part_no"] for item in DEMO_CATALOGUE} | {"FRAKT"})
_companies = itertools.count(1)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@dataclass
class InvoiceTargetHarness:
    target: InvoiceTarget
    book: Callable[[str], None]  # book an invoice in the ERP (so it must be credited, not cancelled)
    integration: Integration
    # InvoiceTerms fields the suite's invoices take on this ERP (how it leaves an invoice unbooked)
    term_defaults: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def with_fake_erp(settings) -> None:
    """The fake ERP listed in settings beside the product's own connectors."""
    settings.BRYGGA_CONNECTORS = [*settings.BRYGGA_CONNECTORS, FAKE_ERP]
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}


def fake_erp_integration(
    *, name: str = "Fake shop", norce_url: str = "http://127.0.0.1:9", flow_settings: dict | None = None
) -> Integration:
    """A Norce ↔ fake ERP integration: the Fortnox connector of the usual world swapped for the fake."""
    integration = build_integration(norce_url=norce_url, name=name, flow_settings=flow_settings)
    company = f"http://fake-erp.invalid/company-{next(_companies)}"
    ledger(company).articles.update(KNOWN_ARTICLES)
    integration.connectors.filter(role=Connector.Role.ERP).update(system="fakeerp", base_url=company)
    return integration


def _fortnox_harness(fortnox: FortnoxSimulator) -> InvoiceTargetHarness:
    integration = build_integration(fortnox_url=fortnox.url)
    connector = integration.connectors.get(role=Connector.Role.ERP)
    store_tokens(connector, fortnox.issue_tokens("fortnox-client"))

    def book(number: str) -> None:
        token = fortnox.issue_tokens("fortnox-client")["access_token"]
        response = requests.put(
            f"{fortnox.url}/3/invoices/{number}/bookkeep",
            timeout=5,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        assert response.status_code == 200, response.text

    return InvoiceTargetHarness(port_for(connector, INVOICE_TARGET), book, integration)


def _fake_harness() -> InvoiceTargetHarness:
    integration = fake_erp_integration()
    connector = integration.connectors.get(role=Connector.Role.ERP)
    books = ledger(connector.base_url)

    def book(number: str) -> None:
        books.invoices[number]["state"] = "booked"

    return InvoiceTargetHarness(port_for(connector, INVOICE_TARGET), book, integration)


@pytest.fixture(scope="session")
def vismanet_server() -> Iterator[Any]:
    from simulators.vismanet.server import VismaNetSimulator

    sim = VismaNetSimulator()
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def vismanet(vismanet_server) -> Any:
    vismanet_server.reset()
    vismanet_server.seed_demo()
    vismanet_server.seed_inventory([{"inventoryNumber": n, "defaultPrice": "100"} for n in KNOWN_ARTICLES])
    return vismanet_server


@pytest.fixture(params=["fortnox", "fakeerp", "vismanet"])
def invoice_target(request, db, settings, with_fake_erp) -> Iterator[InvoiceTargetHarness]:
    if request.param == "fortnox":
        fortnox: Any = request.getfixturevalue("fortnox")
        yield _fortnox_harness(fortnox)
    elif request.param == "vismanet":
        from tests.connectors.vismanet.harness import invoice_target_harness

        yield invoice_target_harness(request.getfixturevalue("vismanet"))
    else:
        yield _fake_harness()


@dataclass
class MasterDataHarness:
    """A master-data source and, in the system's own way: put an article (number, name, VAT rate,
    price excluding VAT, stock or None for a service) as of a moment, and make it unreadable."""

    source: Any
    put: Callable[..., None]
    at: Callable[[Any], None]  # the moment later changes are stamped with
    break_item: Callable[[str], None]  # give the item a VAT rate the source refuses


def _fortnox_master(fortnox: FortnoxSimulator) -> MasterDataHarness:
    integration = build_integration(fortnox_url=fortnox.url)
    connector = integration.connectors.get(role=Connector.Role.ERP)
    store_tokens(connector, fortnox.issue_tokens("fortnox-client"))

    def put(number: str, name: str, *, vat: str, price: str, stock: str | None) -> None:
        fields = {"StockGoods": stock is not None, "Type": "STOCK" if stock is not None else "SERVICE"}
        fortnox.seed_articles(
            [
                {
                    "ArticleNumber": number,
                    "Description": name,
                    "VAT": int(vat),
                    "SalesPrice": price,
                    "QuantityInStock": stock or 0,
                    "DisposableQuantity": stock or 0,
                    **fields,
                }
            ]
        )

    def at(moment) -> None:
        local = moment.astimezone(STOCKHOLM).replace(tzinfo=None)
        fortnox.clock = lambda: local  # type: ignore[method-assign]

    def break_item(number: str) -> None:
        with fortnox.lock:
            fortnox.articles[number]["VAT"] = 7

    return MasterDataHarness(port_for(connector, MASTER_DATA_SOURCE), put, at, break_item)


def _fake_master() -> MasterDataHarness:
    integration = fake_erp_integration()
    connector = integration.connectors.get(role=Connector.Role.ERP)
    books = ledger(connector.base_url)
    books.items.clear()

    def put(number: str, name: str, *, vat: str, price: str, stock: str | None) -> None:
        books.put_item(number, name, vat=vat, price=price, stock=stock)

    def at(moment) -> None:
        books.clock = int(moment.timestamp())

    def break_item(number: str) -> None:
        books.items[number].vat = Decimal(7)

    return MasterDataHarness(port_for(connector, MASTER_DATA_SOURCE), put, at, break_item)


@pytest.fixture(params=["fortnox", "fakeerp", "vismanet"])
def master_data_source(request, db, settings, with_fake_erp) -> Iterator[MasterDataHarness]:
    if request.param == "fortnox":
        yield _fortnox_master(request.getfixturevalue("fortnox"))
    elif request.param == "vismanet":
        from tests.connectors.vismanet.harness import master_data_harness

        sim = request.getfixturevalue("vismanet_server")
        sim.reset()
        yield master_data_harness(sim)
    else:
        yield _fake_master()
