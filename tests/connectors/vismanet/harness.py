"""Harnesses for the contract suites (tests/contract/conftest.py): the Visma.net adapters over real
HTTP to VismaNetSimulator, beside the Fortnox ones.

The adapters are built exactly as the engine builds them (integrations.engine.clients.port_for)
on a Visma.net connector pointing at the simulator for all three hosts. What the ports do not offer
(releasing an invoice so it must be credited; putting an item, its price and stock; the clock;
breaking an item) is done through the simulator's own Python side.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import requests

from core.ports import INVOICE_TARGET, MASTER_DATA_SOURCE
from integrations.engine.clients import port_for
from integrations.models import Connector
from simulators.vismanet.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from simulators.vismanet.server import DEFAULT_TENANT_ID, VismaNetSimulator
from tests.conftest import build_integration
from tests.contract.conftest import InvoiceTargetHarness, MasterDataHarness

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def vismanet_connector(sim: VismaNetSimulator, **settings: Any) -> Connector:
    """The usual world's ERP connector, made a Visma.net connector on the simulator (all three hosts)."""
    integration = build_integration()
    connector = integration.connectors.get(role=Connector.Role.ERP)
    connector.system = "vismanet"
    connector.base_url = sim.url
    connector.auth_url = sim.url
    connector.settings = {"tenant_id": DEFAULT_TENANT_ID, "salesorder_url": sim.url, **settings}
    connector.credentials = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "webhook_secret": "hook-secret",
    }
    connector.tokens = {}
    connector.save()
    return connector


def _bearer(sim: VismaNetSimulator) -> dict[str, str]:
    token = sim.issue_tokens(DEFAULT_CLIENT_ID)["access_token"]
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def invoice_target_harness(sim: VismaNetSimulator) -> InvoiceTargetHarness:
    connector = vismanet_connector(sim)

    def book(number: str) -> None:
        # Visma.net books an invoice by releasing it (Balanced → Open): then it is credited, not deleted.
        response = requests.post(
            f"{sim.url}/v1/customerinvoice/{number}/action/release", json={}, headers=_bearer(sim), timeout=5
        )
        assert response.status_code == 200, response.text

    # The suite's invoices are left unreleased (InvoiceTerms.release false): an unreleased
    # Visma.net invoice is what an unbooked Fortnox invoice is — deleted to cancel it.
    return InvoiceTargetHarness(
        port_for(connector, INVOICE_TARGET), book, connector.integration, term_defaults={"release": False}
    )


def master_data_harness(sim: VismaNetSimulator) -> MasterDataHarness:
    connector = vismanet_connector(sim)

    def put(number: str, name: str, *, vat: str, price: str, stock: str | None) -> None:
        fields: dict[str, Any] = {
            "inventoryNumber": number,
            "description": name,
            "type": "FinishedGoodItem" if stock is not None else "ServiceItem",
            "vatRate": int(vat),
            "defaultPrice": price,  # excl. VAT; also the item's Base sales price
        }
        if stock is not None:
            fields["onHand"] = stock
        sim.seed_inventory([fields])

    def at(moment: Any) -> None:
        # Visma.net stamps changes in company local time without an offset.
        local = moment.astimezone(STOCKHOLM).replace(tzinfo=None)
        sim.clock = lambda: local  # type: ignore[method-assign]

    def break_item(number: str) -> None:
        with sim.lock:
            sim.inventory[number]["vatCode"] = "XX"  # a VAT code the company does not have

    return MasterDataHarness(port_for(connector, MASTER_DATA_SOURCE), put, at, break_item)
