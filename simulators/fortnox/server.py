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
import base64
import json
import math
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html import escape
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from simulators.base import Request, Response, Simulator
from simulators.fortnox.catalogue import (
    RefListRun,
    Segment,
    SegmentsRun,
    generated_customer,
    merge_window,
    window_positions,
)
from simulators.limits import SlidingWindow
from simulators.norce.orders import DEMO_CATALOGUE
from simulators.numbers import ean_check_digit, luhn_digit

STOCKHOLM = ZoneInfo("Europe/Stockholm")

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 45 * 24 * 3600
AUTH_CODE_SECONDS = 600
RATE_LIMIT = 25  # requests ...
RATE_WINDOW = 5.0  # ... per sliding window of this many seconds, per access token
DEFAULT_LIMIT, MAX_LIMIT = 100, 500

DEFAULT_CLIENT_ID = "fortnox-client"
DEFAULT_CLIENT_SECRET = "fortnox-secret-value"
DEFAULT_SCOPE = "companyinformation settings customer article invoice payment bookkeeping currency price"
DEFAULT_PRICE_LIST = "A"  # the price list whose price at FromQuantity 0 is the article's SalesPrice
DEFAULT_STOCK_POINT = "MAIN"

ORE = Decimal("0.01")
HUNDRED = Decimal(100)


class Code:
    """ErrorInformation codes."""

    SYSTEM_EXCEPTION = 1000003
    NOT_NUMERIC = 2000108
    NOT_BOOLEAN = 2000134
    CUSTOMER_NOT_FOUND = 2000204  # customer referenced from a document
    INVALID_LOGIN = 2000310
    LOGIN_MISSING = 2000311
    ARTICLE_NOT_FOUND = 2000428  # GET /3/articles/{n}
    CUSTOMER_NOT_FOUND_404 = 2000433  # GET/PUT /3/customers/{n}
    INVALID_PARAMETER = 2000588
    CUSTOMER_NUMBER_USED = 2000637
    NO_SCOPE_ACCESS = 2000663
    ARTICLE_NOT_FOUND_ON_ROW = 2001302
    ACCOUNT_NOT_FOUND = 2001304
    EMPTY_BODY = 2001392
    INVALID_FIELD = 2001399
    JSON_SYNTAX = 2002115
    # Fortnox publishes no codes for the cases below; these placeholders (29990xx)
    # keep them distinguishable. Clients should branch on the published codes only.
    NAME_REQUIRED = 2999001
    DESCRIPTION_REQUIRED = 2999002
    VAT_NOT_FOUND = 2999003
    CURRENCY_NOT_FOUND = 2999004
    INVALID_VALUE = 2999005
    NUMBER_USED = 2999006
    INVOICE_NOT_FOUND = 2999007
    DOCUMENT_LOCKED = 2999008
    ACTION_NOT_ALLOWED = 2999009
    RATE_LIMITED = 2999010  # the body of a real 429 is undocumented
    NOT_FOUND = 2999011  # no such endpoint
    PRICE_LIST_NOT_FOUND = 2999012
    PRICE_NOT_FOUND = 2999013
    NO_IDENTIFIER = 2000729  # no valid identifier given (a price without PriceList or ArticleNumber)


class ApiError(Exception):
    """A Fortnox error answer (status, Swedish message, ErrorInformation code)."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"{status} [{code}] {message}")
        self.status, self.message, self.code = status, message, code


class WarehouseError(Exception):
    """An error answer of the warehouse module (`/api/warehouse/...`): a WebException body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message


# -- field names (Fortnox API v3) ----------------------------------------------------

INVOICE_READ_ONLY = frozenset(
    {
        "@url",
        "@urlTaxReductionList",
        "AccountingMethod",
        "AdministrationFeeVAT",
        "Balance",
        "BasisTaxReduction",
        "Booked",
        "Cancelled",
        "ContractReference",
        "ContributionPercent",
        "ContributionValue",
        "Credit",
        "FinalPayDate",
        "FreightVAT",
        "Gross",
        "HouseWork",
        "InvoicePeriodEnd",
        "InvoicePeriodReference",
        "InvoicePeriodStart",
        "InvoiceReference",
        "LastRemindDate",
        "Net",
        "NoxFinans",
        "OfferReference",
        "OrderReference",
        "OrganisationNumber",
        "Reminders",
        "RoundOff",
        "Sent",
        "TaxReduction",
        "TimeBasisReference",
        "Total",
        "TotalToPay",
        "TotalVAT",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
        "WarehouseReady",
    }
)
INVOICE_WRITABLE = frozenset(
    {
        "AdministrationFee",
        "Address1",
        "Address2",
        "City",
        "Comments",
        "CostCenter",
        "Country",
        "CreditInvoiceReference",
        "Currency",
        "CurrencyRate",
        "CurrencyUnit",
        "CustomerName",
        "CustomerNumber",
        "DeliveryAddress1",
        "DeliveryAddress2",
        "DeliveryCity",
        "DeliveryCountry",
        "DeliveryDate",
        "DeliveryName",
        "DeliveryZipCode",
        "DocumentNumber",
        "DueDate",
        "EDIInformation",
        "EUQuarterlyReport",
        "EmailInformation",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "Freight",
        "InvoiceDate",
        "InvoiceRows",
        "InvoiceType",
        "Labels",
        "Language",
        "NotCompleted",
        "OCR",
        "OurReference",
        "OutboundDate",
        "PaymentWay",
        "Phone1",
        "Phone2",
        "PriceList",
        "PrintTemplate",
        "Project",
        "Remarks",
        "TaxReductionType",
        "TermsOfDelivery",
        "TermsOfPayment",
        "VATIncluded",
        "WayOfDelivery",
        "YourOrderNumber",
        "YourReference",
        "ZipCode",
    }
)
INVOICE_ROW_READ_ONLY = frozenset(
    {"ContributionPercent", "ContributionValue", "PriceExcludingVAT", "Total", "TotalExcludingVAT"}
)
INVOICE_ROW_WRITABLE = frozenset(
    {
        "AccountNumber",
        "ArticleNumber",
        "Cost",
        "CostCenter",
        "DeliveredQuantity",
        "Description",
        "Discount",
        "DiscountType",
        "HouseWork",
        "HouseWorkHoursToReport",
        "HouseWorkType",
        "Price",
        "Project",
        "RowId",
        "StockPointCode",
        "Unit",
        "VAT",
        "VATCode",
    }
)
CUSTOMER_WRITABLE = frozenset(
    {
        "Active",
        "Address1",
        "Address2",
        "City",
        "Comments",
        "CostCenter",
        "Country",
        "CountryCode",
        "Currency",
        "CustomerNumber",
        "DefaultDeliveryTypes",
        "DefaultTemplates",
        "DeliveryAddress1",
        "DeliveryAddress2",
        "DeliveryCity",
        "DeliveryCountry",
        "DeliveryCountryCode",
        "DeliveryFax",
        "DeliveryName",
        "DeliveryPhone1",
        "DeliveryPhone2",
        "DeliveryZipCode",
        "Email",
        "EmailInvoice",
        "EmailInvoiceBCC",
        "EmailInvoiceCC",
        "EmailOffer",
        "EmailOfferBCC",
        "EmailOfferCC",
        "EmailOrder",
        "EmailOrderBCC",
        "EmailOrderCC",
        "ExternalReference",
        "Fax",
        "GLN",
        "GLNDelivery",
        "InvoiceAdministrationFee",
        "InvoiceDiscount",
        "InvoiceFreight",
        "InvoiceRemark",
        "Name",
        "OrganisationNumber",
        "OurReference",
        "Phone1",
        "Phone2",
        "PriceList",
        "Project",
        "SalesAccount",
        "ShowPriceVATIncluded",
        "TermsOfDelivery",
        "TermsOfPayment",
        "Type",
        "VATNumber",
        "VATType",
        "VisitingAddress",
        "VisitingCity",
        "VisitingCountry",
        "VisitingCountryCode",
        "VisitingZipCode",
        "WWW",
        "WayOfDelivery",
        "YourReference",
        "ZipCode",
    }
)
CUSTOMER_READ_ONLY = frozenset({"@url"})
ARTICLE_WRITABLE = frozenset(
    {
        "Active",
        "ArticleNumber",
        "Bulky",
        "ConstructionAccount",
        "CostCalculationMethod",
        "DefaultStockLocation",
        "DefaultStockPoint",
        "Depth",
        "Description",
        "DirectCost",
        "EAN",
        "EUAccount",
        "EUVATAccount",
        "Expired",
        "ExportAccount",
        "FreightCost",
        "Height",
        "Housework",
        "HouseworkType",
        "Manufacturer",
        "ManufacturerArticleNumber",
        "Note",
        "OtherCost",
        "PurchaseAccount",
        "PurchasePrice",
        "QuantityInStock",
        "ReservedQuantity",
        "SalesAccount",
        "SalesPrice",
        "StockAccount",
        "StockChangeAccount",
        "StockGoods",
        "StockPlace",
        "StockValue",
        "StockWarning",
        "SupplierName",
        "SupplierNumber",
        "Type",
        "Unit",
        "VAT",
        "WebshopArticle",
        "Weight",
        "Width",
    }
)
PRICE_LIST_WRITABLE = frozenset({"Code", "Comments", "Description", "PreSelected"})
PRICE_LIST_READ_ONLY = frozenset({"@url"})
# Date is in the payload schema, but the simulator stamps it itself (the time of the change).
PRICE_WRITABLE = frozenset({"ArticleNumber", "FromQuantity", "Percent", "Price", "PriceList"})
PRICE_READ_ONLY = frozenset({"@url", "Date"})
# The spec lists DisposableQuantity as writable, but it is derived (in stock − reserved); writes are ignored.
ARTICLE_READ_ONLY = frozenset({"@url", "CommodityCode", "DisposableQuantity"})

BOOLEAN_FIELDS = frozenset(
    {
        "Active",
        "Bulky",
        "EUQuarterlyReport",
        "Expired",
        "Housework",
        "HouseWork",
        "NotCompleted",
        "PreSelected",
        "ShowPriceVATIncluded",
        "StockGoods",
        "VATIncluded",
        "WebshopArticle",
    }
)
# List items give these article fields as strings (a documented quirk of the list schema).
ARTICLE_LIST_TEXT_FIELDS = (
    "DisposableQuantity",
    "PurchasePrice",
    "ReservedQuantity",
    "SalesPrice",
    "StockValue",
    "VAT",
)

CUSTOMER_SEARCH = {
    "customernumber": "CustomerNumber",
    "name": "Name",
    "email": "Email",
    "organisationnumber": "OrganisationNumber",
    "zipcode": "ZipCode",
    "city": "City",
    "phone": "Phone1",
    "gln": "GLN",
    "glndelivery": "GLNDelivery",
}
ARTICLE_SEARCH = {
    "articlenumber": "ArticleNumber",
    "description": "Description",
    "ean": "EAN",
    "suppliernumber": "SupplierNumber",
    "manufacturer": "Manufacturer",
    "manufacturerarticlenumber": "ManufacturerArticleNumber",
}
INVOICE_SEARCH = {
    "customernumber": "CustomerNumber",
    "customername": "CustomerName",
    "documentnumber": "DocumentNumber",
    "ocr": "OCR",
    "yourreference": "YourReference",
    "ourreference": "OurReference",
    "yourordernumber": "YourOrderNumber",
    "externalinvoicereference1": "ExternalInvoiceReference1",
    "externalinvoicereference2": "ExternalInvoiceReference2",
    "currency": "Currency",
    "costcenter": "CostCenter",
    "project": "Project",
}
CUSTOMER_SORT = {"customernumber": "CustomerNumber", "name": "Name"}
ARTICLE_SORT = {
    "articlenumber": "ArticleNumber",
    "quantityinstock": "QuantityInStock",
    "reservedquantity": "ReservedQuantity",
    "stockvalue": "StockValue",
}
INVOICE_SORT = {
    "customername": "CustomerName",
    "customernumber": "CustomerNumber",
    "documentnumber": "DocumentNumber",
    "invoicedate": "InvoiceDate",
    "ocr": "OCR",
    "total": "Total",
}

SCOPE_OF_RESOURCE = {
    "customers": "customer",
    "articles": "article",
    "invoices": "invoice",
    "companyinformation": "companyinformation",
    "settings": "settings",
    "pricelists": "price",
    "prices": "price",
}

# A small BAS chart: enough for webshop sales, freight, fees and payments.
BAS_ACCOUNTS: dict[int, str] = {
    1510: "Kundfordringar",
    1580: "Fordringar för kontokort och kuponger",
    1930: "Företagskonto/checkkonto/affärskonto",
    2611: "Utgående moms på försäljning inom Sverige, 25 %",
    2621: "Utgående moms på försäljning inom Sverige, 12 %",
    2631: "Utgående moms på försäljning inom Sverige, 6 %",
    2641: "Debiterad ingående moms",
    3001: "Försäljning inom Sverige, 25 % moms",
    3002: "Försäljning inom Sverige, 12 % moms",
    3003: "Försäljning inom Sverige, 6 % moms",
    3004: "Försäljning inom Sverige, momsfri",
    3105: "Försäljning varor till land utanför EU",
    3106: "Försäljning varor till annat EU-land, momspliktig",
    3108: "Försäljning varor till annat EU-land, momsfri",
    3520: "Fakturerade frakter",
    3540: "Faktureringsavgifter",
    3731: "Lämnade kassarabatter",
    3740: "Öres- och kronutjämning",
    6570: "Bankkostnader",
}
SALES_ACCOUNT_BY_VAT = {25: 3001, 12: 3002, 6: 3003, 0: 3004}
CURRENCY_RATES: dict[str, Decimal] = {
    "SEK": Decimal("1"),
    "EUR": Decimal("11.45"),
    "NOK": Decimal("0.98"),
    "DKK": Decimal("1.54"),
    "USD": Decimal("10.52"),
}


# -- small helpers ---------------------------------------------------------------------


def round_ore(value: Decimal) -> Decimal:
    """Round to öre (2 decimals), half up, as Fortnox does."""
    return value.quantize(ORE, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, field_name: str = "") -> Decimal:
    """A JSON number or numeric string as Decimal ("2", "2.5", "2,5"); 400 2000108 otherwise."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC)
    try:
        number = Decimal(str(value).strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise ApiError(
            400, f"Värdet måste vara numeriskt ({value}){' i ' + field_name if field_name else ''}", Code.NOT_NUMERIC
        ) from None
    if not number.is_finite():
        raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC)
    return number


def number(value: Decimal) -> float | int:
    """Decimal → JSON number (integers stay integers)."""
    return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)


def quantity_text(value: Decimal) -> str:
    """DeliveredQuantity as Fortnox returns it: a string with (at least) two decimals."""
    return str(value.quantize(ORE)) if value == value.quantize(ORE) else format(value.normalize(), "f")


def as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def natural_key(value: Any) -> tuple[int, Decimal, str]:
    text = as_text(value)
    try:
        numeric = Decimal(text)
    except InvalidOperation:
        return (1, Decimal(0), text.lower())
    return (0, numeric, "") if numeric.is_finite() else (1, Decimal(0), text.lower())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_day(value: Any, field_name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, f"Ogiltigt datum ({value}) i {field_name}", Code.INVALID_VALUE) from None


@dataclass
class PriceEntry:
    price: Decimal
    percent: Decimal
    changed: datetime  # Swedish local time of the last change (the price's Date)


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str | None  # as sent to /auth; the token request must repeat it
    scope: str
    tenant_id: int
    expires_at: float
    service_account: bool = False
    used: bool = False


@dataclass
class AccessGrant:
    client_id: str
    tenant_id: int
    scopes: frozenset[str]
    expires_at: float


@dataclass
class RefreshGrant:
    client_id: str
    tenant_id: int
    scope: str
    expires_at: float
    spent: bool = False


class FortnoxSimulator(Simulator):
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

    def _init_auth_state(self) -> None:
        self.auth_codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessGrant] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.refresh_token_uses: dict[str, int] = {}  # every presentation of a refresh token, valid or not
        self.issued_tokens: list[dict[str, Any]] = []  # every token response, oldest first
        self.service_consents: set[str] = set()  # client ids with an approved service account

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

    # -- public helpers for tests ---------------------------------------------------------
    def clock(self) -> datetime:
        """Now in Swedish local time (naive), as Fortnox stamps changes. Tests may replace it."""
        return datetime.now(STOCKHOLM).replace(tzinfo=None, microsecond=0)

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

    def add_client(self, client_id: str, client_secret: str, *, redirect_uri: str | None = None) -> None:
        """Register an OAuth client (an app in the developer portal)."""
        with self.lock:
            self.clients[client_id] = client_secret
            if redirect_uri:
                self.client_redirect_uris[client_id] = redirect_uri

    def issue_tokens(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        *,
        tenant_id: int | None = None,
        scope: str = DEFAULT_SCOPE,
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Issue a token pair directly (seeding a connector without the consent flow)."""
        with self.lock:
            return self._issue(
                client_id,
                self.tenant_id if tenant_id is None else tenant_id,
                scope,
                grant_type="seed",
                with_refresh=refresh,
            )

    def expire_access_tokens(self, token: str | None = None) -> None:
        """Make one (or every) access token expired: the next call with it gets 401."""
        with self.lock:
            for key, grant in self.access_tokens.items():
                if token is None or key == token:
                    grant.expires_at = 0.0

    def expire_refresh_tokens(self, token: str | None = None) -> None:
        """Make one (or every) refresh token older than 45 days."""
        with self.lock:
            for key, grant in self.refresh_tokens.items():
                if token is None or key == token:
                    grant.expires_at = 0.0

    def add_customer(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a customer as POST /3/customers would; returns the stored record."""
        with self.lock:
            return self._create_customer({"Name": name, **fields})

    def add_article(
        self,
        article_number: str,
        description: str,
        *,
        sales_price: Any = 0,
        vat: int = 25,
        quantity_in_stock: Any = 0,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an article as POST /3/articles would; returns the stored record."""
        with self.lock:
            return self._create_article(
                {
                    "ArticleNumber": article_number,
                    "Description": description,
                    "SalesPrice": sales_price,
                    "VAT": vat,
                    "QuantityInStock": quantity_in_stock,
                    **fields,
                }
            )

    def seed_articles(self, articles: Iterable[dict[str, Any]]) -> None:
        """Create (or update) articles given with Fortnox field names."""
        with self.lock:
            for article in articles:
                number_ = str(article.get("ArticleNumber", ""))
                if self._find_article(number_) is not None:
                    self._update_article(self._article_for_write(number_), article)
                else:
                    self._create_article(dict(article))

    def set_stock(
        self, article_number: str, in_stock: Any, *, reserved: Any = 0, stock_point: str = DEFAULT_STOCK_POINT
    ) -> dict[str, Any]:
        """Set one article's balance at one stock point (created if unknown); returns the article.

        The article's QuantityInStock/ReservedQuantity/DisposableQuantity become the sums over
        its stock points, and the change counts as a change of the article (lastmodified).
        """
        with self.lock:
            article = self._article_for_write(str(article_number))
            if stock_point not in self.stock_points:
                self._add_stock_point(stock_point, stock_point)
            rows = self.stock.setdefault(article["ArticleNumber"], {})
            rows[stock_point] = (to_decimal(in_stock, "InStock"), to_decimal(reserved, "Reserved"))
            self._sync_stock(article)
            self._touch("articles", article["ArticleNumber"])
            return article

    def set_price(self, price_list: str, article_number: str, price: Any, from_quantity: Any = 0) -> dict[str, Any]:
        """Create or change a price; list A at FromQuantity 0 is also the article's SalesPrice."""
        with self.lock:
            code = self._price_list_or_404(price_list)["Code"]
            number_ = self._article_number_or_404(str(article_number))
            entry = self._write_price(
                code, number_, to_decimal(from_quantity, "FromQuantity"), price=to_decimal(price, "Price")
            )
            return self._price_body(code, number_, to_decimal(from_quantity), entry)

    def deactivate_article(self, article_number: str) -> dict[str, Any]:
        """Active false, as a PUT would set it."""
        with self.lock:
            article = self._article_for_write(str(article_number))
            self._update_article(article, {"Active": False})
            return article

    def add_stock_point(self, code: str, name: str = "", *, active: bool = True) -> dict[str, Any]:
        with self.lock:
            return self._add_stock_point(code, name or code, active=active)

    def seed_generated(
        self, count: int, *, prefix: str = "G", start: int = 1, stock_point: str = DEFAULT_STOCK_POINT, seed: int = 1
    ) -> dict[str, Any]:
        """Add `count` generated articles prefix + zero-padded number (start, start + 1, ...).

        Nothing is stored: article i is computed from i and `seed` when read. They all share
        one modification time (now); an article changed later (PUT, set_stock, a price of
        list A, deactivate_article) is materialised into `articles` and its changes are
        tracked as for any other article. Catalogues may not overlap in article-number order;
        an already stored article with a number in the range wins over the generated one.
        """
        with self.lock:
            segment = Segment(
                prefix=prefix, start=start, count=int(count), seed=seed, stock_point=stock_point, modified=self.clock()
            )
            first, last = segment.number(0), segment.number(segment.count - 1)
            # Keys are computed without parsing; make sure they agree with the list order.
            if segment.key(0) != natural_key(first) or segment.key(segment.count - 1) != natural_key(last):
                raise ValueError(f"prefix {prefix!r} does not give ordered article numbers")
            for other in self.segments:
                if not (segment.key(segment.count - 1) < other.key(0) or other.key(other.count - 1) < segment.key(0)):
                    raise ValueError(
                        f"{first}..{last} overlaps the generated {other.number(0)}..{other.number(other.count - 1)}"
                    )
            for number_ in self.articles:
                index = segment.index_of(number_)
                if index is not None:
                    segment.exclude(index)
            if stock_point not in self.stock_points:
                self._add_stock_point(stock_point, stock_point)
            self.segments.append(segment)
            return {
                "prefix": prefix,
                "first": first,
                "last": last,
                "count": segment.count,
                "modified": segment.modified.isoformat(sep=" "),
            }

    def seed_generated_customers(self, count: int, *, companies_share: float = 0.3, seed: int = 1) -> list[str]:
        """Create `count` customers (private and COMPANY, some inactive), numbered after the
        highest numeric customer number; returns their numbers."""
        with self.lock:
            taken = [int(n) for n in set(self.customers) | self.reserved_customer_numbers if n.isdigit()]
            first = max(taken, default=0) + 1
            numbers = []
            for serial in range(first, first + int(count)):
                fields = generated_customer(serial, seed, companies_share)
                numbers.append(self._create_customer({"CustomerNumber": str(serial), **fields})["CustomerNumber"])
            return numbers

    def pay_invoice(self, document_number: str, amount: Any = None, *, pay_date: date | None = None) -> dict[str, Any]:
        """Register a booked payment (the whole balance by default); sets FinalPayDate at zero balance."""
        with self.lock:
            invoice = self._invoice(str(document_number))
            paid = to_decimal(invoice["Balance"] if amount is None else amount)
            balance = to_decimal(invoice["Balance"]) - paid
            invoice["Balance"] = number(balance)
            if balance == 0:
                invoice["FinalPayDate"] = (pay_date or self.clock().date()).isoformat()
            self._touch("invoices", invoice["DocumentNumber"])
            return invoice

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

    # -- base class hooks ------------------------------------------------------------------
    def error_response(self, status: int, message: str, code: int | None = None) -> Response:
        """Fortnox's ErrorInformation body; lowercase keys as the docs show, capitalised on request."""
        if code is None:
            code = {
                401: Code.INVALID_LOGIN,
                403: Code.NO_SCOPE_ACCESS,
                404: Code.NOT_FOUND,
                405: Code.NOT_FOUND,
                429: Code.RATE_LIMITED,
            }.get(status, Code.SYSTEM_EXCEPTION if status >= 500 else Code.INVALID_PARAMETER)
        keys = ("Error", "Message", "Code") if self.capitalised_errors else ("error", "message", "code")
        return Response(status=status, body={"ErrorInformation": dict(zip(keys, (1, message, code)))})

    @staticmethod
    def warehouse_error_response(status: int, error: str, message: str) -> Response:
        """The warehouse module's WebException body: {"error", "id", "message"}.

        The spec gives only the three string fields; `error` is read as a short code (the
        stock point docs name "alreadyexists") and `id` as an identifier of the failure.
        """
        return Response(status=status, body={"error": error, "id": str(uuid.uuid4()), "message": message})

    def before_request(self, request: Request) -> Response | None:
        """Bearer auth and the per-token rate limit on /3/ and /api/; lowercase query names and
        scopes on /3/ only (warehouse parameters are camelCase; its scope is undocumented)."""
        warehouse = request.path.startswith("/api/")
        if not (request.path == "/3" or request.path.startswith("/3/") or warehouse):
            return None

        def fail(status: int, message: str, code: int, error: str) -> Response:
            if warehouse:
                return self.warehouse_error_response(status, error, message)
            return self.error_response(status, message, code)

        header = request.header("authorization")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return fail(
                401,
                "Kan inte logga in, access-token eller client-secret saknas (2).",
                Code.LOGIN_MISSING,
                "unauthorized",
            )
        token = header[7:].strip()
        with self.lock:
            grant = self.access_tokens.get(token)
        if grant is None or grant.expires_at <= time.time():
            return fail(401, "Ogiltig inloggning", Code.INVALID_LOGIN, "unauthorized")
        wait = self.limiter.hit(token)
        if wait is not None:
            response = fail(429, "Too Many Requests", Code.RATE_LIMITED, "toomanyrequests")
            if self.retry_after_header:
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        if warehouse:
            return None
        # Query parameter names must be lower case; how the real API answers otherwise is
        # undocumented: the simulator refuses them so a client cannot get it wrong silently.
        upper = sorted(k for k in request.query if k != k.lower())
        if upper:
            return self.error_response(400, f"Ogiltig parameter i anropet. ({upper[0]})", Code.INVALID_PARAMETER)
        parts = request.path.split("/")
        scope = SCOPE_OF_RESOURCE.get(parts[2].lower()) if len(parts) > 2 else None
        if self.enforce_scopes and scope and scope not in grant.scopes:
            return self.error_response(403, "Har inte behörighet för scope", Code.NO_SCOPE_ACCESS)
        return None

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

    def _held(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Delay successful answers by `hold_after_create` seconds, outside the state lock."""

        def wrapped(request: Request) -> Response:
            response = handler(request)
            if response.status < 300 and self.hold_after_create:
                time.sleep(self.hold_after_create)
            return response

        return wrapped

    def _committed_late(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Hold an invoice POST `commit_late` seconds before it is handled (committed), outside the lock."""

        def wrapped(request: Request) -> Response:
            with self.lock:
                delay = self.commit_late
                if delay and self.commit_late_posts > 0:
                    self.commit_late_posts -= 1
                    if self.commit_late_posts == 0:
                        self.commit_late = 0.0
                if delay:
                    self.late_commits += 1
            if delay:
                time.sleep(delay)
            return handler(request)

        return wrapped

    def _token_held(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Delay successful token answers by `hold_token_answer` seconds, after the grant was made."""

        def wrapped(request: Request) -> Response:
            response = handler(request)
            if response.status >= 300:
                return response
            with self.lock:
                delay = self.hold_token_answer
                if delay and self.hold_token_answers > 0:
                    self.hold_token_answers -= 1
                    if self.hold_token_answers == 0:
                        self.hold_token_answer = 0.0
            if delay:
                time.sleep(delay)
            return response

        return wrapped

    def _api(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Run a handler under the state lock and turn ApiError into an ErrorInformation answer."""

        def wrapped(request: Request) -> Response:
            request.params = {key: unquote(value) for key, value in request.params.items()}
            try:
                with self.lock:
                    return handler(request)
            except ApiError as exc:
                return self.error_response(exc.status, exc.message, exc.code)

        return wrapped

    def _warehouse_api(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Like `_api`, with the warehouse module's error body (also for the ApiErrors of shared helpers)."""

        def wrapped(request: Request) -> Response:
            request.params = {key: unquote(value) for key, value in request.params.items()}
            try:
                with self.lock:
                    return handler(request)
            except WarehouseError as exc:
                return self.warehouse_error_response(exc.status, exc.error, exc.message)
            except ApiError as exc:
                return self.warehouse_error_response(
                    exc.status, "badrequest" if exc.status == 400 else "error", exc.message
                )

        return wrapped

    # -- OAuth ---------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> Response:
        """The consent page: approves at once and redirects back with a code (10 minutes, single use)."""
        query = request.query
        client_id = query.get("client_id", "")
        if client_id not in self.clients:
            return self._page(400, "Okänd klient", f"client_id {client_id!r} är inte registrerad.")
        missing = [p for p in ("response_type", "scope", "state") if not query.get(p)]
        if missing:
            return self._page(400, "Ogiltig begäran", f"Parametrar saknas: {', '.join(missing)}.")
        if query["response_type"] != "code":
            return self._page(400, "Ogiltig begäran", "response_type måste vara code.")
        redirect_uri = query.get("redirect_uri") or self.client_redirect_uris.get(client_id)
        registered = self.client_redirect_uris.get(client_id)
        if not redirect_uri or (registered and redirect_uri != registered):
            return self._page(400, "Ogiltig begäran", "redirect_uri saknas eller matchar inte appens inställning.")
        code = secrets.token_urlsafe(24)
        self.auth_codes[code] = AuthCode(
            client_id=client_id,
            redirect_uri=query.get("redirect_uri"),
            scope=query["scope"],
            tenant_id=self.tenant_id,
            expires_at=time.time() + AUTH_CODE_SECONDS,
            service_account=query.get("account_type") == "service",
        )
        parts = urlsplit(redirect_uri)
        params = parse_qsl(parts.query, keep_blank_values=True) + [("code", code), ("state", query["state"])]
        location = urlunsplit(parts._replace(query=urlencode(params)))
        return Response(status=302, body=b"", headers={"Location": location}, content_type="text/html")

    def _token(self, request: Request) -> Response:
        """The token endpoint (Basic client auth; form body)."""
        client_id = self._client_from_basic(request.header("authorization"))
        if client_id is None:
            return self._oauth_error(401, "invalid_client", "Client authentication failed.")
        form = request.form()
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            code = self.auth_codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at <= time.time() or code.client_id != client_id:
                return self._oauth_error(400, "invalid_grant", "The authorization code is invalid, expired or used.")
            if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
                return self._oauth_error(
                    400, "invalid_grant", "The redirect_uri does not match the authorization request."
                )
            code.used = True
            if code.service_account:
                self.service_consents.add(client_id)
            return Response(body=self._issue(client_id, code.tenant_id, code.scope, grant_type=grant_type))
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            self.refresh_token_uses[token] = self.refresh_token_uses.get(token, 0) + 1
            grant = self.refresh_tokens.get(token)
            if grant is None or grant.spent or grant.expires_at <= time.time() or grant.client_id != client_id:
                return self._oauth_error(400, "invalid_grant", "Invalid refresh token.")
            grant.spent = True  # single use: every refresh rotates the refresh token
            return Response(body=self._issue(client_id, grant.tenant_id, grant.scope, grant_type=grant_type))
        if grant_type == "client_credentials":
            tenant = request.header("tenantid").strip()
            if not tenant:
                return self._oauth_error(400, "invalid_request", "The TenantId header is required.")
            # One company per simulator: only its own tenant has given consent.
            if tenant != str(self.tenant_id):
                return self._oauth_error(400, "invalid_grant", f"No consent for tenant {tenant}.")
            if self.require_service_consent and client_id not in self.service_consents:
                return self._oauth_error(400, "invalid_grant", "No service account consent for this client.")
            scope = form.get("scope") or DEFAULT_SCOPE
            return Response(
                body=self._issue(client_id, self.tenant_id, scope, grant_type=grant_type, with_refresh=False)
            )
        return self._oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")

    def _client_from_basic(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return client_id if self.clients.get(client_id) == secret and secret else None

    def _issue(
        self, client_id: str, tenant_id: int, scope: str, *, grant_type: str, with_refresh: bool = True
    ) -> dict[str, Any]:
        now = time.time()
        access = self._jwt(
            {
                "iss": "fortnox-simulator",
                "sub": client_id,
                "clientId": client_id,
                "tenantId": tenant_id,
                "scope": scope.split(),
                "iat": int(now),
                "exp": int(now) + ACCESS_TOKEN_SECONDS,
                "jti": secrets.token_hex(8),
            }
        )
        self.access_tokens[access] = AccessGrant(
            client_id, tenant_id, frozenset(scope.split()), now + ACCESS_TOKEN_SECONDS
        )
        body: dict[str, Any] = {"access_token": access}
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = RefreshGrant(client_id, tenant_id, scope, now + REFRESH_TOKEN_SECONDS)
            body["refresh_token"] = refresh
        body.update({"scope": scope, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "bearer"})
        self.issued_tokens.append(
            {"grant_type": grant_type, "client_id": client_id, "tenant_id": tenant_id, "issued_at": now, **body}
        )
        return body

    @staticmethod
    def _jwt(claims: dict[str, Any]) -> str:
        """A JWT-shaped token; the signature is random (Fortnox publishes no key to verify with)."""
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{b64url(secrets.token_bytes(32))}"

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> Response:
        return Response(status=status, body={"error": error, "error_description": description})

    @staticmethod
    def _page(status: int, title: str, text: str) -> Response:
        html = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p>"
        return Response(status=status, body=html, content_type="text/html; charset=utf-8")

    # -- request bodies and lists ---------------------------------------------------------------
    @staticmethod
    def _payload(request: Request, wrapper: str, writable: frozenset[str], read_only: frozenset[str]) -> dict[str, Any]:
        """The object inside `{"<Wrapper>": {...}}`, with read-only fields dropped."""
        if not request.body.strip():
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Error deserializing JSON: JSON_ERROR_SYNTAX", Code.JSON_SYNTAX) from None
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        unknown = [key for key in body if key != wrapper]
        if unknown:
            raise ApiError(400, f"Felaktigt fältnamn ({unknown[0]})", Code.INVALID_FIELD)
        data = body[wrapper]
        if not isinstance(data, dict):
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        return FortnoxSimulator._fields(data, writable, read_only)

    @staticmethod
    def _fields(data: dict[str, Any], writable: frozenset[str], read_only: frozenset[str]) -> dict[str, Any]:
        """Check field names; read-only fields clients echo back are ignored, unknown ones refused."""
        for key, value in data.items():
            if key not in writable and key not in read_only:
                raise ApiError(400, f"Felaktigt fältnamn ({key})", Code.INVALID_FIELD)
            if key in BOOLEAN_FIELDS and key in writable and not isinstance(value, bool):
                if str(value).lower() not in ("true", "false"):
                    raise ApiError(400, f"Värdet måste vara en boolean ({value})", Code.NOT_BOOLEAN)
                data[key] = str(value).lower() == "true"
        return {k: v for k, v in data.items() if k in writable}

    def _list(
        self,
        request: Request,
        resource: str,
        records: list[dict[str, Any]],
        *,
        search: dict[str, str],
        sort: dict[str, str],
        key_field: str,
    ) -> tuple[list[dict[str, Any]], dict]:
        """Search (case-insensitive substrings), lastmodified, sort and page a list."""
        query = request.query
        # Several search parameters are combined (AND); the real API is documented to honour
        # one resource-specific filter at a time, and clients post-filter anyway.
        for param, field_name in search.items():
            if param in query:
                needle = query[param].lower()
                records = [r for r in records if needle in as_text(r.get(field_name)).lower()]
        if query.get("lastmodified"):
            since = self._parse_lastmodified(query["lastmodified"])
            records = [r for r in records if self.modified_at.get((resource, r[key_field]), datetime.min) > since]
        sort_by = query.get("sortby", "")
        if sort_by and sort_by not in sort:
            raise ApiError(400, f"Ogiltig parameter i anropet. (sortby={sort_by})", Code.INVALID_PARAMETER)
        sort_field = sort.get(sort_by, key_field)
        descending = query.get("sortorder", "ascending") == "descending"
        records = sorted(records, key=lambda r: natural_key(r.get(sort_field)), reverse=descending)
        page = self._int_param(query, "page", 1, minimum=1)
        limit = min(self._int_param(query, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        offset = self._int_param(query, "offset", 0, minimum=0)
        # Whether offset combines with page is undocumented: here it skips records before paging.
        start = offset + (page - 1) * limit
        meta = {
            "@TotalResources": len(records),
            "@TotalPages": math.ceil(max(len(records) - offset, 0) / limit),
            "@CurrentPage": page,
        }
        return records[start : start + limit], meta

    @staticmethod
    def _int_param(query: dict[str, str], name: str, default: int, *, minimum: int) -> int:
        if name not in query or query[name] == "":
            return default
        try:
            value = int(query[name])
        except ValueError:
            raise ApiError(400, f"Ogiltig parameter i anropet. ({name})", Code.INVALID_PARAMETER) from None
        if value < minimum:
            raise ApiError(400, f"Ogiltig parameter i anropet. ({name})", Code.INVALID_PARAMETER)
        return value

    @staticmethod
    def _parse_lastmodified(value: str) -> datetime:
        """`YYYY-MM-DD HH:MM[:SS]` or a bare date, Swedish local time."""
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
        raise ApiError(400, "Ogiltig parameter i anropet. (lastmodified)", Code.INVALID_PARAMETER)

    def _touch(self, resource: str, key: str) -> None:
        self.modified_at[(resource, key)] = self.clock()

    def _url(self, path: str) -> str:
        return f"{self.url}{path}"

    def _customer_body(self, customer: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/customers/{customer['CustomerNumber']}"), **customer}

    def _article_body(self, article: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/articles/{article['ArticleNumber']}"), **article}

    # -- company ---------------------------------------------------------------------------------
    def _company_information(self, request: Request) -> Response:
        return Response(
            body={
                "CompanyInformation": {
                    "Address": "Storgatan 1",
                    "City": "Stockholm",
                    "CompanyName": self.company_name,
                    "CountryCode": "SE",
                    "DatabaseNumber": self.tenant_id,
                    "OrganizationNumber": self.organisation_number,
                    "VisitAddress": "Storgatan 1",
                    "VisitCity": "Stockholm",
                    "VisitCountryCode": "SE",
                    "VisitZipCode": "111 22",
                    "ZipCode": "111 22",
                }
            }
        )

    def _company_settings(self, request: Request) -> Response:
        return Response(
            body={
                "CompanySettings": {
                    "Address": "Storgatan 1",
                    "BG": "123-4567",
                    "BIC": "ESSESESS",
                    "BranchCode": "",
                    "City": "Stockholm",
                    "ContactFirstName": "Anna",
                    "ContactLastName": "Berg",
                    "Country": "Sverige",
                    "CountryCode": "SE",
                    "DatabaseNumber": str(self.tenant_id),
                    "Domicile": "Stockholm",
                    "Email": "ekonomi@example.se",
                    "Fax": "",
                    "IBAN": "SE4550000000058398257466",
                    "Name": self.company_name,
                    "OrganizationNumber": self.organisation_number,
                    "PG": "",
                    "Phone1": "08-123 456 00",
                    "Phone2": "",
                    "TaxEnabled": True,
                    "VATNumber": "SE" + self.organisation_number.replace("-", "") + "01",
                    "VisitAddress": "Storgatan 1",
                    "VisitCity": "Stockholm",
                    "VisitCountry": "Sverige",
                    "VisitCountryCode": "SE",
                    "VisitName": self.company_name,
                    "VisitZipCode": "111 22",
                    "WWW": "https://www.example.se",
                    "ZipCode": "111 22",
                }
            }
        )

    # -- customers --------------------------------------------------------------------------------
    def _customer(self, number_: str) -> dict[str, Any]:
        customer = self.customers.get(number_)
        if customer is None:
            raise ApiError(404, "Kan inte hitta kunden.", Code.CUSTOMER_NOT_FOUND_404)
        return customer

    def _list_customers(self, request: Request) -> Response:
        records = list(self.customers.values())
        state = request.query.get("filter", "")
        if state:
            if state not in ("active", "inactive"):
                raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
            records = [c for c in records if c["Active"] == (state == "active")]
        page, meta = self._list(
            request, "customers", records, search=CUSTOMER_SEARCH, sort=CUSTOMER_SORT, key_field="CustomerNumber"
        )
        return Response(body={"Customers": [self._customer_body(c) for c in page], "MetaInformation": meta})

    def _post_customer(self, request: Request) -> Response:
        data = self._payload(request, "Customer", CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        return Response(status=201, body={"Customer": self._customer_body(self._create_customer(data))})

    def _get_customer(self, request: Request) -> Response:
        return Response(body={"Customer": self._customer_body(self._customer(request.params["number"]))})

    def _put_customer(self, request: Request) -> Response:
        customer = self._customer(request.params["number"])
        data = self._payload(request, "Customer", CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        if "CustomerNumber" in data and str(data.pop("CustomerNumber")) != customer["CustomerNumber"]:
            raise ApiError(400, "Kundnumret kan inte ändras.", Code.INVALID_VALUE)
        if "Name" in data and not str(data["Name"] or "").strip():
            raise ApiError(400, "Kundnamn måste anges.", Code.NAME_REQUIRED)
        self._check_currency(data.get("Currency"))
        customer.update(data)
        self._touch("customers", customer["CustomerNumber"])
        return Response(body={"Customer": self._customer_body(customer)})

    def _delete_customer(self, request: Request) -> Response:
        customer = self._customer(request.params["number"])
        del self.customers[customer["CustomerNumber"]]
        self.reserved_customer_numbers.add(customer["CustomerNumber"])
        return Response(status=204)

    def _create_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._fields(dict(data), CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        if not str(data.get("Name") or "").strip():
            raise ApiError(400, "Kundnamn måste anges.", Code.NAME_REQUIRED)
        number_ = str(data.get("CustomerNumber") or "").strip()
        if number_:
            if number_ in self.customers or number_ in self.reserved_customer_numbers:
                raise ApiError(
                    400,
                    f"Kundnummer {number_} används redan. Kundnumret har redan använts men blivit raderat.",
                    Code.CUSTOMER_NUMBER_USED,
                )
        else:
            number_ = self._next_number(set(self.customers) | self.reserved_customer_numbers)
        self._check_currency(data.get("Currency"))
        customer: dict[str, Any] = {
            "Active": True,
            "Address1": "",
            "Address2": "",
            "City": "",
            "Comments": "",
            "CostCenter": "",
            "Country": "Sverige",
            "CountryCode": "SE",
            "Currency": "SEK",
            "CustomerNumber": number_,
            "DeliveryAddress1": "",
            "DeliveryAddress2": "",
            "DeliveryCity": "",
            "DeliveryCountry": "",
            "DeliveryCountryCode": "",
            "DeliveryName": "",
            "DeliveryZipCode": "",
            "Email": "",
            "EmailInvoice": "",
            "ExternalReference": "",
            "Name": "",
            "OrganisationNumber": "",
            "OurReference": "",
            "Phone1": "",
            "Phone2": "",
            "PriceList": "A",
            "Project": "",
            "SalesAccount": None,
            "ShowPriceVATIncluded": False,
            "TermsOfDelivery": "",
            "TermsOfPayment": "30",
            "Type": "PRIVATE",
            "VATNumber": "",
            "VATType": "SEVAT",
            "WayOfDelivery": "",
            "YourReference": "",
            "ZipCode": "",
        }
        customer.update(data)
        customer["CustomerNumber"] = number_
        self.customers[number_] = customer
        self._touch("customers", number_)
        return customer

    @staticmethod
    def _next_number(taken: Iterable[str]) -> str:
        numeric = [int(n) for n in taken if n.isdigit()]
        return str(max(numeric, default=0) + 1)

    def _check_currency(self, code: Any) -> None:
        if code is not None and str(code).upper() not in self.currencies:
            raise ApiError(400, f"Kunde inte hämta/hitta valuta ({code})", Code.CURRENCY_NOT_FOUND)

    def _check_vat(self, value: Any) -> int:
        rate = to_decimal(value, "VAT")
        if rate != rate.to_integral_value() or int(rate) not in self.vat_rates:
            raise ApiError(400, f"Kunde inte hämta/hitta moms ({value})", Code.VAT_NOT_FOUND)
        return int(rate)

    def _check_account(self, value: Any) -> int | None:
        if value in (None, "", 0):
            return None
        try:
            account = int(str(value))
        except ValueError:
            raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC) from None
        if account not in self.accounts:
            raise ApiError(400, f"Kunde inte hitta konto ({account})", Code.ACCOUNT_NOT_FOUND)
        return account

    # -- articles -------------------------------------------------------------------------------------
    def _generated_ref(self, number_: str) -> tuple[Segment, int] | None:
        """The (segment, index) of a generated article that is not materialised."""
        for segment in self.segments:
            index = segment.index_of(number_)
            if index is not None:
                return None if index in segment.excluded_set else (segment, index)
        return None

    def _find_article(self, number_: str) -> dict[str, Any] | None:
        """A stored article, or a generated one computed for reading (not stored)."""
        article = self.articles.get(number_)
        if article is not None:
            return article
        ref = self._generated_ref(number_)
        return ref[0].article(ref[1]) if ref else None

    def _article_number_or_404(self, number_: str) -> str:
        if number_ not in self.articles and self._generated_ref(number_) is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return number_

    def _article_for_write(self, number_: str) -> dict[str, Any]:
        """The stored article, materialising a generated one first; 404 if there is none."""
        article = self.articles.get(number_)
        if article is not None:
            return article
        ref = self._generated_ref(number_)
        if ref is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return self._materialise(*ref)

    def _materialise(self, segment: Segment, index: int) -> dict[str, Any]:
        """Store generated article `index` as it reads now (its time stays the seeding moment)."""
        article = segment.article(index)
        number_ = article["ArticleNumber"]
        in_stock, reserved = segment.stock(index)
        self.articles[number_] = article
        self.stock[number_] = {segment.stock_point: (Decimal(in_stock), Decimal(reserved))}
        self.prices[DEFAULT_PRICE_LIST][number_] = {
            Decimal(0): PriceEntry(to_decimal(article["SalesPrice"]), Decimal(0), segment.modified)
        }
        self.modified_at[("articles", number_)] = segment.modified
        segment.exclude(index)
        return article

    def _article_list_item(self, article: dict[str, Any]) -> dict[str, Any]:
        item = self._article_body(article)
        for name in ARTICLE_LIST_TEXT_FIELDS:
            item[name] = as_text(item.get(name))
        return item

    def _paging(self, query: dict[str, str], total: int) -> tuple[int, int, dict[str, int]]:
        """(first position, limit, MetaInformation) as `_list` pages."""
        page = self._int_param(query, "page", 1, minimum=1)
        limit = min(self._int_param(query, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        offset = self._int_param(query, "offset", 0, minimum=0)
        meta = {
            "@TotalResources": total,
            "@TotalPages": math.ceil(max(total - offset, 0) / limit),
            "@CurrentPage": page,
        }
        return offset + (page - 1) * limit, limit, meta

    def _list_articles(self, request: Request) -> Response:
        """`_list` over stored and generated articles.

        Sorted by article number (the default) a page costs O(limit + stored articles): the
        generated part is never enumerated. Search parameters scan the generated articles
        and another sortby sorts them all: correct, but O(generated).
        """
        query = request.query
        state = query.get("filter", "")
        if state and state not in ("active", "inactive"):
            raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
        webshop = query["webshop"].lower() == "true" if query.get("webshop") else None
        since = self._parse_lastmodified(query["lastmodified"]) if query.get("lastmodified") else None
        searches = [
            (field_name, query[param].lower()) for param, field_name in ARTICLE_SEARCH.items() if param in query
        ]
        sort_by = query.get("sortby", "")
        if sort_by and sort_by not in ARTICLE_SORT:
            raise ApiError(400, f"Ogiltig parameter i anropet. (sortby={sort_by})", Code.INVALID_PARAMETER)
        sort_field = ARTICLE_SORT.get(sort_by, "ArticleNumber")
        descending = query.get("sortorder", "ascending") == "descending"

        def matches(article: dict[str, Any]) -> bool:
            return all(needle in as_text(article.get(name)).lower() for name, needle in searches)

        stored = [
            a
            for a in self.articles.values()
            if (not state or a["Active"] == (state == "active"))
            and (webshop is None or a["WebshopArticle"] == webshop)
            and (since is None or self.modified_at.get(("articles", a["ArticleNumber"]), datetime.min) > since)
            and matches(a)
        ]
        # Generated articles are active webshop articles changed at their segment's seeding moment.
        segments = [
            s
            for s in self.segments
            if state in ("", "active") and webshop in (None, True) and (since is None or s.modified > since)
        ]

        def make(segment: Segment, index: int) -> dict[str, Any]:
            return segment.article(index)

        if sort_field == "ArticleNumber":
            if searches:
                refs = []
                for segment in sorted(segments, key=lambda s: s.key(0)):
                    for index in segment.remaining_from(0):
                        if all(needle in segment.text(index, name).lower() for name, needle in searches):
                            refs.append((segment, index))
                run: SegmentsRun | RefListRun = RefListRun(refs)
            else:
                run = SegmentsRun(segments)
            ordered = sorted(((natural_key(a["ArticleNumber"]), a) for a in stored), key=lambda pair: pair[0])
            total = len(ordered) + run.count
            start, limit, meta = self._paging(query, total)
            low, high = window_positions(total, start, limit, descending)
            page = merge_window(ordered, run, low, high, make)
            if descending:
                page.reverse()
        else:
            everything: list[tuple[Any, Any]] = [(natural_key(a.get(sort_field)), a) for a in stored]
            for segment in sorted(segments, key=lambda s: s.key(0)):
                for index in segment.remaining_from(0):
                    article = segment.article(index)
                    if matches(article):
                        everything.append((natural_key(article.get(sort_field)), article))
            everything.sort(key=lambda pair: pair[0], reverse=descending)
            start, limit, meta = self._paging(query, len(everything))
            page = [article for _, article in everything[start : start + limit]]
        return Response(body={"Articles": [self._article_list_item(a) for a in page], "MetaInformation": meta})

    def _post_article(self, request: Request) -> Response:
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        return Response(status=201, body={"Article": self._article_body(self._create_article(data))})

    def _get_article(self, request: Request) -> Response:
        article = self._find_article(request.params["number"])
        if article is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return Response(body={"Article": self._article_body(article)})

    def _put_article(self, request: Request) -> Response:
        self._article_number_or_404(request.params["number"])
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        article = self._article_for_write(request.params["number"])
        self._update_article(article, data)
        return Response(body={"Article": self._article_body(article)})

    def _create_article(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        number_ = str(data.get("ArticleNumber") or "").strip()
        if number_ and self._find_article(number_) is not None:
            raise ApiError(400, f"Artikelnummer {number_} används redan.", Code.NUMBER_USED)
        if not str(data.get("Description") or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        number_ = number_ or self._next_number([*self.articles, *(s.number(s.count - 1) for s in self.segments)])
        article: dict[str, Any] = {
            "Active": True,
            "ArticleNumber": number_,
            "Bulky": False,
            "DefaultStockPoint": "",
            "Depth": 0,
            "Description": "",
            "DisposableQuantity": 0,
            "EAN": "",
            "Expired": False,
            "Height": 0,
            "Housework": False,
            "Manufacturer": "",
            "ManufacturerArticleNumber": "",
            "Note": "",
            "PurchasePrice": 0,
            "QuantityInStock": 0,
            "ReservedQuantity": 0,
            "SalesAccount": None,
            "SalesPrice": 0,
            "StockGoods": False,
            "StockPlace": "",
            "StockValue": 0,
            "StockWarning": 0,
            "SupplierName": "",
            "SupplierNumber": "",
            "Type": "STOCK",
            "Unit": "st",
            "VAT": 25,
            "WebshopArticle": False,
            "Weight": 0,
            "Width": 0,
        }
        self._update_article(article, {k: v for k, v in data.items() if k != "ArticleNumber"})
        self.articles[number_] = article
        # Every article has a price in the default price list: its SalesPrice.
        if Decimal(0) not in self.prices[DEFAULT_PRICE_LIST].get(number_, {}):
            self._write_price(
                DEFAULT_PRICE_LIST, number_, Decimal(0), price=to_decimal(article["SalesPrice"]), article=article
            )
        return article

    def _update_article(self, article: dict[str, Any], data: dict[str, Any]) -> None:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        number_ = article["ArticleNumber"]
        if "ArticleNumber" in data and str(data.pop("ArticleNumber")) != number_:
            raise ApiError(400, "Artikelnumret kan inte ändras.", Code.INVALID_VALUE)
        if "Description" in data and not str(data["Description"] or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        if "VAT" in data:
            data["VAT"] = self._check_vat(data["VAT"])
        for name in ("SalesAccount", "PurchaseAccount", "EUAccount", "EUVATAccount", "ExportAccount"):
            if name in data:
                data[name] = self._check_account(data[name])
        for name in (
            "SalesPrice",
            "PurchasePrice",
            "QuantityInStock",
            "ReservedQuantity",
            "StockValue",
            "StockWarning",
        ):
            if name in data:
                data[name] = number(to_decimal(data[name], name))
        if "Type" in data and data["Type"] not in ("STOCK", "SERVICE"):
            raise ApiError(400, f"Ogiltig artikeltyp ({data['Type']})", Code.INVALID_VALUE)
        if data.get("DefaultStockPoint") and data["DefaultStockPoint"] not in self.stock_points:
            raise ApiError(400, f"Kunde inte hitta lagerställe ({data['DefaultStockPoint']})", Code.INVALID_VALUE)
        price_changed = "SalesPrice" in data and (
            data["SalesPrice"] != article.get("SalesPrice")
            or Decimal(0) not in self.prices[DEFAULT_PRICE_LIST].get(number_, {})
        )
        article.update(data)
        if "QuantityInStock" in data or "ReservedQuantity" in data:
            # A write of the article's quantities lands on its default stock point; the
            # other stock points keep their balances.
            point = article.get("DefaultStockPoint") or DEFAULT_STOCK_POINT
            rows = self.stock.setdefault(number_, {})
            in_stock, reserved = rows.get(point, (Decimal(0), Decimal(0)))
            others = [balance for code, balance in rows.items() if code != point]
            if "QuantityInStock" in data:
                in_stock = to_decimal(data["QuantityInStock"]) - sum((b[0] for b in others), Decimal(0))
            if "ReservedQuantity" in data:
                reserved = to_decimal(data["ReservedQuantity"]) - sum((b[1] for b in others), Decimal(0))
            rows[point] = (in_stock, reserved)
        if self.stock.get(number_):
            self._sync_stock(article)
        else:
            article["DisposableQuantity"] = number(
                to_decimal(article["QuantityInStock"]) - to_decimal(article["ReservedQuantity"])
            )
        if price_changed:
            self._write_price(
                DEFAULT_PRICE_LIST, number_, Decimal(0), price=to_decimal(article["SalesPrice"]), article=article
            )
        self._touch("articles", number_)

    def _sync_stock(self, article: dict[str, Any]) -> None:
        """The article's quantities as sums over its stock points."""
        rows = self.stock.get(article["ArticleNumber"], {}).values()
        in_stock = sum((r[0] for r in rows), Decimal(0))
        reserved = sum((r[1] for r in rows), Decimal(0))
        article.update(
            {
                "QuantityInStock": number(in_stock),
                "ReservedQuantity": number(reserved),
                "DisposableQuantity": number(in_stock - reserved),
            }
        )

    # -- price lists and prices -------------------------------------------------------------------
    def _price_list_or_404(self, code: str) -> dict[str, Any]:
        # Price list codes are kept in upper case and looked up without regard to case.
        price_list = self.price_lists.get(str(code).strip().upper())
        if price_list is None:
            raise ApiError(404, f"Kan inte hitta prislistan ({code}).", Code.PRICE_LIST_NOT_FOUND)
        return price_list

    def _price_list_body(self, price_list: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/pricelists/{price_list['Code']}"), **price_list}

    def _list_price_lists(self, request: Request) -> Response:
        return Response(body={"PriceLists": [self._price_list_body(p) for p in self.price_lists.values()]})

    def _get_price_list(self, request: Request) -> Response:
        return Response(body={"PriceList": self._price_list_body(self._price_list_or_404(request.params["code"]))})

    def _post_price_list(self, request: Request) -> Response:
        data = self._payload(request, "PriceList", PRICE_LIST_WRITABLE, PRICE_LIST_READ_ONLY)
        code = str(data.get("Code") or "").strip().upper()
        if not code:
            raise ApiError(400, "Kod måste anges.", Code.NO_IDENTIFIER)
        if code in self.price_lists:
            raise ApiError(400, f"Prislistan {code} finns redan.", Code.NUMBER_USED)
        price_list = {"Code": code, "Description": "", "Comments": "", "PreSelected": False}
        self._apply_price_list(price_list, data)
        self.price_lists[code] = price_list
        self.prices.setdefault(code, {})
        return Response(status=201, body={"PriceList": self._price_list_body(price_list)})

    def _put_price_list(self, request: Request) -> Response:
        price_list = self._price_list_or_404(request.params["code"])
        data = self._payload(request, "PriceList", PRICE_LIST_WRITABLE, PRICE_LIST_READ_ONLY)
        if "Code" in data and str(data.pop("Code")).strip().upper() != price_list["Code"]:
            raise ApiError(400, "Koden kan inte ändras.", Code.INVALID_VALUE)
        self._apply_price_list(price_list, data)
        return Response(body={"PriceList": self._price_list_body(price_list)})

    def _apply_price_list(self, price_list: dict[str, Any], data: dict[str, Any]) -> None:
        data.pop("Code", None)
        if ("Description" in data or not price_list["Description"]) and not str(data.get("Description") or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        if data.get("PreSelected"):
            # One price list is preselected (for new customers); SalesPrice stays tied to list A.
            for other in self.price_lists.values():
                other["PreSelected"] = False
        price_list.update(data)

    def _article_prices(self, price_list: str, number_: str) -> dict[Decimal, PriceEntry]:
        """An article's prices in a list, by FromQuantity (a generated article's list-A price included)."""
        stored = self.prices.get(price_list, {}).get(number_)
        if stored is not None:
            return stored
        if price_list == DEFAULT_PRICE_LIST:
            ref = self._generated_ref(number_)
            if ref is not None:
                return {Decimal(0): self._generated_price(*ref)}
        return {}

    @staticmethod
    def _generated_price(segment: Segment, index: int) -> PriceEntry:
        ore, _ = segment.sales_price_ore(index)
        return PriceEntry(Decimal(ore) / 100, Decimal(0), segment.modified)

    def _write_price(
        self,
        price_list: str,
        number_: str,
        from_quantity: Decimal,
        *,
        price: Decimal | None = None,
        percent: Decimal | None = None,
        article: dict[str, Any] | None = None,
    ) -> PriceEntry:
        """Create or change a price and stamp its Date; list A at FromQuantity 0 is also SalesPrice.

        Only the price's time changes: whether Fortnox also counts the article as changed
        is undocumented, so article lists by lastmodified do not see a price change.
        """
        if price_list == DEFAULT_PRICE_LIST and article is None:
            article = self._article_for_write(number_)  # materialise a generated article: SalesPrice may change
        if from_quantity < 0:
            raise ApiError(400, f"Ogiltigt värde ({from_quantity}) i FromQuantity", Code.INVALID_VALUE)
        prices = self.prices.setdefault(price_list, {}).setdefault(number_, {})
        entry = prices.get(from_quantity) or PriceEntry(Decimal(0), Decimal(0), self.clock())
        if price is not None:
            entry.price = price
        if percent is not None:
            entry.percent = percent
        entry.changed = self.clock()
        prices[from_quantity] = entry
        if article is not None and from_quantity == 0:
            article["SalesPrice"] = number(entry.price)
        return entry

    def _price_body(self, price_list: str, number_: str, from_quantity: Decimal, entry: PriceEntry) -> dict[str, Any]:
        quantity = number(from_quantity)
        return {
            "@url": self._url(f"/3/prices/{price_list}/{number_}/{quantity}"),
            "ArticleNumber": number_,
            # Swedish local time with its offset (the spec types Date as date-time).
            "Date": entry.changed.replace(tzinfo=STOCKHOLM).isoformat(),
            "FromQuantity": quantity,
            "Percent": number(entry.percent),
            "Price": number(entry.price),
            "PriceList": price_list,
        }

    def _price_target(self, request: Request) -> tuple[str, str, Decimal]:
        """(price list, article, FromQuantity) of a price path; without FromQuantity in the path the
        `fromquantity` parameter, else the article's first price (the lowest FromQuantity)."""
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        number_ = self._article_number_or_404(request.params["article"])
        prices = self._article_prices(code, number_)
        raw = request.params.get("from_quantity") or request.query.get("fromquantity")
        if raw:
            quantity = to_decimal(raw, "FromQuantity")
        elif prices:
            quantity = min(prices)
        else:
            raise ApiError(404, "Kan inte hitta priset.", Code.PRICE_NOT_FOUND)
        if quantity not in prices:
            raise ApiError(404, "Kan inte hitta priset.", Code.PRICE_NOT_FOUND)
        return code, number_, quantity

    def _price_payload(self, request: Request) -> dict[str, Any]:
        data = self._payload(request, "Price", PRICE_WRITABLE, PRICE_READ_ONLY)
        for name in ("Price", "Percent", "FromQuantity"):
            if name in data:
                data[name] = to_decimal(data[name], name)
        return data

    def _post_price(self, request: Request) -> Response:
        data = self._price_payload(request)
        if not str(data.get("PriceList") or "").strip() or not str(data.get("ArticleNumber") or "").strip():
            raise ApiError(400, "Prislista och artikelnummer måste anges.", Code.NO_IDENTIFIER)
        code = self._price_list_or_404(data["PriceList"])["Code"]
        number_ = self._article_number_or_404(str(data["ArticleNumber"]))
        quantity = data.get("FromQuantity", Decimal(0))
        if quantity in self._article_prices(code, number_):
            raise ApiError(
                400, f"Priset för {number_} från {number(quantity)} finns redan i prislistan {code}.", Code.NUMBER_USED
            )
        entry = self._write_price(
            code, number_, quantity, price=data.get("Price", Decimal(0)), percent=data.get("Percent", Decimal(0))
        )
        return Response(status=201, body={"Price": self._price_body(code, number_, quantity, entry)})

    def _get_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        entry = self._article_prices(code, number_)[quantity]
        return Response(body={"Price": self._price_body(code, number_, quantity, entry)})

    def _put_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        data = self._price_payload(request)
        # The key of a price cannot change through PUT (whether Fortnox moves a price to another
        # FromQuantity is undocumented); echoing the key back is accepted.
        if (
            ("PriceList" in data and str(data["PriceList"]).strip().upper() != code)
            or ("ArticleNumber" in data and str(data["ArticleNumber"]) != number_)
            or ("FromQuantity" in data and data["FromQuantity"] != quantity)
        ):
            raise ApiError(400, "Prislista, artikelnummer och från-antal kan inte ändras.", Code.INVALID_VALUE)
        entry = self._write_price(code, number_, quantity, price=data.get("Price"), percent=data.get("Percent"))
        return Response(body={"Price": self._price_body(code, number_, quantity, entry)})

    def _delete_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        if code == DEFAULT_PRICE_LIST and quantity == 0:
            # The base price of the default price list is the article's SalesPrice (a choice:
            # the docs do not say what Fortnox does); change it instead.
            raise ApiError(400, "Grundpriset i standardprislistan kan inte tas bort.", Code.ACTION_NOT_ALLOWED)
        del self.prices[code][number_][quantity]
        return Response(status=204)

    def _article_sublist(self, request: Request) -> Response:
        """GET /3/prices/sublist/{PriceList}/{ArticleNumber}: the article's prices by FromQuantity."""
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        number_ = self._article_number_or_404(request.params["article"])
        prices = sorted(self._article_prices(code, number_).items())
        if request.query.get("fromquantity"):
            wanted = to_decimal(request.query["fromquantity"], "fromquantity")
            prices = [(q, e) for q, e in prices if q == wanted]
        start, limit, meta = self._paging(request.query, len(prices))
        items = [self._price_body(code, number_, q, e) for q, e in prices[start : start + limit]]
        return Response(body={"Prices": items, "MetaInformation": meta})

    def _price_list_sublist(self, request: Request) -> Response:
        """GET /3/prices/sublist/{PriceList}: every price in a list by ArticleNumber, FromQuantity.

        The spec documents the sublist only per article; whether Fortnox also lists a whole
        price list, and filters it by `lastmodified` (the price's Date, "greater than", Swedish
        local time, as for articles), is not confirmed. The simulator offers both, paged as
        other lists; a page costs O(limit + stored prices), also with a generated catalogue.
        """
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        query = request.query
        since = self._parse_lastmodified(query["lastmodified"]) if query.get("lastmodified") else None
        stored = []
        for number_, prices in self.prices.get(code, {}).items():
            key = natural_key(number_)
            for quantity, entry in prices.items():
                if since is None or entry.changed > since:
                    stored.append(((key, quantity), (number_, quantity, entry)))
        stored.sort(key=lambda pair: pair[0])
        # Ranked against generated articles by article number alone (a generated article
        # without stored prices has exactly one: list A from 0).
        ordered = [(sort_key[0], item) for sort_key, item in stored]
        segments = [s for s in self.segments if code == DEFAULT_PRICE_LIST and (since is None or s.modified > since)]
        run = SegmentsRun(segments)
        total = len(ordered) + run.count
        start, limit, meta = self._paging(query, total)

        def make(segment: Segment, index: int) -> tuple[str, Decimal, PriceEntry]:
            return segment.number(index), Decimal(0), self._generated_price(segment, index)

        window = merge_window(ordered, run, start, start + limit, make)
        items = [self._price_body(code, n, q, e) for n, q, e in window]
        return Response(body={"Prices": items, "MetaInformation": meta})

    # -- warehouse module -------------------------------------------------------------------------
    def _add_stock_point(self, code: str, name: str, *, active: bool = True) -> dict[str, Any]:
        point = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fortnox-simulator/stockpoint/{code}")),
            "code": code,
            "name": name,
            "active": active,
            "usingCompanyAddress": True,
            "deliveryName": "",
            "deliveryAddress": "",
            "deliveryAddress2": "",
            "deliveryZipCode": "",
            "deliveryCity": "",
            "deliveryCountryCode": "",
            "deliveryPhone": "",
            "stockLocations": [],
        }
        self.stock_points[code] = point
        return point

    def _require_warehouse(self) -> None:
        # The status of the real answer is undocumented; 403 reads as "not allowed for this company".
        if not self.warehouse_active:
            raise WarehouseError(403, "notactivated", "Fortnox Lager är inte aktiverat för företaget.")

    @staticmethod
    def _csv(value: str | None) -> list[str]:
        return [part.strip() for part in (value or "").split(",") if part.strip()]

    def _stock_balance(self, request: Request) -> Response:
        """A list of {itemId, stockPointCode, availableStock, inStock} (available = in stock − reserved).

        Only balances that exist are listed: an article gets one at a stock point when its
        quantity is set there (a generated article has one at its segment's stock point).
        Unknown item ids and stock point codes give no rows rather than an error.
        """
        self._require_warehouse()
        item_ids = list(dict.fromkeys(self._csv(request.query.get("itemIds"))))
        points = set(self._csv(request.query.get("stockPointCodes"))) or None

        def rows_of(number_: str, balances: dict[str, tuple[Decimal, Decimal]]) -> list[dict[str, Any]]:
            return [
                {
                    "itemId": number_,
                    "stockPointCode": code,
                    "availableStock": number(in_stock - reserved),
                    "inStock": number(in_stock),
                }
                for code, (in_stock, reserved) in sorted(balances.items())
                if points is None or code in points
            ]

        def generated_rows(segment: Segment, index: int) -> list[dict[str, Any]]:
            in_stock, reserved = segment.stock(index)
            return rows_of(segment.number(index), {segment.stock_point: (Decimal(in_stock), Decimal(reserved))})

        result: list[dict[str, Any]] = []
        if item_ids:
            for number_ in item_ids:
                if number_ in self.stock:
                    result.extend(rows_of(number_, self.stock[number_]))
                elif number_ not in self.articles and (ref := self._generated_ref(number_)) is not None:
                    result.extend(generated_rows(*ref))
            return Response(body=result)
        ordered = sorted(
            ((natural_key(n), rows_of(n, balances)) for n, balances in self.stock.items()), key=lambda pair: pair[0]
        )
        run = SegmentsRun([s for s in self.segments if points is None or s.stock_point in points])
        for rows in merge_window(ordered, run, 0, len(ordered) + run.count, generated_rows):
            result.extend(rows)
        return Response(body=result)

    def _list_stock_points(self, request: Request) -> Response:
        """Stock points; `q` filters on code or name, `state` ACTIVE (default), INACTIVE or ALL."""
        self._require_warehouse()
        state = (request.query.get("state") or "ACTIVE").upper()
        if state not in ("ACTIVE", "INACTIVE", "ALL"):
            raise WarehouseError(400, "invalidstate", f"Ogiltigt värde för state ({state}).")
        needle = (request.query.get("q") or "").lower()
        points = [
            p
            for p in self.stock_points.values()
            if (state == "ALL" or p["active"] == (state == "ACTIVE"))
            and (needle in p["code"].lower() or needle in p["name"].lower())
        ]
        return Response(body=[dict(p) for p in points])

    def _warehouse_tenant(self, request: Request) -> Response:
        return Response(body={"activated": self.warehouse_active, "tenantId": self.tenant_id})

    def _warehouse_not_found(self, request: Request) -> Response:
        raise WarehouseError(404, "notfound", f"No resource {request.method} {request.path}")

    # -- invoices -------------------------------------------------------------------------------------
    def _invoice(self, number_: str) -> dict[str, Any]:
        invoice = self.invoices.get(number_)
        if invoice is None:
            raise ApiError(404, "Kan inte hitta fakturan.", Code.INVOICE_NOT_FOUND)
        return invoice

    def _list_invoices(self, request: Request) -> Response:
        records = list(self.invoices.values())
        state = request.query.get("filter", "")
        today = self.clock().date().isoformat()
        filters: dict[str, Callable[[dict[str, Any]], bool]] = {
            "cancelled": lambda i: i["Cancelled"],
            "fullypaid": lambda i: not i["Cancelled"] and i["Booked"] and i["Balance"] == 0,
            "unpaid": lambda i: not i["Cancelled"] and i["Balance"] != 0,
            "unpaidoverdue": lambda i: not i["Cancelled"] and i["Balance"] != 0 and i["DueDate"] < today,
            "unbooked": lambda i: not i["Cancelled"] and not i["Booked"],
        }
        if state:
            if state not in filters:
                raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
            records = [i for i in records if filters[state](i)]
        if request.query.get("fromdate"):
            start = parse_day(request.query["fromdate"], "fromdate").isoformat()
            records = [i for i in records if i["InvoiceDate"] >= start]
        if request.query.get("todate"):
            end = parse_day(request.query["todate"], "todate").isoformat()
            records = [i for i in records if i["InvoiceDate"] <= end]
        page, meta = self._list(
            request, "invoices", records, search=INVOICE_SEARCH, sort=INVOICE_SORT, key_field="DocumentNumber"
        )
        items = [self._invoice_body(invoice, rows=False) for invoice in page]
        return Response(body={"Invoices": items, "MetaInformation": meta})

    def _get_invoice(self, request: Request) -> Response:
        return Response(body={"Invoice": self._invoice_body(self._invoice(request.params["number"]))})

    def _post_invoice(self, request: Request) -> Response:
        data = self._payload(request, "Invoice", INVOICE_WRITABLE, INVOICE_READ_ONLY)
        invoice = self._create_invoice(data)
        if self.fail_after_create > 0:
            # "Created, but the answer was lost": the invoice exists, the client sees a 503.
            self.fail_after_create -= 1
            self.lost_responses += 1
            return self.error_response(503, "Service Unavailable", Code.SYSTEM_EXCEPTION)
        return Response(status=201, body={"Invoice": self._invoice_body(invoice)})

    def _put_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request.params["number"])
        data = self._payload(request, "Invoice", INVOICE_WRITABLE, INVOICE_READ_ONLY)
        if invoice["Booked"]:
            raise ApiError(400, "Fakturan är bokförd och kan inte ändras.", Code.DOCUMENT_LOCKED)
        if invoice["Cancelled"]:
            raise ApiError(400, "Fakturan är makulerad och kan inte ändras.", Code.DOCUMENT_LOCKED)
        if "DocumentNumber" in data and str(data.pop("DocumentNumber")) != invoice["DocumentNumber"]:
            raise ApiError(400, "Dokumentnumret kan inte ändras.", Code.INVALID_VALUE)
        updated = dict(invoice)
        self._apply_invoice_fields(updated, data)
        self._compute_totals(updated)
        invoice.clear()
        invoice.update(updated)
        self._touch("invoices", invoice["DocumentNumber"])
        return Response(body={"Invoice": self._invoice_body(invoice)})

    def _invoice_action(self, request: Request) -> Response:
        invoice = self._invoice(request.params["number"])
        action = request.params["action"].lower()
        if invoice["Cancelled"]:
            raise ApiError(400, "Fakturan är makulerad.", Code.ACTION_NOT_ALLOWED)
        if action == "bookkeep":
            if invoice["Booked"]:
                raise ApiError(400, "Fakturan är redan bokförd.", Code.ACTION_NOT_ALLOWED)
            self._voucher_number += 1
            invoice.update(
                {
                    "Booked": True,
                    "VoucherSeries": "B",
                    "VoucherNumber": self._voucher_number,
                    "VoucherYear": int(invoice["InvoiceDate"][:4]),
                }
            )
        elif action == "cancel":
            if invoice["Booked"]:
                raise ApiError(
                    400, "En bokförd faktura kan inte makuleras; kreditera den i stället.", Code.ACTION_NOT_ALLOWED
                )
            invoice["Cancelled"] = True
        elif action == "credit":
            # Crediting is modelled for booked invoices only (public clients book first). The
            # answer is the original invoice, whose CreditInvoiceReference names the credit note.
            if not invoice["Booked"]:
                raise ApiError(400, "Endast bokförda fakturor kan krediteras.", Code.ACTION_NOT_ALLOWED)
            if invoice["Credit"] == "true" or invoice["CreditInvoiceReference"] not in ("", "0"):
                raise ApiError(400, "Fakturan är redan krediterad.", Code.ACTION_NOT_ALLOWED)
            credit = self._create_credit(invoice)
            invoice["CreditInvoiceReference"] = credit["DocumentNumber"]
        elif action == "externalprint":
            invoice["Sent"] = True
        self._touch("invoices", invoice["DocumentNumber"])
        return Response(body={"Invoice": self._invoice_body(invoice)})

    def _invoice_body(self, invoice: dict[str, Any], *, rows: bool = True) -> dict[str, Any]:
        """An invoice as answered: links first; list items carry no rows."""
        number_ = invoice["DocumentNumber"]
        body = {
            "@url": self._url(f"/3/invoices/{number_}"),
            "@urlTaxReductionList": self._url(f"/3/taxreductions?filter=invoices&referencenumber={number_}"),
            **{k: v for k, v in invoice.items() if k != "InvoiceRows"},
        }
        if rows:
            body["InvoiceRows"] = [dict(row) for row in invoice["InvoiceRows"]]
        return body

    def _create_invoice(self, data: dict[str, Any]) -> dict[str, Any]:
        if not str(data.get("CustomerNumber") or "").strip():
            raise ApiError(400, "Kunde inte hämta/hitta kund (kundnummer)", Code.CUSTOMER_NOT_FOUND)
        number_ = str(data.pop("DocumentNumber", "") or "").strip()
        if number_ and number_ in self.invoices:
            raise ApiError(400, f"Dokumentnummer {number_} används redan.", Code.NUMBER_USED)
        number_ = number_ or self._next_number(self.invoices)
        today = self.clock().date().isoformat()
        invoice: dict[str, Any] = {
            "AccountingMethod": "ACCRUAL",
            "Address1": "",
            "Address2": "",
            "AdministrationFee": 0,
            "AdministrationFeeVAT": 0,
            "Balance": 0,
            "BasisTaxReduction": 0,
            "Booked": False,
            "Cancelled": False,
            "City": "",
            "Comments": "",
            "ContractReference": 0,
            "CostCenter": "",
            "Country": "",
            # Unset references read "0" on real documents, so a truthiness check is not enough.
            "Credit": "false",
            "CreditInvoiceReference": "0",
            "Currency": "",
            "CurrencyRate": 1,
            "CurrencyUnit": 1,
            "CustomerName": "",
            "CustomerNumber": "",
            "DeliveryAddress1": "",
            "DeliveryAddress2": "",
            "DeliveryCity": "",
            "DeliveryCountry": "",
            "DeliveryDate": None,
            "DeliveryName": "",
            "DeliveryZipCode": "",
            "DocumentNumber": number_,
            "DueDate": "",
            "EUQuarterlyReport": False,
            "ExternalInvoiceReference1": "",
            "ExternalInvoiceReference2": "",
            "FinalPayDate": None,
            "Freight": 0,
            "FreightVAT": 0,
            "Gross": 0,
            "HouseWork": False,
            "InvoiceDate": today,
            "InvoiceReference": "0",
            "InvoiceRows": [],
            "InvoiceType": "INVOICE",
            "Labels": [],
            "Language": "SV",
            "LastRemindDate": None,
            "Net": 0,
            "NotCompleted": False,
            "NoxFinans": False,
            "OCR": number_ + luhn_digit(number_) if number_.isdigit() else "",
            "OfferReference": "0",
            "OrderReference": "0",
            "OrganisationNumber": "",
            "OurReference": "",
            "OutboundDate": None,
            "PaymentWay": "",
            "Phone1": "",
            "Phone2": "",
            "PriceList": "A",
            "PrintTemplate": "",
            "Project": "",
            "Remarks": "",
            "Reminders": 0,
            "RoundOff": 0,
            "Sent": False,
            "TaxReduction": None,
            "TaxReductionType": "none",
            "TermsOfDelivery": "",
            "TermsOfPayment": "",
            "Total": 0,
            "TotalToPay": 0,
            "TotalVAT": 0,
            "VATIncluded": False,
            "VoucherNumber": None,
            "VoucherSeries": None,
            "VoucherYear": None,
            "WarehouseReady": False,
            "WayOfDelivery": "",
            "YourOrderNumber": "",
            "YourReference": "",
            "ZipCode": "",
        }
        self._apply_invoice_fields(invoice, data, new=True)
        self._compute_totals(invoice)
        invoice["Balance"] = invoice["Total"]
        self.invoices[number_] = invoice
        self._touch("invoices", number_)
        return invoice

    def _apply_invoice_fields(self, invoice: dict[str, Any], data: dict[str, Any], *, new: bool = False) -> None:
        """Validate and apply writable header fields and (when sent) rows. Raises ApiError."""
        customer_number = str(data.get("CustomerNumber", invoice["CustomerNumber"]) or "")
        customer = self.customers.get(customer_number)
        if customer is None:
            raise ApiError(400, "Kunde inte hämta/hitta kund (kundnummer)", Code.CUSTOMER_NOT_FOUND)
        if new or customer_number != invoice["CustomerNumber"]:
            # Name, address and terms come from the customer; values sent in the body win.
            invoice.update(
                {
                    "CustomerNumber": customer_number,
                    "CustomerName": customer["Name"],
                    "Address1": customer["Address1"],
                    "Address2": customer["Address2"],
                    "City": customer["City"],
                    "ZipCode": customer["ZipCode"],
                    "Country": customer["Country"],
                    "Phone1": customer["Phone1"],
                    "Phone2": customer["Phone2"],
                    "OrganisationNumber": customer["OrganisationNumber"],
                    "DeliveryName": customer["DeliveryName"],
                    "DeliveryAddress1": customer["DeliveryAddress1"],
                    "DeliveryAddress2": customer["DeliveryAddress2"],
                    "DeliveryCity": customer["DeliveryCity"],
                    "DeliveryZipCode": customer["DeliveryZipCode"],
                    "DeliveryCountry": customer["DeliveryCountry"],
                    "YourReference": customer["YourReference"],
                    "OurReference": customer["OurReference"],
                    "TermsOfPayment": customer["TermsOfPayment"],
                    "WayOfDelivery": customer["WayOfDelivery"],
                    "TermsOfDelivery": customer["TermsOfDelivery"],
                }
            )
            if new:
                invoice["Currency"] = customer.get("Currency") or "SEK"
        rows = data.pop("InvoiceRows", None)
        for name in ("Freight", "AdministrationFee", "CurrencyRate"):
            if name in data:
                data[name] = number(to_decimal(data[name], name))
        if "Currency" in data:
            self._check_currency(data["Currency"])
            data["Currency"] = str(data["Currency"]).upper()
        for name in ("InvoiceDate", "DueDate", "DeliveryDate", "OutboundDate"):
            if data.get(name):
                data[name] = parse_day(data[name], name).isoformat()
        if "InvoiceType" in data and data["InvoiceType"] not in (
            "INVOICE",
            "AGREEMENTINVOICE",
            "INTRESTINVOICE",
            "SUMMARYINVOICE",
            "CASHINVOICE",
        ):
            raise ApiError(400, f"Ogiltig fakturatyp ({data['InvoiceType']})", Code.INVALID_VALUE)
        for name in ("YourOrderNumber", "ExternalInvoiceReference1", "ExternalInvoiceReference2"):
            if name in data:
                data[name] = "" if data[name] is None else str(data[name])
        invoice.update(data)
        if (new or "Currency" in data) and "CurrencyRate" not in data:
            invoice["CurrencyRate"] = number(self.currencies[invoice["Currency"]])
        if not invoice["DueDate"] or (new and "DueDate" not in data):
            days = int(invoice["TermsOfPayment"]) if str(invoice["TermsOfPayment"]).isdigit() else 30
            invoice["DueDate"] = (date.fromisoformat(invoice["InvoiceDate"]) + timedelta(days=days)).isoformat()
        if rows is not None:
            if not isinstance(rows, list):
                raise ApiError(400, "Ingen eller felaktig typ av data. (InvoiceRows)", Code.EMPTY_BODY)
            invoice["InvoiceRows"] = [
                self._build_row(raw, index, invoice["VATIncluded"]) for index, raw in enumerate(rows, start=1)
            ]

    def _build_row(self, raw: Any, index: int, vat_included: bool) -> dict[str, Any]:
        """One invoice row: article defaults, VAT and account checks."""
        if not isinstance(raw, dict):
            raise ApiError(400, "Ingen eller felaktig typ av data. (InvoiceRows)", Code.EMPTY_BODY)
        data = self._fields(dict(raw), INVOICE_ROW_WRITABLE, INVOICE_ROW_READ_ONLY)
        article_number = str(data.get("ArticleNumber") or "").strip()
        article = None
        if article_number:
            article = self._find_article(article_number)
            if article is None:
                raise ApiError(400, "Kunde inte hitta artikel", Code.ARTICLE_NOT_FOUND_ON_ROW)
        vat = self._check_vat(data["VAT"] if data.get("VAT") is not None else (article or {}).get("VAT", 25))
        account = (
            self._check_account(data.get("AccountNumber"))
            or (article or {}).get("SalesAccount")
            or SALES_ACCOUNT_BY_VAT.get(vat, 3001)
        )
        # When no quantity is sent the row has none (a text row shows 0).
        quantity = to_decimal(data.get("DeliveredQuantity"), "DeliveredQuantity")
        if data.get("Price") is not None:
            price = to_decimal(data["Price"], "Price")
        elif article is not None:
            # Article prices are kept excluding VAT; with VATIncluded the row shows the gross price.
            price = to_decimal(article["SalesPrice"])
            if vat_included:
                price = round_ore(price * (HUNDRED + vat) / HUNDRED)
        else:
            price = Decimal(0)
        discount_type = str(data.get("DiscountType") or "PERCENT").upper()
        if discount_type not in ("AMOUNT", "PERCENT"):
            raise ApiError(400, f"Ogiltig rabattyp ({data.get('DiscountType')})", Code.INVALID_VALUE)
        return {
            "AccountNumber": account,
            "ArticleNumber": article_number,
            "CostCenter": data.get("CostCenter") or "",
            "DeliveredQuantity": quantity_text(quantity),
            "Description": data.get("Description") or (article["Description"] if article else ""),
            "Discount": number(to_decimal(data.get("Discount"), "Discount")),
            "DiscountType": discount_type,
            "HouseWork": bool(data.get("HouseWork", False)),
            "Price": number(price),
            "PriceExcludingVAT": 0,
            "Project": data.get("Project") or "",
            "RowId": index,
            "StockPointCode": data.get("StockPointCode"),
            "Total": 0,
            "TotalExcludingVAT": 0,
            "Unit": data.get("Unit") or (article["Unit"] if article else ""),
            "VAT": vat,
            "VATCode": data.get("VATCode"),
        }

    def _compute_totals(self, invoice: dict[str, Any]) -> None:
        """Row and header amounts as Fortnox computes them, in öre, half up.

        Reading used where the docs are silent: a row's Total follows the price mode
        (including VAT when VATIncluded); Net is the rows excluding VAT; Gross adds freight
        and administration fee excluding VAT; FreightVAT/AdministrationFeeVAT are amounts
        at `freight_vat_rate`; Total = Gross + TotalVAT + RoundOff.
        """
        vat_included = bool(invoice["VATIncluded"])
        net = total_vat = Decimal(0)
        for row in invoice["InvoiceRows"]:
            price = to_decimal(row["Price"])
            rate = Decimal(row["VAT"])
            amount = price * to_decimal(row["DeliveredQuantity"])
            discount = to_decimal(row["Discount"])
            if discount and row["DiscountType"] == "AMOUNT":
                amount -= discount  # an amount off the row as a whole (a reading; the docs are silent)
            elif discount:
                amount = amount * (HUNDRED - discount) / HUNDRED
            total = round_ore(amount)
            if vat_included:
                vat = round_ore(total * rate / (HUNDRED + rate))
                excluding = total - vat
                price_excluding = round_ore(price * HUNDRED / (HUNDRED + rate))
            else:
                vat = round_ore(total * rate / HUNDRED)
                excluding = total
                price_excluding = price
            row.update(
                {
                    "Total": number(total),
                    "TotalExcludingVAT": number(excluding),
                    "PriceExcludingVAT": number(price_excluding),
                }
            )
            net += excluding
            total_vat += vat
        fee_rate = Decimal(self.freight_vat_rate)
        fees_excluding = Decimal(0)
        for name in ("Freight", "AdministrationFee"):
            amount = round_ore(to_decimal(invoice[name]))
            vat = round_ore(amount * fee_rate / ((HUNDRED + fee_rate) if vat_included else HUNDRED))
            invoice[f"{name}VAT"] = number(vat)
            fees_excluding += amount - vat if vat_included else amount
            total_vat += vat
        gross = net + fees_excluding
        exact = gross + total_vat
        # Öresavrundning is a SEK concept; other currencies keep their exact total.
        if self.round_off_to_whole and invoice["Currency"] == "SEK":
            rounded = exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        else:
            rounded = exact
        paid = to_decimal(invoice["Total"]) - to_decimal(invoice["Balance"])
        invoice.update(
            {
                "Net": number(net),
                "Gross": number(gross),
                "TotalVAT": number(total_vat),
                "RoundOff": number(rounded - exact),
                "Total": number(rounded),
                "TotalToPay": number(rounded),
                "Balance": number(rounded - paid),
            }
        )

    def _create_credit(self, original: dict[str, Any]) -> dict[str, Any]:
        """The credit note for `original`: same rows with negated quantities, linked both ways."""
        number_ = self._next_number(self.invoices)
        credit = json.loads(json.dumps(original))
        for row in credit["InvoiceRows"]:
            row["DeliveredQuantity"] = quantity_text(-to_decimal(row["DeliveredQuantity"]))
        for name in ("Freight", "AdministrationFee"):
            credit[name] = number(-to_decimal(credit[name]))
        credit.update(
            {
                "DocumentNumber": number_,
                "OCR": number_ + luhn_digit(number_),
                "Booked": False,
                "Cancelled": False,
                "Sent": False,
                "Credit": "true",
                "CreditInvoiceReference": original["DocumentNumber"],
                "InvoiceDate": self.clock().date().isoformat(),
                "FinalPayDate": None,
                "VoucherNumber": None,
                "VoucherSeries": None,
                "VoucherYear": None,
                "Total": 0,
                "Balance": 0,
            }
        )
        credit["DueDate"] = credit["InvoiceDate"]
        self._compute_totals(credit)
        self.invoices[number_] = credit
        self._touch("invoices", number_)
        return credit

    # -- control API additions -----------------------------------------------------------------------
    def _control_body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json() if request.body.strip() else {}
        except ValueError:
            raise ApiError(400, "invalid JSON", Code.JSON_SYNTAX) from None
        return body if isinstance(body, dict) else {}

    def _control_reset(self, request: Request) -> Response:
        """POST /_sim/reset {"auth": bool, "seed": bool}: clear data (and tokens), optionally reseed."""
        body = self._control_body(request)
        self.reset(auth=bool(body.get("auth")))
        if body.get("seed"):
            self.seed_demo()
        return Response(body=self.state_summary())

    def _control_settings(self, request: Request) -> Response:
        """POST /_sim/settings: capitalised_errors, round_off_to_whole, retry_after_header,
        enforce_scopes, warehouse_active, fail_after_create, rate_limit (bool), and the seconds
        of hold_after_create, commit_late (with commit_late_posts) and hold_token_answer."""
        body = self._control_body(request)
        for name in (
            "capitalised_errors",
            "round_off_to_whole",
            "retry_after_header",
            "enforce_scopes",
            "warehouse_active",
        ):
            if name in body:
                setattr(self, name, bool(body[name]))
        if "fail_after_create" in body:
            self.fail_after_create = int(body["fail_after_create"])
        for name in ("hold_after_create", "commit_late", "hold_token_answer"):
            if name in body:
                setattr(self, name, max(0.0, float(body[name])))
        if "commit_late_posts" in body:
            self.commit_late_posts = max(0, int(body["commit_late_posts"]))
        if "hold_token_answers" in body:
            self.hold_token_answers = max(0, int(body["hold_token_answers"]))
        if "rate_limit" in body:
            self.limiter.enabled = bool(body["rate_limit"])
        return Response(
            body={
                "capitalised_errors": self.capitalised_errors,
                "round_off_to_whole": self.round_off_to_whole,
                "retry_after_header": self.retry_after_header,
                "enforce_scopes": self.enforce_scopes,
                "warehouse_active": self.warehouse_active,
                "fail_after_create": self.fail_after_create,
                "rate_limit": self.limiter.enabled,
                "hold_after_create": self.hold_after_create,
                "commit_late": self.commit_late,
                "commit_late_posts": self.commit_late_posts,
                "hold_token_answer": self.hold_token_answer,
                "hold_token_answers": self.hold_token_answers,
            }
        )

    def _control_expire_tokens(self, request: Request) -> Response:
        """POST /_sim/expire-tokens {"refresh": bool}: expire every access (and refresh) token."""
        self.expire_access_tokens()
        if self._control_body(request).get("refresh"):
            self.expire_refresh_tokens()
        return Response(body={"expired": len(self.access_tokens)})

    def _control_articles(self, request: Request) -> Response:
        """POST /_sim/articles {"Articles": [...]} or {"Article": {...}}: create or update articles."""
        body = self._control_body(request)
        articles = body.get("Articles") or ([body["Article"]] if "Article" in body else [])
        self.seed_articles(articles)
        return Response(body={"articles": self.state_summary()["articles"]})

    def _control_generate(self, request: Request) -> Response:
        """POST /_sim/generate {"articles": n, "customers": m, "prefix"?, "start"?, "seed"?,
        "stock_point"?, "companies_share"?}: a generated catalogue and/or generated customers."""
        body = self._control_body(request)
        answer: dict[str, Any] = {}
        try:
            if int(body.get("articles") or 0) > 0:
                answer["catalogue"] = self.seed_generated(
                    int(body["articles"]),
                    prefix=str(body.get("prefix", "G")),
                    start=int(body.get("start", 1)),
                    stock_point=str(body.get("stock_point", DEFAULT_STOCK_POINT)),
                    seed=int(body.get("seed", 1)),
                )
            if int(body.get("customers") or 0) > 0:
                numbers = self.seed_generated_customers(
                    int(body["customers"]),
                    companies_share=float(body.get("companies_share", 0.3)),
                    seed=int(body.get("seed", 1)),
                )
                answer["customers"] = {"first": numbers[0], "last": numbers[-1], "count": len(numbers)}
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), Code.INVALID_VALUE) from None
        return Response(body={**answer, "state": self.state_summary()})

    def _control_stock(self, request: Request) -> Response:
        """POST /_sim/stock {"ArticleNumber", "InStock", "Reserved"?, "StockPoint"?}: set a balance."""
        body = self._control_body(request)
        article = self.set_stock(
            str(body.get("ArticleNumber", "")),
            body.get("InStock", 0),
            reserved=body.get("Reserved", 0),
            stock_point=str(body.get("StockPoint") or DEFAULT_STOCK_POINT),
        )
        return Response(body={"Article": self._article_body(article)})

    def _control_prices(self, request: Request) -> Response:
        """POST /_sim/prices {"PriceList", "ArticleNumber", "Price", "FromQuantity"?}: set a price."""
        body = self._control_body(request)
        price = self.set_price(
            str(body.get("PriceList") or DEFAULT_PRICE_LIST),
            str(body.get("ArticleNumber", "")),
            body.get("Price", 0),
            body.get("FromQuantity", 0),
        )
        return Response(body={"Price": price})

    # -- demo data ------------------------------------------------------------------------------------
    def seed_demo(self) -> None:
        """A small Swedish webshop: ~40 articles at 25/12/6 % VAT, a freight article and two customers."""
        with self.lock:
            self.seed_articles(demo_articles())
            if "1" not in self.customers:
                self._create_customer(
                    {
                        "CustomerNumber": "1",
                        "Name": "Anna Svensson",
                        "Email": "anna@example.se",
                        "Address1": "Vasagatan 12",
                        "ZipCode": "411 24",
                        "City": "Göteborg",
                        "Type": "PRIVATE",
                    }
                )
            if "2" not in self.customers:
                self._create_customer(
                    {
                        "CustomerNumber": "2",
                        "Name": "Norrlands Kontor AB",
                        "OrganisationNumber": "556123-4567",
                        "Email": "faktura@norrlandskontor.se",
                        "Address1": "Storgatan 5",
                        "ZipCode": "903 26",
                        "City": "Umeå",
                        "Type": "COMPANY",
                    }
                )


def demo_articles() -> list[dict[str, Any]]:
    """The webshop's demo catalogue as Fortnox article objects (SalesPrice excluding VAT).

    The same catalogue the Norce simulator sells from, so demo orders name articles
    that exist here (the ERP is the system of record for articles).
    """
    articles: list[dict[str, Any]] = []
    for index, item in enumerate(DEMO_CATALOGUE):
        number_, description = item["part_no"], item["name"]
        gross, vat = Decimal(item["price_incl_vat"]), int(item["vat_rate"])
        service = number_.startswith(("SV-", "GC-")) or "nedladdning" in description
        ean_body = f"73{index + 100000:010d}"
        articles.append(
            {
                "ArticleNumber": number_,
                "Description": description,
                "SalesPrice": float(round_ore(gross * HUNDRED / (HUNDRED + vat))),
                "VAT": vat,
                "Type": "SERVICE" if service else "STOCK",
                "StockGoods": not service,
                "QuantityInStock": 50 + (index * 7) % 150,
                "WebshopArticle": True,
                "Unit": "st",
                "EAN": "" if service else ean_body + ean_check_digit(ean_body),
                "SalesAccount": SALES_ACCOUNT_BY_VAT[vat],
            }
        )
    articles.append(
        {
            "ArticleNumber": "FRAKT",
            "Description": "Frakt",
            "SalesPrice": 39.2,
            "VAT": 25,
            "Type": "SERVICE",
            "StockGoods": False,
            "WebshopArticle": False,
            "Unit": "st",
            "SalesAccount": 3520,
        }
    )
    return articles


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
