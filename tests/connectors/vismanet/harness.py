"""Harnesses for the contract suites (tests/contract/conftest.py): the Visma.net adapters over real
HTTP to VismaNetSimulator, for the lead to wire in beside the Fortnox ones.

The adapters are built exactly as the engine builds them (integrations.engine.clients.port_for)
on a Visma.net connector pointing at the simulator for all three hosts. What the ports do not offer
(releasing an invoice so it must be credited; putting an item, its price and stock; the clock;
breaking an item) is done through the simulator's own control. Its control API was not written
when this was, so `_control` looks the method up by the names the wire contract suggests and
fails naming them if none exists — adapt the names there once, nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import requests

from core.ports import INVOICE_TARGET, MASTER_DATA_SOURCE
from integrations.engine.clients import port_for
from integrations.models import Connector
from tests.conftest import build_integration
from tests.contract.conftest import InvoiceTargetHarness, MasterDataHarness

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DEFAULT_TENANT = "5f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"


def vismanet_connector(sim: Any, **settings: Any) -> Connector:
    """The usual world's ERP connector, made a Visma.net connector on the simulator."""
    integration = build_integration()
    connector = integration.connectors.get(role=Connector.Role.ERP)
    connector.system = "vismanet"
    connector.base_url = sim.url
    connector.auth_url = sim.url
    connector.settings = {
        "tenant_id": getattr(sim, "tenant_id", DEFAULT_TENANT),
        "salesorder_url": sim.url,
        "vat_codes": {},
        **settings,
    }
    connector.credentials = {
        "client_id": getattr(sim, "client_id", "brygga"),
        "client_secret": getattr(sim, "client_secret", "brygga-secret"),
        "webhook_secret": "hook-secret",
    }
    connector.tokens = {}
    connector.save()
    return connector


def _control(sim: Any, *names: str) -> Callable[..., Any]:
    for name in names:
        method = getattr(sim, name, None)
        if callable(method):
            return method  # type: ignore[no-any-return]
    raise AssertionError(
        f"VismaNetSimulator has none of {', '.join(names)}: adapt tests/connectors/vismanet/harness.py"
    )


def _token(sim: Any, connector: Connector) -> str:
    response = requests.post(
        f"{sim.url}/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": connector.credentials["client_id"],
            "client_secret": connector.credentials["client_secret"],
            "tenant_id": connector.settings["tenant_id"],
            "scope": "vismanet_erp_service_api:update",
        },
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def invoice_target_harness(sim: Any) -> InvoiceTargetHarness:
    connector = vismanet_connector(sim)

    def book(number: str) -> None:
        # Visma.net books an invoice by releasing it (Balanced → Open): then it is credited, not deleted.
        response = requests.post(
            f"{sim.url}/v1/customerinvoice/{number}/action/release",
            json={},
            headers={"Authorization": f"Bearer {_token(sim, connector)}", "Accept": "application/json"},
            timeout=5,
        )
        assert response.status_code == 200, response.text

    return InvoiceTargetHarness(port_for(connector, INVOICE_TARGET), book, connector.integration)


def master_data_harness(sim: Any) -> MasterDataHarness:
    connector = vismanet_connector(sim)
    put_item = _control(sim, "put_inventory_item", "seed_inventory_item", "seed_item")
    set_clock = _control(sim, "set_clock", "set_now")

    def put(number: str, name: str, *, vat: str, price: str, stock: str | None) -> None:
        # The simulator's seeded Swedish VAT codes: MP1 25 %, MP2 12 %, MP3 6 %, MF 0 %.
        code = {"25": "MP1", "12": "MP2", "6": "MP3", "0": "MF"}[vat]
        put_item(
            {
                "inventoryNumber": number,
                "description": name,
                "status": "Active",
                "type": "FinishedGoodItem" if stock is not None else "ServiceItem",
                "vatCode": {"id": code},
                "defaultPrice": price,
                "baseUnit": "ST",
                "salesUnit": "ST",
                "price": price,  # the item's Base sales price (customerSalesPrice, excl. VAT)
                "stock": stock,  # quantity on hand and available in the default warehouse
            }
        )

    def at(moment: Any) -> None:
        # Visma.net stamps changes in company local time without an offset.
        set_clock(moment.astimezone(STOCKHOLM).replace(tzinfo=None))

    def break_item(number: str) -> None:
        _control(sim, "update_inventory_item", "patch_inventory_item")(number, {"vatCode": {"id": "XX"}})

    return MasterDataHarness(port_for(connector, MASTER_DATA_SOURCE), put, at, break_item)
