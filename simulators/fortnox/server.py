"""A Fortnox API v3 simulator: OAuth, rate limit, errors and the resources Brygga uses.

One in-memory company (tenant) served over real HTTP, with the real paths:

    GET  /oauth-v1/auth           consent page; approves at once and redirects with a code
    POST /oauth-v1/token          authorization_code, refresh_token (rotating) and client_credentials
    /3/customers[/{n}]            GET list/one, POST, PUT, DELETE
    /3/articles[/{n}]             GET list/one, POST, PUT
    /3/invoices[/{n}[/action]]    GET list/one, POST, PUT; PUT bookkeep|cancel|credit|externalprint
    /3/pricelists[/{code}]        GET list/one, POST, PUT
    /3/prices[/...]               POST; GET/PUT first or one price, DELETE one; GET sublist (of an article or a list)
    /3/companyinformation         GET
    /3/settings/company           GET
    /api/warehouse/...            status-v1/stockbalance, stockpoints-v1, tenants-v4 (the warehouse module)

Each resource has its module (``oauth``, ``company``, ``customers``, ``articles``,
``prices``, ``warehouse``, ``invoices`` with ``invoice_rows``, and ``control`` for the
``/_sim/`` additions), all on the request layer of ``api``; `FortnoxSimulator` here puts
them together and holds the company's state.

Articles may come from a generated catalogue (`seed_generated`): up to millions of
articles computed on demand and materialised only when changed (see
`simulators.fortnox.catalogue`).

Invoice totals are computed server-side as Fortnox does (VATIncluded, per-row VAT
rounded to öre, freight and administration fee with their own VAT, optional
rounding to whole kronor). Tests switch behaviour through attributes
(`capitalised_errors`, `round_off_to_whole`, `fail_after_create`, `limiter.enabled`,
`retry_after_header`, `enforce_scopes`; and the timing faults `hold_after_create` (commits
at once, answers late), `commit_late` (commits late, then answers) and `hold_token_answer`
(grants a token, answers late)) or, when run standalone, through the
control API (`/_sim/...`, see `simulators.base`).
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.fortnox.api import RATE_LIMIT, RATE_WINDOW
from simulators.fortnox.articles import ArticleResource
from simulators.fortnox.catalogue import Segment
from simulators.fortnox.company import BAS_ACCOUNTS, CURRENCY_RATES, CompanyResource
from simulators.fortnox.control import ControlApi
from simulators.fortnox.customers import CustomerResource
from simulators.fortnox.demo import DemoData, demo_articles
from simulators.fortnox.errors import Code
from simulators.fortnox.invoice_rows import InvoiceRows
from simulators.fortnox.invoices import InvoiceResource
from simulators.fortnox.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, OAuthServer
from simulators.fortnox.prices import DEFAULT_PRICE_LIST, PriceEntry, PriceResource
from simulators.fortnox.warehouse import DEFAULT_STOCK_POINT, WarehouseResource
from simulators.limits import SlidingWindow

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "Code",
    "FortnoxSimulator",
    "demo_articles",
    "main",
    "run",
]


class FortnoxSimulator(
    OAuthServer,
    CompanyResource,
    CustomerResource,
    ArticleResource,
    PriceResource,
    WarehouseResource,
    InvoiceResource,
    InvoiceRows,
    ControlApi,
    DemoData,
):
    """Fortnox API v3 (OAuth on the same host) for tests, benchmarks and demos."""

    name = "fortnox"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tenant_id: int = 123456,
        company_name: str = "Demo Shop AB",
        organisation_number: str = "559000-1234",
    ) -> None:
        super().__init__(host, port)
        self.tenant_id = tenant_id
        self.company_name = company_name
        self.organisation_number = organisation_number
        self.clients: dict[str, str] = {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
        self.client_redirect_uris: dict[str, str] = {}
        # Switches
        self.capitalised_errors = False  # ErrorInformation keys Error/Message/Code instead of error/message/code
        self.round_off_to_whole = False  # öresavrundning: Total rounded to whole SEK, difference in RoundOff
        self.retry_after_header = False  # send Retry-After on rate-limit 429s (undocumented for the real API)
        self.enforce_scopes = True  # 403 (2000663) when the token lacks the resource's scope
        # Client credentials only for clients whose service account was approved
        # (consent with account_type=service); off → any client of this company may use them.
        self.require_service_consent = False
        self.fail_after_create = 0  # next N invoice POSTs create the invoice, then answer 503
        # Seconds the answer to a successful invoice POST is held back after the invoice
        # exists: a window in which a test can kill the client between "created" and "saved".
        self.hold_after_create = 0.0
        # Seconds an invoice POST takes before Fortnox commits it: the invoice does not exist
        # (no lookup finds it) until then, and the answer comes right after. With a client
        # timeout shorter than this, the client gives up while the create is still in flight.
        # `commit_late_posts` > 0 limits it to that many next POSTs (0: every POST while set).
        self.commit_late = 0.0
        self.commit_late_posts = 0
        # Seconds a successful token answer is held back after the grant was made (a refresh
        # token is then already spent): a client with a shorter timeout loses the answer.
        # `hold_token_answers` > 0 limits it to that many next successful answers (0: all while set).
        self.hold_token_answer = 0.0
        self.hold_token_answers = 0
        self.warehouse_active = True  # the warehouse module; off → /api/warehouse answers "notactivated"
        self.vat_rates: set[int] = {0, 6, 12, 25}
        self.freight_vat_rate = 25
        self.currencies: dict[str, Decimal] = dict(CURRENCY_RATES)
        self.accounts: dict[int, str] = dict(BAS_ACCOUNTS)
        self.limiter = SlidingWindow(RATE_LIMIT, RATE_WINDOW)
        self._init_auth_state()
        self._init_data()

    def _init_data(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.articles: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.modified_at: dict[tuple[str, str], datetime] = {}  # (resource, number) → local time of last change
        self.reserved_customer_numbers: set[str] = set()  # deleted numbers stay taken
        self.price_lists: dict[str, dict[str, Any]] = {
            DEFAULT_PRICE_LIST: {
                "Code": DEFAULT_PRICE_LIST,
                "Description": "Standard",
                "Comments": "",
                "PreSelected": True,
            }
        }
        # price list → article number → FromQuantity → price. Generated articles that are not
        # materialised have only their price-list-A price, computed on demand.
        self.prices: dict[str, dict[str, dict[Decimal, PriceEntry]]] = {DEFAULT_PRICE_LIST: {}}
        self.stock_points: dict[str, dict[str, Any]] = {}
        self._add_stock_point(DEFAULT_STOCK_POINT, "Huvudlager")
        # article number → stock point → (in stock, reserved); articles without rows keep their own fields
        self.stock: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        self.segments: list[Segment] = []  # generated catalogues, disjoint in key space
        self.lost_responses = 0  # invoice POSTs answered 503 by fail_after_create
        self.late_commits = 0  # invoice POSTs held back by commit_late
        self._voucher_number = 0

    @property
    def rate_limited(self) -> int:
        """Requests refused by the per-token rate limit."""
        return self.limiter.rejected

    def reset(self, *, auth: bool = False) -> None:
        """Clear all business data and counters; with `auth`, also codes and tokens."""
        with self.lock:
            self._init_data()
            enabled = self.limiter.enabled
            self.limiter = SlidingWindow(RATE_LIMIT, RATE_WINDOW)
            self.limiter.enabled = enabled
            self.fail_after_create = 0
            self.commit_late, self.commit_late_posts = 0.0, 0
            self.hold_token_answer, self.hold_token_answers = 0.0, 0
            self.requests_seen.clear()
            self.status_counts.clear()
            if auth:
                self._init_auth_state()

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[tuple[float, str, str]]:
        """Requests seen, optionally only one method and/or under a path prefix."""
        with self.lock:
            return [
                c
                for c in self.requests_seen
                if (method is None or c[1] == method.upper()) and c[2].startswith(path_prefix)
            ]

    def state_summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().state_summary(),
                "customers": len(self.customers),
                "articles": len(self.articles) + sum(s.remaining for s in self.segments),
                "generated_articles": sum(s.count for s in self.segments),
                "materialised_articles": sum(len(s.excluded) for s in self.segments),
                "prices": sum(len(p) for articles in self.prices.values() for p in articles.values())
                + sum(s.remaining for s in self.segments),
                "price_lists": len(self.price_lists),
                "stock_points": len(self.stock_points),
                "warehouse_active": self.warehouse_active,
                "invoices": len(self.invoices),
                "booked_invoices": sum(1 for i in self.invoices.values() if i["Booked"]),
                "tokens_issued": len(self.issued_tokens),
                "refreshes": sum(self.refresh_token_uses.values()),
                "rate_limited": self.rate_limited,
                "lost_responses": self.lost_responses,
                "fail_after_create": self.fail_after_create,
                "late_commits": self.late_commits,
            }

    def setup_routes(self) -> None:
        api = self._api
        self.route("GET", r"/oauth-v1/auth", api(self._authorize))
        self.route("POST", r"/oauth-v1/token", self._token_held(api(self._token)))
        self.route("GET", r"/3/companyinformation", api(self._company_information))
        self.route("GET", r"/3/settings/company", api(self._company_settings))
        self.route("GET", r"/3/customers", api(self._list_customers))
        self.route("POST", r"/3/customers", api(self._post_customer))
        self.route("GET", r"/3/customers/(?P<number>[^/]+)", api(self._get_customer))
        self.route("PUT", r"/3/customers/(?P<number>[^/]+)", api(self._put_customer))
        self.route("DELETE", r"/3/customers/(?P<number>[^/]+)", api(self._delete_customer))
        self.route("GET", r"/3/articles", api(self._list_articles))
        self.route("POST", r"/3/articles", api(self._post_article))
        self.route("GET", r"/3/articles/(?P<number>[^/]+)", api(self._get_article))
        self.route("PUT", r"/3/articles/(?P<number>[^/]+)", api(self._put_article))
        self.route("GET", r"/3/invoices", api(self._list_invoices))
        self.route("POST", r"/3/invoices", self._committed_late(self._held(api(self._post_invoice))))
        self.route("GET", r"/3/invoices/(?P<number>[^/]+)", api(self._get_invoice))
        self.route("PUT", r"/3/invoices/(?P<number>[^/]+)", api(self._put_invoice))
        self.route(
            "PUT",
            r"/3/invoices/(?P<number>[^/]+)/(?P<action>bookkeep|cancel|credit|externalprint)",
            api(self._invoice_action),
        )
        self.route("GET", r"/3/pricelists", api(self._list_price_lists))
        self.route("POST", r"/3/pricelists", api(self._post_price_list))
        self.route("GET", r"/3/pricelists/(?P<code>[^/]+)", api(self._get_price_list))
        self.route("PUT", r"/3/pricelists/(?P<code>[^/]+)", api(self._put_price_list))
        self.route("POST", r"/3/prices", api(self._post_price))
        # The sublist routes come first: /3/prices/sublist/A/X also matches {PriceList}/{Article}/{FromQuantity}.
        self.route("GET", r"/3/prices/sublist/(?P<price_list>[^/]+)", api(self._price_list_sublist))
        self.route("GET", r"/3/prices/sublist/(?P<price_list>[^/]+)/(?P<article>[^/]+)", api(self._article_sublist))
        self.route("GET", r"/3/prices/(?P<price_list>[^/]+)/(?P<article>[^/]+)", api(self._get_price))
        self.route("PUT", r"/3/prices/(?P<price_list>[^/]+)/(?P<article>[^/]+)", api(self._put_price))
        self.route(
            "GET", r"/3/prices/(?P<price_list>[^/]+)/(?P<article>[^/]+)/(?P<from_quantity>[^/]+)", api(self._get_price)
        )
        self.route(
            "PUT", r"/3/prices/(?P<price_list>[^/]+)/(?P<article>[^/]+)/(?P<from_quantity>[^/]+)", api(self._put_price)
        )
        self.route(
            "DELETE",
            r"/3/prices/(?P<price_list>[^/]+)/(?P<article>[^/]+)/(?P<from_quantity>[^/]+)",
            api(self._delete_price),
        )
        warehouse = self._warehouse_api
        self.route("GET", r"/api/warehouse/status-v1/stockbalance", warehouse(self._stock_balance))
        self.route("GET", r"/api/warehouse/stockpoints-v1", warehouse(self._list_stock_points))
        self.route("GET", r"/api/warehouse/tenants-v4", warehouse(self._warehouse_tenant))
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            self.route(method, r"/api/warehouse/.*", warehouse(self._warehouse_not_found))
        # Control API additions for standalone runs.
        self.route("POST", r"/_sim/reset", api(self._control_reset))
        self.route("POST", r"/_sim/settings", api(self._control_settings))
        self.route("POST", r"/_sim/expire-tokens", api(self._control_expire_tokens))
        self.route("POST", r"/_sim/articles", api(self._control_articles))
        self.route("POST", r"/_sim/generate", api(self._control_generate))
        self.route("POST", r"/_sim/stock", api(self._control_stock))
        self.route("POST", r"/_sim/prices", api(self._control_prices))


# -- running standalone ---------------------------------------------------------------------------


def run(host: str = "127.0.0.1", port: int = 8702, *, seed: bool = True) -> None:
    """Serve until interrupted (Ctrl-C), seeded with the demo catalogue unless `seed` is False."""
    simulator = FortnoxSimulator(host, port)
    if seed:
        simulator.seed_demo()
    url = simulator.start()
    print(
        f"Fortnox simulator on {url}  (OAuth and API; client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}, "
        f"tenant {simulator.tenant_id})",
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
    parser = argparse.ArgumentParser(description="Run the Fortnox API simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8702)
    parser.add_argument("--no-seed", action="store_true", help="start without the demo catalogue")
    args = parser.parse_args(argv)
    run(args.host, args.port, seed=not args.no_seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
