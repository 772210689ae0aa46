"""A Fortnox API v3 simulator: OAuth, rate limit, errors and the resources Brygga uses.

One in-memory company (tenant) served over real HTTP, with the real paths:

    GET  /oauth-v1/auth           consent page; approves at once and redirects with a code
    POST /oauth-v1/token          authorization_code, refresh_token (rotating) and client_credentials
    /3/customers[/{n}]            GET list/one, POST, PUT, DELETE
    /3/articles[/{n}]             GET list/one, POST, PUT
    /3/invoices[/{n}[/action]]    GET list/one, POST, PUT; PUT bookkeep|cancel|credit|externalprint
    /3/companyinformation         GET
    /3/settings/company           GET

Invoice totals are computed server-side as Fortnox does (VATIncluded, per-row VAT
rounded to öre, freight and administration fee with their own VAT, optional
rounding to whole kronor). Tests switch behaviour through attributes
(`capitalised_errors`, `round_off_to_whole`, `fail_after_create`, `limiter.enabled`,
`retry_after_header`, `enforce_scopes`) or, when run standalone, through the
control API (`/_sim/...`, see `connectors.simulation`).
"""
from __future__ import annotations

import argparse
import base64
import json
import math
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from html import escape
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from connectors.simulation import Request, Response, Simulator, SlidingWindow

STOCKHOLM = ZoneInfo("Europe/Stockholm")

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 45 * 24 * 3600
AUTH_CODE_SECONDS = 600
RATE_LIMIT = 25  # requests ...
RATE_WINDOW = 5.0  # ... per sliding window of this many seconds, per access token
DEFAULT_LIMIT, MAX_LIMIT = 100, 500

DEFAULT_CLIENT_ID = "fortnox-client"
DEFAULT_CLIENT_SECRET = "fortnox-secret-value"
DEFAULT_SCOPE = "companyinformation settings customer article invoice payment bookkeeping currency"

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


class ApiError(Exception):
    """A Fortnox error answer (status, Swedish message, ErrorInformation code)."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"{status} [{code}] {message}")
        self.status, self.message, self.code = status, message, code


# -- field names (Fortnox API v3) ----------------------------------------------------

INVOICE_READ_ONLY = frozenset({
    "@url", "@urlTaxReductionList", "AccountingMethod", "AdministrationFeeVAT", "Balance", "BasisTaxReduction",
    "Booked", "Cancelled", "ContractReference", "ContributionPercent", "ContributionValue", "Credit",
    "FinalPayDate", "FreightVAT", "Gross", "HouseWork", "InvoicePeriodEnd", "InvoicePeriodReference",
    "InvoicePeriodStart", "InvoiceReference", "LastRemindDate", "Net", "NoxFinans", "OfferReference",
    "OrderReference", "OrganisationNumber", "Reminders", "RoundOff", "Sent", "TaxReduction", "TimeBasisReference",
    "Total", "TotalToPay", "TotalVAT", "VoucherNumber", "VoucherSeries", "VoucherYear", "WarehouseReady",
})
INVOICE_WRITABLE = frozenset({
    "AdministrationFee", "Address1", "Address2", "City", "Comments", "CostCenter", "Country",
    "CreditInvoiceReference", "Currency", "CurrencyRate", "CurrencyUnit", "CustomerName", "CustomerNumber",
    "DeliveryAddress1", "DeliveryAddress2", "DeliveryCity", "DeliveryCountry", "DeliveryDate", "DeliveryName",
    "DeliveryZipCode", "DocumentNumber", "DueDate", "EDIInformation", "EUQuarterlyReport", "EmailInformation",
    "ExternalInvoiceReference1", "ExternalInvoiceReference2", "Freight", "InvoiceDate", "InvoiceRows",
    "InvoiceType", "Labels", "Language", "NotCompleted", "OCR", "OurReference", "OutboundDate", "PaymentWay",
    "Phone1", "Phone2", "PriceList", "PrintTemplate", "Project", "Remarks", "TaxReductionType", "TermsOfDelivery",
    "TermsOfPayment", "VATIncluded", "WayOfDelivery", "YourOrderNumber", "YourReference", "ZipCode",
})
INVOICE_ROW_READ_ONLY = frozenset({"ContributionPercent", "ContributionValue", "PriceExcludingVAT", "Total",
                                   "TotalExcludingVAT"})
INVOICE_ROW_WRITABLE = frozenset({
    "AccountNumber", "ArticleNumber", "Cost", "CostCenter", "DeliveredQuantity", "Description", "Discount",
    "DiscountType", "HouseWork", "HouseWorkHoursToReport", "HouseWorkType", "Price", "Project", "RowId",
    "StockPointCode", "Unit", "VAT", "VATCode",
})
CUSTOMER_WRITABLE = frozenset({
    "Active", "Address1", "Address2", "City", "Comments", "CostCenter", "Country", "CountryCode", "Currency",
    "CustomerNumber", "DefaultDeliveryTypes", "DefaultTemplates", "DeliveryAddress1", "DeliveryAddress2",
    "DeliveryCity", "DeliveryCountry", "DeliveryCountryCode", "DeliveryFax", "DeliveryName", "DeliveryPhone1",
    "DeliveryPhone2", "DeliveryZipCode", "Email", "EmailInvoice", "EmailInvoiceBCC", "EmailInvoiceCC",
    "EmailOffer", "EmailOfferBCC", "EmailOfferCC", "EmailOrder", "EmailOrderBCC", "EmailOrderCC",
    "ExternalReference", "Fax", "GLN", "GLNDelivery", "InvoiceAdministrationFee", "InvoiceDiscount",
    "InvoiceFreight", "InvoiceRemark", "Name", "OrganisationNumber", "OurReference", "Phone1", "Phone2",
    "PriceList", "Project", "SalesAccount", "ShowPriceVATIncluded", "TermsOfDelivery", "TermsOfPayment", "Type",
    "VATNumber", "VATType", "VisitingAddress", "VisitingCity", "VisitingCountry", "VisitingCountryCode",
    "VisitingZipCode", "WWW", "WayOfDelivery", "YourReference", "ZipCode",
})
CUSTOMER_READ_ONLY = frozenset({"@url"})
ARTICLE_WRITABLE = frozenset({
    "Active", "ArticleNumber", "Bulky", "ConstructionAccount", "CostCalculationMethod", "DefaultStockLocation",
    "DefaultStockPoint", "Depth", "Description", "DirectCost", "EAN", "EUAccount", "EUVATAccount", "Expired",
    "ExportAccount", "FreightCost", "Height", "Housework", "HouseworkType", "Manufacturer",
    "ManufacturerArticleNumber", "Note", "OtherCost", "PurchaseAccount", "PurchasePrice", "QuantityInStock",
    "ReservedQuantity", "SalesAccount", "SalesPrice", "StockAccount", "StockChangeAccount", "StockGoods",
    "StockPlace", "StockValue", "StockWarning", "SupplierName", "SupplierNumber", "Type", "Unit", "VAT",
    "WebshopArticle", "Weight", "Width",
})
# The spec lists DisposableQuantity as writable, but it is derived (in stock − reserved); writes are ignored.
ARTICLE_READ_ONLY = frozenset({"@url", "CommodityCode", "DisposableQuantity"})

BOOLEAN_FIELDS = frozenset({"Active", "Bulky", "EUQuarterlyReport", "Expired", "Housework", "HouseWork",
                            "NotCompleted", "ShowPriceVATIncluded", "StockGoods", "VATIncluded", "WebshopArticle"})
# List items give these article fields as strings (a documented quirk of the list schema).
ARTICLE_LIST_TEXT_FIELDS = ("DisposableQuantity", "PurchasePrice", "ReservedQuantity", "SalesPrice", "StockValue",
                            "VAT")

CUSTOMER_SEARCH = {"customernumber": "CustomerNumber", "name": "Name", "email": "Email",
                   "organisationnumber": "OrganisationNumber", "zipcode": "ZipCode", "city": "City",
                   "phone": "Phone1", "gln": "GLN", "glndelivery": "GLNDelivery"}
ARTICLE_SEARCH = {"articlenumber": "ArticleNumber", "description": "Description", "ean": "EAN",
                  "suppliernumber": "SupplierNumber", "manufacturer": "Manufacturer",
                  "manufacturerarticlenumber": "ManufacturerArticleNumber"}
INVOICE_SEARCH = {"customernumber": "CustomerNumber", "customername": "CustomerName",
                  "documentnumber": "DocumentNumber", "ocr": "OCR", "yourreference": "YourReference",
                  "ourreference": "OurReference", "yourordernumber": "YourOrderNumber",
                  "externalinvoicereference1": "ExternalInvoiceReference1",
                  "externalinvoicereference2": "ExternalInvoiceReference2", "currency": "Currency",
                  "costcenter": "CostCenter", "project": "Project"}
CUSTOMER_SORT = {"customernumber": "CustomerNumber", "name": "Name"}
ARTICLE_SORT = {"articlenumber": "ArticleNumber", "quantityinstock": "QuantityInStock",
                "reservedquantity": "ReservedQuantity", "stockvalue": "StockValue"}
INVOICE_SORT = {"customername": "CustomerName", "customernumber": "CustomerNumber",
                "documentnumber": "DocumentNumber", "invoicedate": "InvoiceDate", "ocr": "OCR", "total": "Total"}

SCOPE_OF_RESOURCE = {"customers": "customer", "articles": "article", "invoices": "invoice",
                     "companyinformation": "companyinformation", "settings": "settings"}

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
CURRENCY_RATES: dict[str, Decimal] = {"SEK": Decimal("1"), "EUR": Decimal("11.45"), "NOK": Decimal("0.98"),
                                      "DKK": Decimal("1.54"), "USD": Decimal("10.52")}


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
        raise ApiError(400, f"Värdet måste vara numeriskt ({value}){' i ' + field_name if field_name else ''}",
                       Code.NOT_NUMERIC) from None
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


def luhn_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit Swedish OCR numbers end with."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char) * (2 if index % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


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

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tenant_id: int = 123456,
                 company_name: str = "Demo Shop AB", organisation_number: str = "559000-1234") -> None:
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
        self.fail_after_create = 0  # next N invoice POSTs create the invoice, then answer 503
        # Seconds the answer to a successful invoice POST is held back after the invoice
        # exists: a window in which a test can kill the client between "created" and "saved".
        self.hold_after_create = 0.0
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

    def _init_data(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.articles: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.modified_at: dict[tuple[str, str], datetime] = {}  # (resource, number) → local time of last change
        self.reserved_customer_numbers: set[str] = set()  # deleted numbers stay taken
        self.lost_responses = 0  # invoice POSTs answered 503 by fail_after_create
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

    def issue_tokens(self, client_id: str = DEFAULT_CLIENT_ID, *, tenant_id: int | None = None,
                     scope: str = DEFAULT_SCOPE, refresh: bool = True) -> dict[str, Any]:
        """Issue a token pair directly (seeding a connector without the consent flow)."""
        with self.lock:
            return self._issue(client_id, self.tenant_id if tenant_id is None else tenant_id, scope,
                               grant_type="seed", with_refresh=refresh)

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

    def add_article(self, article_number: str, description: str, *, sales_price: Any = 0, vat: int = 25,
                    quantity_in_stock: Any = 0, **fields: Any) -> dict[str, Any]:
        """Create an article as POST /3/articles would; returns the stored record."""
        with self.lock:
            return self._create_article({"ArticleNumber": article_number, "Description": description,
                                         "SalesPrice": sales_price, "VAT": vat,
                                         "QuantityInStock": quantity_in_stock, **fields})

    def seed_articles(self, articles: Iterable[dict[str, Any]]) -> None:
        """Create (or update) articles given with Fortnox field names."""
        with self.lock:
            for article in articles:
                number_ = str(article.get("ArticleNumber", ""))
                if number_ in self.articles:
                    self._update_article(self.articles[number_], article)
                else:
                    self._create_article(dict(article))

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
            return [c for c in self.requests_seen
                    if (method is None or c[1] == method.upper()) and c[2].startswith(path_prefix)]

    def state_summary(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().state_summary(),
                "customers": len(self.customers),
                "articles": len(self.articles),
                "invoices": len(self.invoices),
                "booked_invoices": sum(1 for i in self.invoices.values() if i["Booked"]),
                "tokens_issued": len(self.issued_tokens),
                "refreshes": sum(self.refresh_token_uses.values()),
                "rate_limited": self.rate_limited,
                "lost_responses": self.lost_responses,
                "fail_after_create": self.fail_after_create,
            }

    # -- base class hooks ------------------------------------------------------------------
    def error_response(self, status: int, message: str, code: int | None = None) -> Response:
        """Fortnox's ErrorInformation body; lowercase keys as the docs show, capitalised on request."""
        if code is None:
            code = {401: Code.INVALID_LOGIN, 403: Code.NO_SCOPE_ACCESS, 404: Code.NOT_FOUND, 405: Code.NOT_FOUND,
                    429: Code.RATE_LIMITED}.get(
                status, Code.SYSTEM_EXCEPTION if status >= 500 else Code.INVALID_PARAMETER)
        keys = ("Error", "Message", "Code") if self.capitalised_errors else ("error", "message", "code")
        return Response(status=status, body={"ErrorInformation": dict(zip(keys, (1, message, code)))})

    def before_request(self, request: Request) -> Response | None:
        """Bearer auth, lowercase query names, the per-token rate limit and scopes on /3/."""
        if not (request.path == "/3" or request.path.startswith("/3/")):
            return None
        header = request.header("authorization")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return self.error_response(401, "Kan inte logga in, access-token eller client-secret saknas (2).",
                                       Code.LOGIN_MISSING)
        token = header[7:].strip()
        with self.lock:
            grant = self.access_tokens.get(token)
        if grant is None or grant.expires_at <= time.time():
            return self.error_response(401, "Ogiltig inloggning", Code.INVALID_LOGIN)
        wait = self.limiter.hit(token)
        if wait is not None:
            response = self.error_response(429, "Too Many Requests", Code.RATE_LIMITED)
            if self.retry_after_header:
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
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
        self.route("POST", r"/oauth-v1/token", api(self._token))
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
        self.route("POST", r"/3/invoices", self._held(api(self._post_invoice)))
        self.route("GET", r"/3/invoices/(?P<number>[^/]+)", api(self._get_invoice))
        self.route("PUT", r"/3/invoices/(?P<number>[^/]+)", api(self._put_invoice))
        self.route("PUT", r"/3/invoices/(?P<number>[^/]+)/(?P<action>bookkeep|cancel|credit|externalprint)",
                   api(self._invoice_action))
        # Control API additions for standalone runs.
        self.route("POST", r"/_sim/reset", api(self._control_reset))
        self.route("POST", r"/_sim/settings", api(self._control_settings))
        self.route("POST", r"/_sim/expire-tokens", api(self._control_expire_tokens))
        self.route("POST", r"/_sim/articles", api(self._control_articles))

    def _held(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Delay successful answers by `hold_after_create` seconds, outside the state lock."""
        def wrapped(request: Request) -> Response:
            response = handler(request)
            if response.status < 300 and self.hold_after_create:
                time.sleep(self.hold_after_create)
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
            client_id=client_id, redirect_uri=query.get("redirect_uri"), scope=query["scope"],
            tenant_id=self.tenant_id, expires_at=time.time() + AUTH_CODE_SECONDS,
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
                return self._oauth_error(400, "invalid_grant",
                                         "The redirect_uri does not match the authorization request.")
            code.used = True
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
            scope = form.get("scope") or DEFAULT_SCOPE
            return Response(body=self._issue(client_id, self.tenant_id, scope, grant_type=grant_type,
                                             with_refresh=False))
        return self._oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")

    def _client_from_basic(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return client_id if self.clients.get(client_id) == secret and secret else None

    def _issue(self, client_id: str, tenant_id: int, scope: str, *, grant_type: str,
               with_refresh: bool = True) -> dict[str, Any]:
        now = time.time()
        access = self._jwt({"iss": "fortnox-simulator", "sub": client_id, "clientId": client_id,
                            "tenantId": tenant_id, "scope": scope.split(), "iat": int(now),
                            "exp": int(now) + ACCESS_TOKEN_SECONDS, "jti": secrets.token_hex(8)})
        self.access_tokens[access] = AccessGrant(client_id, tenant_id, frozenset(scope.split()),
                                                 now + ACCESS_TOKEN_SECONDS)
        body: dict[str, Any] = {"access_token": access}
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = RefreshGrant(client_id, tenant_id, scope, now + REFRESH_TOKEN_SECONDS)
            body["refresh_token"] = refresh
        body.update({"scope": scope, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "bearer"})
        self.issued_tokens.append({"grant_type": grant_type, "client_id": client_id, "tenant_id": tenant_id,
                                   "issued_at": now, **body})
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
    def _payload(request: Request, wrapper: str, writable: frozenset[str],
                 read_only: frozenset[str]) -> dict[str, Any]:
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

    def _list(self, request: Request, resource: str, records: list[dict[str, Any]], *,
              search: dict[str, str], sort: dict[str, str], key_field: str) -> tuple[list[dict[str, Any]], dict]:
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
        meta = {"@TotalResources": len(records), "@TotalPages": math.ceil(max(len(records) - offset, 0) / limit),
                "@CurrentPage": page}
        return records[start:start + limit], meta

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
        return Response(body={"CompanyInformation": {
            "Address": "Storgatan 1", "City": "Stockholm", "CompanyName": self.company_name, "CountryCode": "SE",
            "DatabaseNumber": self.tenant_id, "OrganizationNumber": self.organisation_number,
            "VisitAddress": "Storgatan 1", "VisitCity": "Stockholm", "VisitCountryCode": "SE",
            "VisitZipCode": "111 22", "ZipCode": "111 22",
        }})

    def _company_settings(self, request: Request) -> Response:
        return Response(body={"CompanySettings": {
            "Address": "Storgatan 1", "BG": "123-4567", "BIC": "ESSESESS", "BranchCode": "", "City": "Stockholm",
            "ContactFirstName": "Anna", "ContactLastName": "Berg", "Country": "Sverige", "CountryCode": "SE",
            "DatabaseNumber": str(self.tenant_id), "Domicile": "Stockholm", "Email": "ekonomi@example.se",
            "Fax": "", "IBAN": "SE4550000000058398257466", "Name": self.company_name,
            "OrganizationNumber": self.organisation_number, "PG": "", "Phone1": "08-123 456 00", "Phone2": "",
            "TaxEnabled": True, "VATNumber": "SE" + self.organisation_number.replace("-", "") + "01",
            "VisitAddress": "Storgatan 1", "VisitCity": "Stockholm", "VisitCountry": "Sverige",
            "VisitCountryCode": "SE", "VisitName": self.company_name, "VisitZipCode": "111 22",
            "WWW": "https://www.example.se", "ZipCode": "111 22",
        }})

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
        page, meta = self._list(request, "customers", records, search=CUSTOMER_SEARCH, sort=CUSTOMER_SORT,
                                key_field="CustomerNumber")
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
                raise ApiError(400, f"Kundnummer {number_} används redan. Kundnumret har redan använts men "
                                    "blivit raderat.", Code.CUSTOMER_NUMBER_USED)
        else:
            number_ = self._next_number(set(self.customers) | self.reserved_customer_numbers)
        self._check_currency(data.get("Currency"))
        customer: dict[str, Any] = {
            "Active": True, "Address1": "", "Address2": "",
            "City": "", "Comments": "", "CostCenter": "", "Country": "Sverige", "CountryCode": "SE",
            "Currency": "SEK", "CustomerNumber": number_, "DeliveryAddress1": "", "DeliveryAddress2": "",
            "DeliveryCity": "", "DeliveryCountry": "", "DeliveryCountryCode": "", "DeliveryName": "",
            "DeliveryZipCode": "", "Email": "", "EmailInvoice": "", "ExternalReference": "", "Name": "",
            "OrganisationNumber": "", "OurReference": "", "Phone1": "", "Phone2": "", "PriceList": "A",
            "Project": "", "SalesAccount": None, "ShowPriceVATIncluded": False, "TermsOfDelivery": "",
            "TermsOfPayment": "30", "Type": "PRIVATE", "VATNumber": "", "VATType": "SEVAT", "WayOfDelivery": "",
            "YourReference": "", "ZipCode": "",
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
    def _article_or_404(self, number_: str) -> dict[str, Any]:
        article = self.articles.get(number_)
        if article is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return article

    def _list_articles(self, request: Request) -> Response:
        records = list(self.articles.values())
        state = request.query.get("filter", "")
        if state:
            if state not in ("active", "inactive"):
                raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
            records = [a for a in records if a["Active"] == (state == "active")]
        if request.query.get("webshop"):
            wanted = request.query["webshop"].lower() == "true"
            records = [a for a in records if a["WebshopArticle"] == wanted]
        page, meta = self._list(request, "articles", records, search=ARTICLE_SEARCH, sort=ARTICLE_SORT,
                                key_field="ArticleNumber")
        items = []
        for article in page:
            item = self._article_body(article)
            for name in ARTICLE_LIST_TEXT_FIELDS:
                item[name] = as_text(item.get(name))
            items.append(item)
        return Response(body={"Articles": items, "MetaInformation": meta})

    def _post_article(self, request: Request) -> Response:
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        return Response(status=201, body={"Article": self._article_body(self._create_article(data))})

    def _get_article(self, request: Request) -> Response:
        return Response(body={"Article": self._article_body(self._article_or_404(request.params["number"]))})

    def _put_article(self, request: Request) -> Response:
        article = self._article_or_404(request.params["number"])
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        self._update_article(article, data)
        return Response(body={"Article": self._article_body(article)})

    def _create_article(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        number_ = str(data.get("ArticleNumber") or "").strip()
        if number_ in self.articles:
            raise ApiError(400, f"Artikelnummer {number_} används redan.", Code.NUMBER_USED)
        if not str(data.get("Description") or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        number_ = number_ or self._next_number(self.articles)
        article: dict[str, Any] = {
            "Active": True, "ArticleNumber": number_, "Bulky": False,
            "Description": "", "DisposableQuantity": 0, "EAN": "", "Expired": False, "Housework": False,
            "Manufacturer": "", "ManufacturerArticleNumber": "", "Note": "", "PurchasePrice": 0,
            "QuantityInStock": 0, "ReservedQuantity": 0, "SalesAccount": None, "SalesPrice": 0, "StockGoods": False,
            "StockPlace": "", "StockValue": 0, "StockWarning": 0, "SupplierName": "", "SupplierNumber": "",
            "Type": "STOCK", "Unit": "st", "VAT": 25, "WebshopArticle": False, "Weight": 0,
        }
        self._update_article(article, {k: v for k, v in data.items() if k != "ArticleNumber"})
        self.articles[number_] = article
        return article

    def _update_article(self, article: dict[str, Any], data: dict[str, Any]) -> None:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        if "ArticleNumber" in data and str(data.pop("ArticleNumber")) != article["ArticleNumber"]:
            raise ApiError(400, "Artikelnumret kan inte ändras.", Code.INVALID_VALUE)
        if "Description" in data and not str(data["Description"] or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        if "VAT" in data:
            data["VAT"] = self._check_vat(data["VAT"])
        for name in ("SalesAccount", "PurchaseAccount", "EUAccount", "EUVATAccount", "ExportAccount"):
            if name in data:
                data[name] = self._check_account(data[name])
        for name in ("SalesPrice", "PurchasePrice", "QuantityInStock", "ReservedQuantity", "StockValue",
                     "StockWarning"):
            if name in data:
                data[name] = number(to_decimal(data[name], name))
        if "Type" in data and data["Type"] not in ("STOCK", "SERVICE"):
            raise ApiError(400, f"Ogiltig artikeltyp ({data['Type']})", Code.INVALID_VALUE)
        article.update(data)
        article["DisposableQuantity"] = number(to_decimal(article["QuantityInStock"])
                                               - to_decimal(article["ReservedQuantity"]))
        self._touch("articles", article["ArticleNumber"])

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
        page, meta = self._list(request, "invoices", records, search=INVOICE_SEARCH, sort=INVOICE_SORT,
                                key_field="DocumentNumber")
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
            invoice.update({"Booked": True, "VoucherSeries": "B", "VoucherNumber": self._voucher_number,
                            "VoucherYear": int(invoice["InvoiceDate"][:4])})
        elif action == "cancel":
            if invoice["Booked"]:
                raise ApiError(400, "En bokförd faktura kan inte makuleras; kreditera den i stället.",
                               Code.ACTION_NOT_ALLOWED)
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
        body = {"@url": self._url(f"/3/invoices/{number_}"),
                "@urlTaxReductionList": self._url(f"/3/taxreductions?filter=invoices&referencenumber={number_}"),
                **{k: v for k, v in invoice.items() if k != "InvoiceRows"}}
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
            "AccountingMethod": "ACCRUAL", "Address1": "", "Address2": "", "AdministrationFee": 0,
            "AdministrationFeeVAT": 0, "Balance": 0, "BasisTaxReduction": 0, "Booked": False, "Cancelled": False,
            "City": "", "Comments": "", "ContractReference": 0, "CostCenter": "", "Country": "",
            # Unset references read "0" on real documents, so a truthiness check is not enough.
            "Credit": "false", "CreditInvoiceReference": "0", "Currency": "", "CurrencyRate": 1, "CurrencyUnit": 1,
            "CustomerName": "", "CustomerNumber": "", "DeliveryAddress1": "", "DeliveryAddress2": "",
            "DeliveryCity": "", "DeliveryCountry": "", "DeliveryDate": None, "DeliveryName": "",
            "DeliveryZipCode": "", "DocumentNumber": number_, "DueDate": "", "EUQuarterlyReport": False,
            "ExternalInvoiceReference1": "", "ExternalInvoiceReference2": "", "FinalPayDate": None, "Freight": 0,
            "FreightVAT": 0, "Gross": 0, "HouseWork": False, "InvoiceDate": today, "InvoiceReference": "0",
            "InvoiceRows": [], "InvoiceType": "INVOICE", "Labels": [], "Language": "SV", "LastRemindDate": None,
            "Net": 0, "NotCompleted": False, "NoxFinans": False, "OCR": number_ + luhn_digit(number_)
            if number_.isdigit() else "", "OfferReference": "0", "OrderReference": "0", "OrganisationNumber": "",
            "OurReference": "", "OutboundDate": None, "PaymentWay": "", "Phone1": "", "Phone2": "",
            "PriceList": "A", "PrintTemplate": "", "Project": "", "Remarks": "", "Reminders": 0, "RoundOff": 0,
            "Sent": False, "TaxReduction": None, "TaxReductionType": "none", "TermsOfDelivery": "",
            "TermsOfPayment": "", "Total": 0, "TotalToPay": 0, "TotalVAT": 0, "VATIncluded": False,
            "VoucherNumber": None, "VoucherSeries": None, "VoucherYear": None, "WarehouseReady": False,
            "WayOfDelivery": "", "YourOrderNumber": "", "YourReference": "", "ZipCode": "",
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
            invoice.update({
                "CustomerNumber": customer_number, "CustomerName": customer["Name"],
                "Address1": customer["Address1"], "Address2": customer["Address2"], "City": customer["City"],
                "ZipCode": customer["ZipCode"], "Country": customer["Country"], "Phone1": customer["Phone1"],
                "Phone2": customer["Phone2"], "OrganisationNumber": customer["OrganisationNumber"],
                "DeliveryName": customer["DeliveryName"], "DeliveryAddress1": customer["DeliveryAddress1"],
                "DeliveryAddress2": customer["DeliveryAddress2"], "DeliveryCity": customer["DeliveryCity"],
                "DeliveryZipCode": customer["DeliveryZipCode"], "DeliveryCountry": customer["DeliveryCountry"],
                "YourReference": customer["YourReference"], "OurReference": customer["OurReference"],
                "TermsOfPayment": customer["TermsOfPayment"], "WayOfDelivery": customer["WayOfDelivery"],
                "TermsOfDelivery": customer["TermsOfDelivery"],
            })
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
                "INVOICE", "AGREEMENTINVOICE", "INTRESTINVOICE", "SUMMARYINVOICE", "CASHINVOICE"):
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
            invoice["InvoiceRows"] = [self._build_row(raw, index, invoice["VATIncluded"])
                                      for index, raw in enumerate(rows, start=1)]

    def _build_row(self, raw: Any, index: int, vat_included: bool) -> dict[str, Any]:
        """One invoice row: article defaults, VAT and account checks."""
        if not isinstance(raw, dict):
            raise ApiError(400, "Ingen eller felaktig typ av data. (InvoiceRows)", Code.EMPTY_BODY)
        data = self._fields(dict(raw), INVOICE_ROW_WRITABLE, INVOICE_ROW_READ_ONLY)
        article_number = str(data.get("ArticleNumber") or "").strip()
        article = None
        if article_number:
            article = self.articles.get(article_number)
            if article is None:
                raise ApiError(400, "Kunde inte hitta artikel", Code.ARTICLE_NOT_FOUND_ON_ROW)
        vat = self._check_vat(data["VAT"] if data.get("VAT") is not None else (article or {}).get("VAT", 25))
        account = self._check_account(data.get("AccountNumber")) or (article or {}).get("SalesAccount") \
            or SALES_ACCOUNT_BY_VAT.get(vat, 3001)
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
            "AccountNumber": account, "ArticleNumber": article_number, "CostCenter": data.get("CostCenter") or "",
            "DeliveredQuantity": quantity_text(quantity),
            "Description": data.get("Description") or (article["Description"] if article else ""),
            "Discount": number(to_decimal(data.get("Discount"), "Discount")), "DiscountType": discount_type,
            "HouseWork": bool(data.get("HouseWork", False)), "Price": number(price), "PriceExcludingVAT": 0,
            "Project": data.get("Project") or "", "RowId": index, "StockPointCode": data.get("StockPointCode"),
            "Total": 0, "TotalExcludingVAT": 0, "Unit": data.get("Unit") or (article["Unit"] if article else ""),
            "VAT": vat, "VATCode": data.get("VATCode"),
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
            row.update({"Total": number(total), "TotalExcludingVAT": number(excluding),
                        "PriceExcludingVAT": number(price_excluding)})
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
        invoice.update({"Net": number(net), "Gross": number(gross), "TotalVAT": number(total_vat),
                        "RoundOff": number(rounded - exact), "Total": number(rounded),
                        "TotalToPay": number(rounded), "Balance": number(rounded - paid)})

    def _create_credit(self, original: dict[str, Any]) -> dict[str, Any]:
        """The credit note for `original`: same rows with negated quantities, linked both ways."""
        number_ = self._next_number(self.invoices)
        credit = json.loads(json.dumps(original))
        for row in credit["InvoiceRows"]:
            row["DeliveredQuantity"] = quantity_text(-to_decimal(row["DeliveredQuantity"]))
        for name in ("Freight", "AdministrationFee"):
            credit[name] = number(-to_decimal(credit[name]))
        credit.update({
            "DocumentNumber": number_, "OCR": number_ + luhn_digit(number_), "Booked": False, "Cancelled": False,
            "Sent": False, "Credit": "true", "CreditInvoiceReference": original["DocumentNumber"],
            "InvoiceDate": self.clock().date().isoformat(), "FinalPayDate": None, "VoucherNumber": None,
            "VoucherSeries": None, "VoucherYear": None, "Total": 0, "Balance": 0,
        })
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
        enforce_scopes, fail_after_create, rate_limit (bool)."""
        body = self._control_body(request)
        for name in ("capitalised_errors", "round_off_to_whole", "retry_after_header", "enforce_scopes"):
            if name in body:
                setattr(self, name, bool(body[name]))
        if "fail_after_create" in body:
            self.fail_after_create = int(body["fail_after_create"])
        if "rate_limit" in body:
            self.limiter.enabled = bool(body["rate_limit"])
        return Response(body={
            "capitalised_errors": self.capitalised_errors, "round_off_to_whole": self.round_off_to_whole,
            "retry_after_header": self.retry_after_header, "enforce_scopes": self.enforce_scopes,
            "fail_after_create": self.fail_after_create, "rate_limit": self.limiter.enabled,
        })

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
        return Response(body={"articles": len(self.articles)})

    # -- demo data ------------------------------------------------------------------------------------
    def seed_demo(self) -> None:
        """A small Swedish webshop: ~40 articles at 25/12/6 % VAT, a freight article and two customers."""
        with self.lock:
            self.seed_articles(demo_articles())
            if "1" not in self.customers:
                self._create_customer({"CustomerNumber": "1", "Name": "Anna Svensson", "Email": "anna@example.se",
                                       "Address1": "Vasagatan 12", "ZipCode": "411 24", "City": "Göteborg",
                                       "Type": "PRIVATE"})
            if "2" not in self.customers:
                self._create_customer({"CustomerNumber": "2", "Name": "Norrlands Kontor AB",
                                       "OrganisationNumber": "556123-4567", "Email": "faktura@norrlandskontor.se",
                                       "Address1": "Storgatan 5", "ZipCode": "903 26", "City": "Umeå",
                                       "Type": "COMPANY"})




def demo_articles() -> list[dict[str, Any]]:
    """The webshop's demo catalogue as Fortnox article objects (SalesPrice excluding VAT).

    The same catalogue the Norce simulator sells from, so demo orders name articles
    that exist here (the ERP is the system of record for articles).
    """
    from connectors.norce.orders_generator import DEMO_CATALOGUE

    articles: list[dict[str, Any]] = []
    for index, item in enumerate(DEMO_CATALOGUE):
        number_, description = item["part_no"], item["name"]
        gross, vat = Decimal(item["price_incl_vat"]), int(item["vat_rate"])
        service = number_.startswith(("SV-", "GC-")) or "nedladdning" in description
        ean_body = f"73{index + 100000:010d}"
        articles.append({
            "ArticleNumber": number_, "Description": description,
            "SalesPrice": float(round_ore(gross * HUNDRED / (HUNDRED + vat))), "VAT": vat,
            "Type": "SERVICE" if service else "STOCK", "StockGoods": not service,
            "QuantityInStock": 50 + (index * 7) % 150, "WebshopArticle": True, "Unit": "st",
            "EAN": "" if service else ean_body + _ean_check_digit(ean_body),
            "SalesAccount": SALES_ACCOUNT_BY_VAT[vat],
        })
    articles.append({"ArticleNumber": "FRAKT", "Description": "Frakt", "SalesPrice": 39.2, "VAT": 25,
                     "Type": "SERVICE", "StockGoods": False, "WebshopArticle": False, "Unit": "st",
                     "SalesAccount": 3520})
    return articles


def _ean_check_digit(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


# -- running standalone ---------------------------------------------------------------------------

def run(host: str = "127.0.0.1", port: int = 8702, *, seed: bool = True) -> None:
    """Serve until interrupted (Ctrl-C), seeded with the demo catalogue unless `seed` is False."""
    simulator = FortnoxSimulator(host, port)
    if seed:
        simulator.seed_demo()
    url = simulator.start()
    print(f"Fortnox simulator on {url}  (OAuth and API; client {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET}, "
          f"tenant {simulator.tenant_id})", flush=True)
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
