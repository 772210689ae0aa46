"""A Visma.net ERP (Visma Net Financials) API simulator, with Visma Connect and SalesOrders V3.

In-memory companies (tenants) served over real HTTP on one port, with the real paths:

    POST /connect/token                          client credentials for one tenant (Visma Connect)
    GET  /v1/organization                        the company
    /v1/customer[/{number}]                      GET list/one, POST, PUT
    GET  /v1/vat[/{vatId}]
    GET  /v1/inventory[/{number}], /v1/inventorysummary/{number}
    GET  /v1/customerSalesPrice
    POST /v2/customerinvoice; /v1/customerinvoice[/{number}] GET, PUT, DELETE; .../action/release|reverse
    GET  /v1/customerCreditNote[/{number}], POST .../action/release
    /v1/customerPayment[/{number}]               GET list/one, POST; .../action/release
    /v1/shipment[/{number}]                      GET list/one, POST; .../action/addSOOrder|confirmShipment
    GET  /v1/background/{id}[/content]           results of requests sent with erp-api-background
    POST /v1/webhooknotificationfeedback
    /api/v3/salesorders[/{type}/{nbr}[/lines]]   SalesOrders V3: POST, GET list/one/lines, PATCH, DELETE

Each resource has its module (``oauth``, ``customers``, ``inventory``, ``prices``,
``invoices``, ``payments``, ``salesorders``, ``shipments``, ``background``, ``webhooks``,
``control``, ``demo``) on the request layer of ``api``; `VismaNetSimulator` puts them
together and holds the companies. The warehouse's part (shipping and invoicing an order)
and the ERP user's (cancelling, voiding) are Python methods and /_sim/ endpoints.

Faults are attributes (`fail_after_create`, `hold_after_create`, `stale_etag_once`,
`lose_webhooks`, `duplicate_webhooks`, `token_down`, `limiter.enabled`/`limiter.limit`,
`server_errors(n)`, `rate_limit_burst(n)`) and all of them fields of /_sim/faults.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import asdict
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaFaults
from simulators.vismanet.background import BackgroundResource
from simulators.vismanet.company import Company
from simulators.vismanet.control import ControlApi
from simulators.vismanet.demo import DemoData
from simulators.vismanet.invoices import InvoiceResource
from simulators.vismanet.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_SCOPE, OAuthServer
from simulators.vismanet.payments import PaymentResource
from simulators.vismanet.ratelimit import HOURLY_LIMIT, FixedWindow
from simulators.vismanet.salesorders import SalesOrderResource
from simulators.vismanet.shipments import ShipmentResource
from simulators.vismanet.webhooks import WebhookPublisher

DEFAULT_TENANT_ID = "6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f"
DEFAULT_COMPANY_NAME = "Demo Shop AB"

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_SCOPE",
    "DEFAULT_TENANT_ID",
    "VismaNetSimulator",
    "main",
    "run",
]


def _fault_property(name: str, doc: str) -> property:
    def get(self: VismaNetSimulator) -> Any:
        return getattr(self.faults, name)

    def set_(self: VismaNetSimulator, value: Any) -> None:
        setattr(self.faults, name, value)

    return property(get, set_, doc=doc)


class VismaNetSimulator(
    OAuthServer,
    DemoData,
    InvoiceResource,
    PaymentResource,
    SalesOrderResource,
    ShipmentResource,
    BackgroundResource,
    WebhookPublisher,
    ControlApi,
):
    """Visma.net ERP API, Visma Connect and SalesOrders V3 for tests, benchmarks and demos."""

    name = "vismanet"

    fail_after_create = _fault_property("fail_after_create", "the next N creates commit, then lose their answer")
    hold_after_create = _fault_property("hold_after_create", "seconds a create's answer waits after the commit")
    stale_etag_once = _fault_property("stale_etag_once", "the next If-Match write answers 412")
    lose_webhooks = _fault_property("lose_webhooks", "the next N notifications are never delivered")
    duplicate_webhooks = _fault_property("duplicate_webhooks", "the next N notifications are delivered twice")
    token_down = _fault_property("token_down", "the token endpoint answers 503")

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.companies: dict[str, Company] = {}
        self.default_tenant_id = DEFAULT_TENANT_ID
        self.enforce_scopes = True
        self.limiter = FixedWindow(HOURLY_LIMIT)
        self.requests: Counter[str] = Counter()
        self.lost_answers = 0  # creates whose answer fail_after_create dropped
        super().__init__(host, port)
        self.faults = VismaFaults()
        self._init_auth_state()
        self._init_webhooks()
        self.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        self.add_company(DEFAULT_TENANT_ID, DEFAULT_COMPANY_NAME)

    # -- companies and state ----------------------------------------------------------------------
    def add_company(self, tenant_id: str, name: str, *, licensed: bool = True) -> Company:
        """A company (tenant); the default client's application is granted access to it.
        With `licensed=False` tokens can be had for it but every API call answers 403 (12027)."""
        with self.lock:
            company = self.companies.get(tenant_id)
            if company is None:
                company = self.companies[tenant_id] = Company(tenant_id=tenant_id, name=name, licensed=licensed)
            if DEFAULT_CLIENT_ID in self.clients:
                self.clients[DEFAULT_CLIENT_ID][1].add(tenant_id)
            return company

    def company(self, tenant_id: str | None = None) -> Company:
        with self.lock:
            return self.companies[tenant_id or self.default_tenant_id]

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        return self.company().customers

    @property
    def inventory(self) -> dict[str, dict[str, Any]]:
        return self.company().inventory

    @property
    def invoices(self) -> dict[str, dict[str, Any]]:
        return self.company().invoices

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        return self.company().payments

    @property
    def sales_orders(self) -> dict[str, dict[str, Any]]:
        """Orders by "<type>/<number>", e.g. "SO/000001"."""
        return self.company().sales_orders

    @property
    def shipments(self) -> dict[str, dict[str, Any]]:
        return self.company().shipments

    def reset(self) -> None:
        """Clear every company's data, the tokens, counters and faults (companies and clients stay)."""
        with self.lock:
            for tenant_id, old in list(self.companies.items()):
                self.companies[tenant_id] = Company(tenant_id=tenant_id, name=old.name, licensed=old.licensed)
            self.access_tokens.clear()
            self.limiter.reset()
            self.faults = VismaFaults()
            self.requests.clear()
            self.requests_seen.clear()
            self.status_counts.clear()
            self._init_webhooks()

    # -- faults -----------------------------------------------------------------------------------
    def server_errors(self, n: int) -> None:
        """The next `n` API requests answer 500 and 503 (alternating) without doing anything."""
        with self.lock:
            self.faults.server_error_burst = n

    def rate_limit_burst(self, n: int, retry_after: int = 2) -> None:
        """The next `n` API requests answer 429 with ``Retry-After: <retry_after>``."""
        with self.lock:
            self.faults.storm_requests = n
            self.faults.retry_after = retry_after

    def _set_faults(self, request: Request) -> Response:
        """POST /_sim/faults: the shared faults, Visma.net's own, and rate_limit / rate_limit_per_hour."""
        try:
            values = dict(request.json() or {})
            with self.lock:
                if "rate_limit" in values:
                    self.limiter.enabled = bool(values.pop("rate_limit"))
                if "rate_limit_per_hour" in values:
                    self.limiter.limit = int(values.pop("rate_limit_per_hour"))
                self.faults.update(values)
        except (TypeError, ValueError) as exc:
            return Response(status=400, body={"error": str(exc)})
        return self._faults_body()

    def _reset_faults(self, request: Request) -> Response:
        with self.lock:
            self.faults = VismaFaults()
            self.limiter.enabled = True
        return self._faults_body()

    def _faults_body(self) -> Response:
        return Response(
            body={**asdict(self.faults), "rate_limit": self.limiter.enabled, "rate_limit_per_hour": self.limiter.limit}
        )

    def state_summary(self) -> dict[str, Any]:
        with self.lock:
            company = self.company()
            return {
                **super().state_summary(),
                "companies": len(self.companies),
                "customers": len(company.customers),
                "items": len(company.inventory) + sum(s.remaining for s in company.segments),
                "generated_items": sum(s.count for s in company.segments),
                "materialised_items": sum(len(s.excluded) for s in company.segments),
                "prices": len(company.prices) + sum(s.remaining for s in company.segments),
                "invoices": len(company.invoices),
                "payments": len(company.payments),
                "sales_orders": len(company.sales_orders),
                "shipments": len(company.shipments),
                "tokens_issued": self.tokens_issued,
                "rate_limited": self.limiter.rejected,
                "lost_answers": self.lost_answers,
                "webhooks": len(self.webhook_deliveries),
                "requests_by_kind": dict(self.requests),
            }

    # -- routes -----------------------------------------------------------------------------------
    def setup_routes(self) -> None:
        api = self._api
        n = r"(?P<number>[^/]+)"
        self.route("GET", r"/_sim/faults", lambda r: self._faults_body())
        self.route("POST", r"/connect/token", self._token)
        self.route("GET", r"/v1/organization", api(self._organization))
        self.route("GET", r"/v1/customer", api(self._list_customers))
        self.route("POST", r"/v1/customer", api(self._post_customer))
        self.route("GET", rf"/v1/customer/{n}", api(self._get_customer))
        self.route("PUT", rf"/v1/customer/{n}", api(self._put_customer))
        self.route("GET", r"/v1/vat", api(self._list_vat))
        self.route("GET", r"/v1/vat/(?P<vat_id>[^/]+)", api(self._get_vat))
        self.route("GET", r"/v1/inventory", api(self._list_inventory))
        self.route("GET", rf"/v1/inventory/{n}", api(self._get_inventory))
        self.route("GET", rf"/v1/inventorysummary/{n}", api(self._inventory_summary))
        self.route("GET", r"/v1/customerSalesPrice", api(self._list_prices))
        self.route("POST", r"/v2/customerinvoice", api(self._post_invoice))
        self.route("GET", r"/v1/customerinvoice", api(self._list_invoices))
        self.route("GET", rf"/v1/customerinvoice/{n}", api(self._get_invoice))
        self.route("PUT", rf"/v1/customerinvoice/{n}", api(self._put_invoice))
        self.route("DELETE", rf"/v1/customerinvoice/{n}", api(self._delete_invoice))
        self.route("POST", rf"/v1/customerinvoice/{n}/action/(?P<action>[^/]+)", api(self._invoice_action))
        self.route("GET", r"/v1/customerCreditNote", api(self._list_credit_notes))
        self.route("GET", rf"/v1/customerCreditNote/{n}", api(self._get_credit_note))
        self.route("POST", rf"/v1/customerCreditNote/{n}/action/(?P<action>release)", api(self._invoice_action))
        self.route("GET", r"/v1/customerPayment", api(self._list_payments))
        self.route("POST", r"/v1/customerPayment", api(self._post_payment))
        self.route("GET", rf"/v1/customerPayment/{n}", api(self._get_payment))
        self.route("POST", rf"/v1/customerPayment/{n}/action/release", api(self._release_payment))
        self.route("GET", r"/v1/shipment", api(self._list_shipments))
        self.route("POST", r"/v1/shipment", api(self._post_shipment))
        self.route("GET", rf"/v1/shipment/{n}", api(self._get_shipment))
        self.route(
            "POST", rf"/v1/shipment/{n}/action/(?P<action>addSOOrder|confirmShipment)", api(self._shipment_action)
        )
        self.route("GET", r"/v1/background/(?P<job_id>[^/]+)", api(self._get_job))
        self.route("GET", r"/v1/background/(?P<job_id>[^/]+)/content", api(self._get_job_content))
        self.route("POST", r"/v1/webhooknotificationfeedback", api(self._post_feedback))
        order = r"/api/v3/salesorders/(?P<type>[^/]+)/(?P<nbr>[^/]+)"
        self.route("POST", r"/api/v3/salesorders", api(self._post_order))
        self.route("GET", r"/api/v3/salesorders", api(self._list_orders))
        self.route("GET", order, api(self._get_order))
        self.route("GET", rf"{order}/lines", api(self._get_order_lines))
        self.route("PATCH", order, api(self._patch_order))
        self.route("DELETE", order, api(self._delete_order))
        self._setup_control_routes()


# -- running standalone ---------------------------------------------------------------------------


def run(host: str = "127.0.0.1", port: int = 8703, *, seed: bool = True, generated: int = 0) -> None:
    """Serve until interrupted (Ctrl-C), seeded with the demo data unless `seed` is False."""
    simulator = VismaNetSimulator(host, port)
    if seed:
        simulator.seed_demo()
    if generated:
        simulator.seed_generated(generated)
    url = simulator.start()
    print(
        f"Visma.net simulator on {url}  (API, Visma Connect and SalesOrders V3; client {DEFAULT_CLIENT_ID} / "
        f"{DEFAULT_CLIENT_SECRET}, tenant {DEFAULT_TENANT_ID})",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the Visma.net API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8703)
    parser.add_argument("--no-seed", action="store_true", help="start without the demo data")
    parser.add_argument("--generated", type=int, default=0, help="also a generated inventory of this many items")
    args = parser.parse_args(argv)
    run(args.host, args.port, seed=not args.no_seed, generated=args.generated)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
