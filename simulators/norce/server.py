"""A Norce Commerce simulator: the parts of Norce a webshop ↔ ERP integration talks to.

Served over real HTTP on the real paths (see ``simulators/base.py`` for the
server, faults and the ``/_sim/`` control API):

    POST /identity/1.0/connect/token                  OAuth2 client credentials
    GET  /commerce/query/2.0/Orders/Orders            Query 2.0 (OData) order polling
    POST /commerce/connect/4.0/Order/SendOrderStatus  Connect 4.0 Order service
    POST /commerce/connect/4.0/Order/CreateDeliveryNote
    POST /commerce/connect/4.0/Order/CreateInvoice
    POST /commerce/connect/4.0/Order/CancelOrder

plus the Connect 4.0 imports (Product/Customer Import* methods, the Job service and
Query 2.0 Products/ProductSkus; see ``simulators/norce/connect.py``, whose
state is ``sim.connect``) and, in the other direction, it PUSHES each placed order as an OrderRequest to the
configured order receiver (HTTP Basic auth, retried until it answers
``{"StatusCode": "OK"}``) and posts an ``OrderReceivedEvent`` webhook.

Orders have one internal model — the dict ``generate_order()`` builds, in
OrderRequest vocabulary — plus the simulator's bookkeeping keys ``Id``,
``ClientId``, ``ApplicationId``, ``OrderNo``, ``ErpOrderNo``, ``StatusId``,
``Created``/``Updated`` (aware datetimes, ``Updated`` None until the order
changes) and ``Infos``; each item also gets ``Id`` and ``StatusId``. Two renderings
are made from it: `render_order_request()` (the push) and `render_query_order()`
(Query 2.0).

Extra control endpoints (besides the shared ``/_sim/faults`` and ``/_sim/state``):

    GET  /_sim/orders              the orders, as Query 2.0 renders them with every expand
    POST /_sim/orders              place an order: body = internal order, or empty to generate one
    POST /_sim/receiver            {"url", "username", "password"}
    POST /_sim/events              {"url", "headers"}
    POST /_sim/settings            {"lose_pushes", "duplicate_pushes", "lose_events", "enum_style",
                                    "key_case", "push_retry_delays", "event_retry_delays"}
    POST /_sim/trickle             {"interval_seconds", "rng_seed", "unknown_article_rate", "missing_data_rate"}
    POST /_sim/trickle/stop
    POST /_sim/reset               back to a fresh simulator
    /_sim/connect/...              Connect imports: state, settings, seed, skus, jobs (simulators/norce/connect.py)
"""

from __future__ import annotations

import copy
import json
import math
import operator
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import requests

from simulators.base import Faults, Request, Response, Simulator
from simulators.limits import SlidingWindow, TokenBucket
from simulators.norce.connect import ConnectImports
from simulators.norce.orders import DEMO_CATALOGUE, PAYMENT_METHODS, CatalogueArticle, generate_order

STOCKHOLM = ZoneInfo("Europe/Stockholm")

TOKEN_PATH = "/identity/1.0/connect/token"
QUERY_BASE = "/commerce/query/2.0"
CONNECT_BASE = "/commerce/connect/4.0"

DEFAULT_CLIENTS = {"norce-client": "norce-secret-value"}
SCOPES = {"playground", "stage", "prod", "production", "lab"}

ORDER_STATUSES: dict[str, int] = {
    "Created": 0,
    "Allocation": 1,
    "Confirmed": 2,
    "BackOrder": 3,
    "Delivered": 4,
    "Invoiced": 5,
    "Cancelled": 6,
    "CreditControl": 7,
    "PartlyDelivered": 8,
    "Acknowledged": 9,
    "ErpConfirmed": 10,
    "ReadyForPickup": 11,
    "PickedUp": 12,
    "NotPickedUp": 13,
    "OnHold": 14,
    "WaitingForCancel": 15,
    "WaitingForOnHoldRemoved": 16,
    "CancelError": 17,
    "AcknowledgementError": 18,
    "ReadyForReservation": 19,
    "Reserved": 20,
}
ORDER_STATUS_NAMES = {value: name for name, value in ORDER_STATUSES.items()}
ORDER_TYPES: dict[str, int] = {
    "Order": 1,
    "PurchaseOrder": 2,
    "RecurringOrder": 3,
    "RecurringOrderTemplate": 4,
    "ExternalOrder": 5,
}
# OrderItem.Type is a string in the contracts, so its integers are our choice: the
# SkuType numbers where the names match (ErpStandard 1, Freight 3, ...).
ITEM_TYPES: dict[str, int] = {
    "Undefined": 0,
    "ErpStandard": 1,
    "Refurbished": 2,
    "Freight": 3,
    "Insurance": 4,
    "GiftCertificate": 5,
    "Bid": 6,
    "Download": 7,
    "Structure": 8,
    "Invoice": 9,
}
# No integers are published for TypeGroup either; these follow the documented order.
ITEM_TYPE_GROUPS: dict[str, int] = {"Undefined": 0, "Physical": 1, "Virtual": 2, "Fee": 3, "Service": 4, "AddedFee": 5}

# Query 2.0 answers with lookup ids (Core/Currencies, Core/Countries); the ids are tenant
# specific, these are our simulated tenant's.
CURRENCY_IDS = {"SEK": 1, "NOK": 2, "DKK": 3, "EUR": 4}
COUNTRY_IDS = {"SE": 1, "NO": 2, "DK": 3, "FI": 4}

QUERY_PAGE_SIZE = 500

# Norce retries a failed push "for a limited time"; the schedule is not documented.
# This is a plausible one: about four minutes in all.
DEFAULT_PUSH_RETRY_DELAYS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120)
# The documented webhook schedule (5 s … 6 h, about 22 h in all) ...
DOCUMENTED_EVENT_RETRY_DELAYS: tuple[float, ...] = (
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    18000,
    21600,
)
# ... and the compressed one the simulator uses unless told otherwise.
DEFAULT_EVENT_RETRY_DELAYS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30)


# -- small helpers ---------------------------------------------------------------------


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision Query 2.0 renders."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """An OData datetime literal; without an offset it is read as UTC."""
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?", text)
    if not match:
        raise FilterError(f"invalid datetime literal {text!r}")
    base, fraction, offset = match.groups()
    normalised = base + (f".{(fraction or '')[:6].ljust(6, '0')}" if fraction else "")
    normalised += "+00:00" if offset in (None, "Z") else offset
    try:
        return datetime.fromisoformat(normalised).astimezone(UTC)
    except ValueError as exc:
        raise FilterError(f"invalid datetime literal {text!r}: {exc}") from None


def ci_get(data: dict[str, Any], name: str, default: Any = None) -> Any:
    """A JSON property by name, case-insensitively (as ASP.NET's model binding reads bodies)."""
    wanted = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return default


def camel_case(name: str) -> str:
    """PascalCase → camelCase the .NET way: "ClientOrderRef" → "clientOrderRef", "SSN" → "ssn"."""
    chars = list(name)
    for index, char in enumerate(chars):
        if not char.isupper():
            break
        if index > 0 and index + 1 < len(chars) and chars[index + 1].islower():
            break
        chars[index] = char.lower()
    return "".join(chars)


def camel_case_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel_case(k) if isinstance(k, str) else k: camel_case_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_case_keys(v) for v in value]
    return value


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


# -- OData $filter (the subset an order poller needs) -----------------------------------


class FilterError(ValueError):
    """A query option the simulator cannot parse: answered with 400, as OData does."""


Row = dict[str, Any]
Predicate = Callable[[Row], bool]

# Filterable order properties and the literal type each one takes.
FILTER_FIELDS: dict[str, str] = {
    "Id": "int",
    "ClientId": "int",
    "ApplicationId": "int",
    "StatusId": "int",
    "QuotationId": "int",
    "OrderNo": "string",
    "ClientOrderRef": "string",
    "OrderDate": "datetime",
    "Created": "datetime",
    "Updated": "datetime",
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_FILTER_TOKEN = re.compile(
    r"""\s*(?:
    (?P<paren>[()])
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_]\w*)
)""",
    re.VERBOSE,
)


def parse_filter(text: str) -> Predicate:
    """Compile an OData ``$filter`` into a predicate over a row of order properties.

    Grammar: ``expr := and_expr ('or' and_expr)*``, ``and_expr := primary ('and'
    primary)*``, ``primary := '(' expr ')' | Property op literal`` with ``op`` one of
    eq ne gt ge lt le and literals null, integers, 'strings' ('' escapes a quote) and
    unquoted datetimes. Keywords are lower-case, as in OData. Anything else raises
    FilterError. Comparisons with null follow OData: only eq/ne can be true.
    """
    return _FilterParser(text).parse()


class _FilterParser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while text[position:].strip():
            match = _FILTER_TOKEN.match(text, position)
            if not match or match.lastgroup is None:
                raise FilterError(f"$filter: cannot parse {text[position:].strip()[:30]!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.position = 0

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterError("$filter is empty")
        predicate = self._or()
        if self.position < len(self.tokens):
            raise FilterError(f"$filter: unexpected {self.tokens[self.position][1]!r}")
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self, expected: str) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError(f"$filter ends where {expected} was expected")
        self.position += 1
        return token

    def _accept(self, kind: str, value: str) -> bool:
        if self._peek() == (kind, value):
            self.position += 1
            return True
        return False

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._accept("word", "or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._primary()]
        while self._accept("word", "and"):
            parts.append(self._primary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def _primary(self) -> Predicate:
        if self._accept("paren", "("):
            inner = self._or()
            if not self._accept("paren", ")"):
                raise FilterError("$filter: missing ')'")
            return inner
        kind, name = self._next("a property")
        if kind != "word" or name not in FILTER_FIELDS:
            raise FilterError(f"$filter: unknown or unsupported property {name!r}")
        kind, op = self._next("an operator")
        if kind != "word" or op not in _COMPARE:
            raise FilterError(f"$filter: unsupported operator {op!r} after {name}")
        literal = self._literal(name)
        compare = _COMPARE[op]

        def predicate(row: Row) -> bool:
            value = row.get(name)
            if value is None or literal is None:
                return (value is None and literal is None) == (op == "eq") if op in ("eq", "ne") else False
            return compare(value, literal)

        return predicate

    def _literal(self, name: str) -> Any:
        kind, text = self._next("a literal")
        if (kind, text) == ("word", "null"):
            return None
        expected = FILTER_FIELDS[name]
        if expected == "datetime" and kind == "datetime":
            return parse_datetime(text)
        if expected == "int" and kind == "number" and "." not in text:
            return int(text)
        if expected == "string" and kind == "string":
            return text[1:-1].replace("''", "'")
        raise FilterError(f"$filter: {name} is compared with a {expected}, not {text!r}")


def parse_orderby(text: str) -> list[tuple[str, bool]]:
    """``$orderby`` → [(property, descending)]."""
    keys = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or len(words) > 2
            or words[0] not in FILTER_FIELDS
            or (len(words) == 2 and words[1] not in ("asc", "desc"))
        ):
            raise FilterError(f"$orderby: cannot parse {part.strip()!r}")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return keys


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise FilterError("unbalanced parentheses")
        current += char
    if depth:
        raise FilterError("unbalanced parentheses")
    parts.append(current.strip())
    return parts


# -- the simulator -----------------------------------------------------------------------


class NorceSimulator(Simulator):
    """Norce Commerce: OAuth, Query 2.0 orders, Connect 4.0 Order service, order push and events."""

    name = "norce"

    # Query 2.0 order properties, in rendering order (the selectable ones).
    QUERY_ORDER_PROPERTIES = (
        "Id",
        "ClientId",
        "ApplicationId",
        "OrderNo",
        "ClientOrderRef",
        "QuotationId",
        "OrderDate",
        "Created",
        "Updated",
        "StatusId",
        "OrderTypeId",
        "CurrencyId",
        "CurrencyCode",
        "FreightCost",
        "OrderFee",
        "CashDiscount",
        "LineDiscount",
        "PaymentMethodId",
        "PaymentMethodCode",
        "DeliveryMode",
        "DeliveryCountryId",
        "DeliveryZipCode",
        "Source",
        "CustomerOrderReference",
        "BuyerCustomerId",
        "BuyerCompanyId",
        "BuyerCompanyCode",
        "IsForgotten",
    )
    QUERY_ITEM_PROPERTIES = (
        "Id",
        "OrderId",
        "LineNumber",
        "ParentLineNumber",
        "StatusId",
        "PartNo",
        "ProductName",
        "QtyOrdered",
        "CurrencyId",
        "VatRate",
        "PriceSale",
        "PriceStandard",
        "DiscountAmount",
        "DiscountPercentage",
        "LineAmount",
        "DeliveryMode",
        "SkuTypeId",
        "Type",
        "Created",
    )
    QUERY_ADDRESS_PROPERTIES = (
        "Id",
        "TypeId",
        "Name",
        "Attention",
        "CareOf",
        "Line1",
        "Line2",
        "ZipCode",
        "City",
        "Region",
        "CountryId",
        "Country",
        "EmailAddress",
        "PhoneNumber",
        "ShippingPhoneNumber",
        "CompanyCode",
        "CompanyName",
        "OrganizationNumber",
    )
    QUERY_INFO_PROPERTIES = ("Id", "OrderId", "Code", "Value")
    QUERY_EXPANDS = {
        "Items": QUERY_ITEM_PROPERTIES,
        "Buyer": QUERY_ADDRESS_PROPERTIES,
        "Payer": QUERY_ADDRESS_PROPERTIES,
        "ShipTo": QUERY_ADDRESS_PROPERTIES,
        "Infos": QUERY_INFO_PROPERTIES,
    }

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clients: dict[str, str] | None = None,
        application_id: int = 1244,
        client_id: int = 1234,
        application_key: str = "15d62d1f-3a4e-4111-845a-4db40bf08e87",
        first_order_ref: int = 700001,
        token_ttl: int = 3600,
        seed: int | None = None,
        catalogue: Sequence[CatalogueArticle] | None = None,
    ) -> None:
        self.clients = dict(DEFAULT_CLIENTS if clients is None else clients)
        self.application_id, self.client_id, self.application_key = application_id, client_id, application_key
        self.token_ttl = token_ttl
        self.catalogue: list[CatalogueArticle] = list(catalogue or DEMO_CATALOGUE)
        self.seed, self.first_order_ref = seed, first_order_ref
        self._stopping = threading.Event()
        self._deliveries: set[threading.Thread] = set()
        self._trickle: threading.Thread | None = None
        self._trickle_stop = threading.Event()
        self._current = threading.local()
        self._init_state()
        super().__init__(host, port)

    def _init_state(self) -> None:
        """Everything `reset()` puts back as it was when the simulator was made."""
        self.rng = random.Random(self.seed)  # generates orders
        self._fault_rng = random.Random(None if self.seed is None else self.seed + 1)  # draws probabilistic faults

        # Token endpoint: "3 requests/min per IP, burst +20". Read as a token bucket that
        # holds 3 + 20 = 23 requests and refills 3 a minute: after a quiet spell 23 requests
        # pass at once, then one every 20 seconds.
        self.token_limiter = TokenBucket(capacity=23, per_second=3 / 60)
        # Connect: 60 requests/minute per customer (one customer per simulator).
        self.connect_limiter = SlidingWindow(60, 60)

        self.tokens: dict[str, tuple[str, float]] = {}  # access token → (client_id, expires at)
        self.token_requests = 0  # every request to the token endpoint
        self.tokens_issued = 0

        self.orders: dict[str, dict[str, Any]] = {}  # ClientOrderRef → internal order
        self.order_statuses: list[dict[str, Any]] = []  # every SendOrderStatus call
        self.delivery_notes: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.push_log: list[dict[str, Any]] = []  # every push attempt and its result
        self.push_state: dict[str, str] = {}  # ClientOrderRef → pending | delivered | failed | lost | not_configured
        self.event_log: list[dict[str, Any]] = []  # every event attempt and its result

        # The order receiver (Admin > Client settings > ERP integration) and the event subscriptions.
        self.receiver: dict[str, Any] | None = None
        self.push_retry_delays: list[float] = list(DEFAULT_PUSH_RETRY_DELAYS)
        self.push_timeout = 30.0  # Norce waits synchronously for the OrderResponse; the limit is undocumented
        self.event_subscriptions: dict[str, dict[str, Any]] = {}  # event type → {"url", "headers"}
        self.event_retry_delays: list[float] = list(DEFAULT_EVENT_RETRY_DELAYS)
        self.event_timeout = 5.0

        # Faults and renderings of the push. lose_pushes / duplicate_pushes / lose_events
        # take a probability (float, 0.3 = 30 %), a count of the next pushes to hit (int)
        # or True/False.
        self.lose_pushes: float | int | bool = 0
        self.duplicate_pushes: float | int | bool = False
        self.lose_events: float | int | bool = 0
        self.enum_style = "names"  # "names" | "ints": OrderType, item Type and TypeGroup
        self.key_case = "pascal"  # "pascal" | "camel": property names of the pushed OrderRequest

        # Connect 4.0 imports, their jobs and the catalogue they write.
        self.connect = ConnectImports(self)

        self._next_ref = self.first_order_ref
        self._next_order_id = 987001
        self._next_item_id = 5550001
        self._company_ids: dict[str, int] = {}

    def reset(self) -> None:
        """Back to a fresh simulator (orders, logs, tokens, limits, settings and faults), still serving."""
        self.stop_trickle()
        self._stopping.set()  # retries waiting for their next attempt give up now
        self.connect.close()  # before taking the lock: a finishing job may be posting its event
        self.wait_idle(timeout=10)
        with self.lock:
            self._init_state()
            self.faults = Faults()
            self._stopping.clear()

    # -- routes ---------------------------------------------------------------------------
    def setup_routes(self) -> None:
        self.route("POST", TOKEN_PATH, self._token)
        self.route("GET", QUERY_BASE + r"/Orders/Orders", self._query_orders)
        self.route("POST", CONNECT_BASE + r"/Order/SendOrderStatus", self._send_order_status)
        self.route("POST", CONNECT_BASE + r"/Order/CreateDeliveryNote", self._create_delivery_note)
        self.route("POST", CONNECT_BASE + r"/Order/CreateInvoice", self._create_invoice)
        self.route("POST", CONNECT_BASE + r"/Order/CancelOrder", self._cancel_order)
        self.route("GET", r"/_sim/orders", self._control_list_orders)
        self.route("POST", r"/_sim/orders", self._control_place_order)
        self.route("POST", r"/_sim/receiver", self._control_receiver)
        self.route("POST", r"/_sim/events", self._control_events)
        self.route("POST", r"/_sim/settings", self._control_settings)
        self.route("POST", r"/_sim/trickle", self._control_trickle)
        self.route("POST", r"/_sim/reset", lambda r: (self.reset(), Response(body=self.state_summary()))[1])
        self.route("POST", r"/_sim/trickle/stop", lambda r: (self.stop_trickle(), Response(body={"trickle": False}))[1])
        for method, pattern, name, stream in ConnectImports.ROUTES:  # served by whichever self.connect is current
            self.route(method, pattern, lambda r, name=name: getattr(self.connect, name)(r), stream=stream)

    def dispatch(self, request: Request) -> Response:
        self._current.path = request.path  # lets error_response pick the answering API's shape
        try:
            return super().dispatch(request)
        finally:
            self._current.path = ""

    def error_response(self, status: int, message: str) -> Response:
        path = getattr(self._current, "path", "") or ""
        if path.startswith("/identity/"):
            code = {400: "invalid_request", 401: "invalid_client", 429: "too_many_requests"}.get(status, "server_error")
            return Response(status=status, body={"error": code, "error_description": message})
        if path.startswith(QUERY_BASE):  # OData's JSON error format
            return Response(status=status, body={"error": {"code": str(status), "message": message}})
        if path.startswith(CONNECT_BASE):
            # Connect's error body is undocumented; we answer in the shape of its
            # JobResponse/OrderResponse status fields.
            return Response(status=status, body={"StatusCode": "Failed", "Description": message})
        return Response(status=status, body={"message": message})

    def before_request(self, request: Request) -> Response | None:
        if not request.path.lower().startswith("/commerce/"):
            return None
        scheme, _, token = request.header("authorization").partition(" ")
        with self.lock:
            entry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or entry[1] <= time.time():
            response = self.error_response(401, "A valid bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if entry else "Bearer"
            return response
        if request.path.lower().startswith(CONNECT_BASE.lower()):
            wait = self.connect_limiter.hit(f"client-{self.client_id}")
            if wait is not None:
                response = self.error_response(429, "Too many requests: 60 per minute")
                response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return response
        return None

    # -- OAuth ------------------------------------------------------------------------------
    def _token(self, request: Request) -> Response:
        with self.lock:
            self.token_requests += 1
        # The base server does not pass the peer address on; every caller of a test
        # simulator is local, so X-Forwarded-For (if any) stands in for the client IP.
        client_ip = request.header("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
        wait = self.token_limiter.hit(client_ip)
        if wait is not None:
            response = self.error_response(429, "Too many token requests: 3 per minute, burst 20")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response(status=400, body={"error": "unsupported_grant_type"})
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or self.clients.get(client_id) != secret:
            return Response(status=401, body={"error": "invalid_client"})
        scopes = form.get("scope", "").split()
        if not scopes or any(s not in SCOPES for s in scopes):
            return Response(status=400, body={"error": "invalid_scope"})
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (client_id, time.time() + self.token_ttl)
            self.tokens_issued += 1
        return Response(
            body={
                "access_token": token,
                "expires_in": self.token_ttl,
                "token_type": "Bearer",
                "scope": " ".join(scopes),
            }
        )

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next call with one gets 401)."""
        with self.lock:
            self.tokens = {token: (client, 0.0) for token, (client, _) in self.tokens.items()}

    # -- order placement --------------------------------------------------------------------
    def place_order(
        self, order: dict[str, Any] | None = None, *, at: datetime | None = None, push: bool = True
    ) -> dict[str, Any]:
        """Store an order as checkout would and, if configured, push it and post its events.

        `order` is an internal order (see simulators.norce.orders); None generates one. Returns
        the stored internal order (live: later status changes show in it). `at` sets
        Created/OrderDate (default now).
        """
        with self.lock:
            if order is None:
                order = generate_order(self.rng, order_ref=str(self._next_ref), catalogue=self.catalogue)
            stored = copy.deepcopy(order)
            ref = str(stored.get("ClientOrderRef") or self._next_ref)
            if ref in self.orders:
                raise ValueError(f"order {ref} already exists")
            if ref.isdigit() and int(ref) >= self._next_ref:
                self._next_ref = int(ref) + 1
            created = (at or utcnow()).astimezone(UTC)
            stored.update(
                ClientOrderRef=ref,
                Id=self._next_order_id,
                ClientId=self.client_id,
                ApplicationId=self.application_id,
                OrderNo=ref,
                ErpOrderNo=stored.get("ErpOrderNo"),
                StatusId=ORDER_STATUSES["Created"],
                Created=created,
                Updated=None,
                Infos=list(stored.get("Infos") or []),
            )
            for key, default in (
                ("CurrencyCode", "SEK"),
                ("OrderType", "Order"),
                ("Source", "WEB"),
                ("Items", []),
                ("Payments", []),
            ):
                stored.setdefault(key, default)
            self._next_order_id += 1
            for item in stored["Items"]:
                item["Id"] = self._next_item_id
                item.setdefault("StatusId", ORDER_STATUSES["Created"])
                self._next_item_id += 1
            self.orders[ref] = stored
        if push:
            self.push_order(ref)
            self.send_event("OrderReceivedEvent", self._order_received_event(stored))
        return stored

    def _touch(self, order: dict[str, Any]) -> None:
        order["Updated"] = max(utcnow(), order["Created"])

    # -- the OrderRequest push ---------------------------------------------------------------
    def configure_receiver(self, url: str, username: str, password: str) -> None:
        """Norce Admin > Client settings > ERP integration: endpoint type REST, URL and Basic auth."""
        with self.lock:
            self.receiver = {"url": url, "username": username, "password": password}

    def render_order_request(self, order: dict[str, Any] | str) -> dict[str, Any]:
        """The OrderRequest Norce pushes to the order receiver, in the current enum style and key case."""
        if isinstance(order, str):
            order = self.orders[order]
        ints = self.enum_style == "ints"

        def enum(table: dict[str, int], value: Any) -> Any:
            if ints and isinstance(value, str):
                return table.get(value, 0)
            if not ints and isinstance(value, int):
                return next((name for name, number in table.items() if number == value), str(value))
            return value

        items = []
        for item in order.get("Items", []):
            rendered = {
                key: item.get(key)
                for key in (
                    "LineNo",
                    "ParentLineNo",
                    "Type",
                    "TypeGroup",
                    "PartNo",
                    "ErpPartNo",
                    "Description",
                    "Quantity",
                    "Quantity2",
                    "UnitPrice",
                    "UnitPriceOriginal",
                    "Discount",
                    "UnitVat",
                    "VatRate",
                    "PriceListNo",
                )
            }
            if "VatRate" not in item:  # an incomplete line: the property is missing, not null
                del rendered["VatRate"]
            rendered["Type"] = enum(ITEM_TYPES, item.get("Type"))
            rendered["TypeGroup"] = enum(ITEM_TYPE_GROUPS, item.get("TypeGroup"))
            rendered["AdditionalInfo"] = copy.deepcopy(item.get("AdditionalInfo") or [])
            items.append(rendered)
        created: datetime = order["Created"]
        body = {
            "Header": {"ApplicationKey": self.application_key},
            "SellTo": copy.deepcopy(order.get("SellTo")),
            "BillTo": copy.deepcopy(order.get("BillTo")),
            "ShipTo": copy.deepcopy(order.get("ShipTo")),
            "SalesContactCode": order.get("SalesContactCode"),
            "SalesContactDivision": order.get("SalesContactDivision"),
            "DoHold": bool(order.get("DoHold", False)),
            "ClientOrderRef": str(order["ClientOrderRef"]),
            "ErpOrderNo": None,  # usually empty on the push
            "CustomerOrderRef": order.get("CustomerOrderRef") or "",
            "CustomerOrderComment": order.get("CustomerOrderComment") or "",
            # Undocumented format. Read as a .NET DateTime in the shop's local time
            # (Stockholm), serialised without an offset; the receiver assumes the same.
            "SubmitDate": created.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M:%S"),
            "CurrencyCode": order.get("CurrencyCode", "SEK"),
            "ReferId": order.get("ReferId"),
            "OrderType": enum(ORDER_TYPES, order.get("OrderType", "Order")),
            "Source": order.get("Source", "WEB"),
            "DiscountCode": order.get("DiscountCode"),
            "Payments": copy.deepcopy(order.get("Payments") or []),
            "Discounts": copy.deepcopy(order.get("Discounts") or []),
            "Fees": copy.deepcopy(order.get("Fees") or []),
            "ShippingAdvice": copy.deepcopy(order.get("ShippingAdvice")),
            "Items": items,
            "AdditionalInfo": copy.deepcopy(order.get("AdditionalInfo") or []),
        }
        return camel_case_keys(body) if self.key_case == "camel" else body

    def push_order(self, client_order_ref: str) -> None:
        """Push (again) an order to the receiver in the background, with retries."""
        with self.lock:
            order = self.orders[client_order_ref]
            receiver = dict(self.receiver) if self.receiver else None
            if receiver is None:
                self.push_state[client_order_ref] = "not_configured"
                return
            if self._fault_fires("lose_pushes"):
                self.push_state[client_order_ref] = "lost"
                self.push_log.append(
                    {
                        "client_order_ref": client_order_ref,
                        "attempt": 0,
                        "duplicate": False,
                        "time": time.time(),
                        "status": None,
                        "result": "lost",
                        "detail": "",
                    }
                )
                return
            body = json.dumps(self.render_order_request(order), ensure_ascii=False, default=str).encode("utf-8")
            deliveries = 2 if self._fault_fires("duplicate_pushes") else 1
            self.push_state[client_order_ref] = "pending"
        self._in_background(self._deliver_push, client_order_ref, body, receiver, deliveries)

    def _deliver_push(self, ref: str, body: bytes, receiver: dict[str, Any], deliveries: int) -> None:
        for copy_no in range(deliveries):
            delivered = self._deliver(
                body,
                url=receiver["url"],
                auth=(receiver["username"], receiver["password"]),
                headers={},
                timeout=self.push_timeout,
                delays=self.push_retry_delays,
                log=self.push_log,
                entry={"client_order_ref": ref, "duplicate": copy_no > 0},
                accept=self._accept_order_response(ref),
            )
            with self.lock:
                if copy_no == 0 or delivered:
                    self.push_state[ref] = "delivered" if delivered else "failed"

    def _accept_order_response(self, ref: str) -> Callable[[requests.Response], tuple[bool, str]]:
        def accept(response: requests.Response) -> tuple[bool, str]:
            if not 200 <= response.status_code < 300:
                return False, "http_error"
            try:
                answer = response.json()
            except ValueError:
                return False, "failed"
            if not isinstance(answer, dict):
                return False, "failed"
            # Read case-insensitively, as Norce's .NET deserialiser would.
            if str(ci_get(answer, "StatusCode") or "").upper() != "OK":
                return False, "failed"
            erp_order_no = ci_get(answer, "ErpOrderNo")
            if erp_order_no and ci_get(answer, "HasErpOrderNo") is not False:
                # Whether this also replaces OrderNo is not documented; Query 3.0 says
                # OrderNo is the quotation id "unless overridden from the ERP", so it does.
                with self.lock:
                    order = self.orders.get(ref)  # None if the simulator was reset meanwhile
                    if order is not None:
                        order["ErpOrderNo"] = order["OrderNo"] = str(erp_order_no)
                        self._touch(order)
            return True, "ok"

        return accept

    # -- events ------------------------------------------------------------------------------
    def configure_events(
        self, url: str, headers: dict[str, str] | None = None, *, event_types: Sequence[str] = ("OrderReceivedEvent",)
    ) -> None:
        """Norce Admin > Integration > Event: turn the event types on, posting to `url` with static headers."""
        with self.lock:
            for event_type in event_types:
                self.event_subscriptions[event_type] = {"url": url, "headers": dict(headers or {})}

    def send_event(self, event_type: str, payload: dict[str, Any]) -> None:
        """Post an event to its subscriber in the background (nothing if the type is off)."""
        with self.lock:
            subscription = self.event_subscriptions.get(event_type)
            if subscription is None:
                return
            entry = {"event": event_type, "client_order_ref": payload.get("ClientOrderRef")}
            if self._fault_fires("lose_events"):
                self.event_log.append(dict(entry, attempt=0, time=time.time(), status=None, result="lost", detail=""))
                return
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._in_background(
            self._deliver,
            body,
            url=subscription["url"],
            auth=None,
            headers=subscription["headers"],
            timeout=self.event_timeout,
            delays=self.event_retry_delays,
            log=self.event_log,
            entry=entry,
            accept=lambda r: (True, "ok") if 200 <= r.status_code < 300 else (False, "http_error"),
        )

    def _order_received_event(self, order: dict[str, Any]) -> dict[str, Any]:
        person = (order.get("SellTo") or {}).get("Person") or {}
        return {
            "ClientId": self.client_id,
            "ApplicationId": self.application_id,
            "ClientOrderRef": order["ClientOrderRef"],
            "Email": person.get("Email"),
            "CellPhone": person.get("CellPhone"),
            "FirstName": person.get("FirstName"),
            "LastName": person.get("LastName"),
            "Source": order.get("Source", "WEB"),
        }

    # -- outbound delivery -------------------------------------------------------------------
    def _deliver(
        self,
        body: bytes,
        *,
        url: str,
        auth: tuple[str, str] | None,
        headers: dict[str, str],
        timeout: float,
        delays: Sequence[float],
        log: list[dict[str, Any]],
        entry: dict[str, Any],
        accept: Callable[[requests.Response], tuple[bool, str]],
    ) -> bool:
        """POST `body` until `accept` is satisfied or the retry delays run out; log every attempt."""
        delays = list(delays)
        for attempt in range(1, len(delays) + 2):
            status, detail = None, ""
            try:
                response = requests.post(
                    url,
                    data=body,
                    auth=auth,
                    timeout=timeout,
                    headers={
                        **headers,
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": "Norce-Commerce",
                    },
                )
                status, detail = response.status_code, response.text[:500]
                ok, result = accept(response)
            except requests.Timeout as exc:
                ok, result, detail = False, "timeout", str(exc)
            except requests.RequestException as exc:
                ok, result, detail = False, "error", str(exc)
            with self.lock:
                log.append(dict(entry, attempt=attempt, time=time.time(), status=status, result=result, detail=detail))
            if ok:
                return True
            if attempt > len(delays):
                break
            if self._stopping.wait(delays[attempt - 1]):
                with self.lock:
                    log.append(dict(entry, attempt=attempt, time=time.time(), status=None, result="aborted", detail=""))
                return False
        with self.lock:
            log.append(dict(entry, attempt=len(delays) + 1, time=time.time(), status=None, result="gave_up", detail=""))
        return False

    def _in_background(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        def run() -> None:
            try:
                target(*args, **kwargs)
            finally:
                with self.lock:
                    self._deliveries.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"{self.name}-delivery", daemon=True)
        with self.lock:
            self._deliveries.add(thread)
        thread.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no push or event is being delivered (retries included); True if idle."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                pending = list(self._deliveries)
            if not pending:
                return True
            pending[0].join(max(0.0, min(0.1, deadline - time.time())))
        with self.lock:
            return not self._deliveries

    def _fault_fires(self, name: str) -> bool:
        """True/False, an int (the next N times, counted down) or a probability."""
        value = getattr(self, name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if value > 0:
                setattr(self, name, value - 1)
                return True
            return False
        return bool(value) and self._fault_rng.random() < float(value)

    # -- Query 2.0 ---------------------------------------------------------------------------
    def _query_orders(self, request: Request) -> Response:
        application = request.header("applicationid") or request.header("application-id")
        if not application:
            return self.error_response(400, "The applicationId header is required")
        if not application.strip().isdigit() or int(application) != self.application_id:
            return self.error_response(400, f"Unknown application {application!r}")
        params = request.query
        supported = {"$filter", "$expand", "$orderby", "$top", "$skip", "$select", "$count"}
        unsupported = sorted(k for k in params if k.startswith("$") and k not in supported)
        if unsupported:
            return self.error_response(400, f"Query option {unsupported[0]} is not supported")
        try:
            predicate = parse_filter(params["$filter"]) if "$filter" in params else None
            order_by = parse_orderby(params.get("$orderby") or "Id")
            expand = self._parse_expand(params.get("$expand", ""))
            select = self._parse_select(params.get("$select", ""), self.QUERY_ORDER_PROPERTIES, "order")
            top = min(self._non_negative(params, "$top", QUERY_PAGE_SIZE), QUERY_PAGE_SIZE)
            skip = self._non_negative(params, "$skip", 0)
            count = params.get("$count", "false")
            if count not in ("true", "false"):
                raise FilterError("$count must be true or false")
        except FilterError as exc:
            return self.error_response(400, str(exc))

        with self.lock:
            rows = [(self._filter_row(order), order) for order in self.orders.values()]
            matching = [(row, order) for row, order in rows if predicate is None or predicate(row)]
            for field, descending in reversed(order_by):  # stable sorts, last key first; nulls sort low
                matching.sort(
                    key=lambda pair: (pair[0][field] is not None, pair[0][field] if pair[0][field] is not None else 0),
                    reverse=descending,
                )
            page = [
                self.render_query_order(order, expand=expand, select=select) for _, order in matching[skip : skip + top]
            ]
        base = f"http://{request.header('host') or f'{self.host}:{self.port}'}"
        body: dict[str, Any] = {"@odata.context": f"{base}{QUERY_BASE}/Orders/$metadata#Orders", "value": page}
        if count == "true":
            body["@odata.count"] = len(matching)
        if top and skip + top < len(matching):
            following = dict(params, **{"$skip": str(skip + top), "$top": str(top)})
            body["@odata.nextLink"] = f"{base}{request.path}?{urlencode(following, quote_via=quote, safe='$(),:')}"
        return Response(body=body)

    @staticmethod
    def _non_negative(params: dict[str, str], name: str, default: int) -> int:
        text = params.get(name)
        if text is None:
            return default
        if not text.isdigit():
            raise FilterError(f"{name} must be a non-negative integer")
        return int(text)

    @staticmethod
    def _parse_select(text: str, allowed: Sequence[str], what: str) -> list[str] | None:
        if not text.strip():
            return None
        names = [name.strip() for name in text.split(",")]
        for name in names:
            if name not in allowed:
                raise FilterError(f"$select: {what} has no property {name!r}")
        return names

    def _parse_expand(self, text: str) -> dict[str, list[str] | None]:
        """``Items,Buyer($select=EmailAddress,ZipCode)`` → {"Items": None, "Buyer": [...]}."""
        expand: dict[str, list[str] | None] = {}
        if not text.strip():
            return expand
        for part in _split_top_level(text):
            match = re.fullmatch(r"(\w+)(?:\((.*)\))?", part)
            if not match or match.group(1) not in self.QUERY_EXPANDS:
                raise FilterError(f"$expand: unknown navigation property {part!r}")
            name, options = match.groups()
            select = None
            if options is not None:
                option = re.fullmatch(r"\$select=(.+)", options.strip())
                if not option:
                    raise FilterError(f"$expand: only $select is supported inside {name}(...)")
                select = self._parse_select(option.group(1), self.QUERY_EXPANDS[name], name)
            expand[name] = select
        return expand

    def _filter_row(self, order: dict[str, Any]) -> Row:
        return {
            "Id": order["Id"],
            "ClientId": order["ClientId"],
            "ApplicationId": order["ApplicationId"],
            "StatusId": order["StatusId"],
            "QuotationId": self._quotation_id(order),
            "OrderNo": order["OrderNo"],
            "ClientOrderRef": order["ClientOrderRef"],
            "OrderDate": order["Created"],
            "Created": order["Created"],
            "Updated": order["Updated"],
        }

    @staticmethod
    def _quotation_id(order: dict[str, Any]) -> int | None:
        ref = str(order["ClientOrderRef"])
        return int(ref) if ref.isdigit() else None

    def render_query_order(
        self,
        order: dict[str, Any] | str,
        *,
        expand: dict[str, list[str] | None] | None = None,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        """An order as Query 2.0 returns it (PascalCase; navigation properties only when expanded).

        Field names beyond those seen on live tenants (see the spec notes) are our
        best reading of the 2.0 model: QuotationId, OrderTypeId, CurrencyCode,
        PaymentMethodCode, CustomerOrderReference and the Buyer company fields.
        """
        if isinstance(order, str):
            order = self.orders[order]
        expand = expand or {}
        items = order.get("Items", [])
        freight = sum(
            (
                _decimal(i.get("UnitPrice")) * int(i.get("Quantity", 0))
                for i in items
                if i.get("Type") in ("Freight", ITEM_TYPES["Freight"])
            ),
            Decimal(0),
        )
        line_discount = sum((_decimal(i.get("Discount")) * int(i.get("Quantity", 0)) for i in items), Decimal(0))
        payment = (order.get("Payments") or [{}])[0]
        method = payment.get("PaymentMethodCode")
        ship_to = order.get("ShipTo") or {}
        ship_address = (ship_to.get("Person") or {}).get("Address") or {}
        company = (order.get("SellTo") or {}).get("Company")
        header: dict[str, Any] = {
            "Id": order["Id"],
            "ClientId": order["ClientId"],
            "ApplicationId": order["ApplicationId"],
            "OrderNo": order["OrderNo"],
            "ClientOrderRef": order["ClientOrderRef"],
            "QuotationId": self._quotation_id(order),
            "OrderDate": format_datetime(order["Created"]),
            "Created": format_datetime(order["Created"]),
            "Updated": format_datetime(order["Updated"]),
            "StatusId": order["StatusId"],
            "OrderTypeId": ORDER_TYPES.get(order.get("OrderType"), order.get("OrderType")),
            "CurrencyId": CURRENCY_IDS.get(order.get("CurrencyCode", "SEK")),
            "CurrencyCode": order.get("CurrencyCode", "SEK"),
            "FreightCost": _money(freight),
            "OrderFee": 0.0,
            "CashDiscount": 0.0,
            "LineDiscount": _money(line_discount),
            "PaymentMethodId": PAYMENT_METHODS[method][0] if method in PAYMENT_METHODS else payment.get("PaymentCode"),
            "PaymentMethodCode": method,
            "DeliveryMode": (order.get("ShippingAdvice") or {}).get("DeliveryMethodCode"),
            "DeliveryCountryId": COUNTRY_IDS.get(ship_address.get("Country")),
            "DeliveryZipCode": ship_address.get("ZipCode"),
            "Source": order.get("Source", "WEB"),
            "CustomerOrderReference": order.get("CustomerOrderRef") or None,
            "BuyerCustomerId": None,  # guest checkout
            "BuyerCompanyId": self._company_id(company.get("Code")) if company else None,
            "BuyerCompanyCode": company.get("Code") if company else None,
            "IsForgotten": False,
        }
        rendered = {name: header[name] for name in select} if select else header
        if "Items" in expand:
            rendered["Items"] = [
                self._select(self._query_item(order, item, order["StatusId"]), expand["Items"]) for item in items
            ]
        for name, source, number in (("Buyer", "SellTo", 1), ("Payer", "BillTo", 2), ("ShipTo", "ShipTo", 3)):
            if name in expand:
                address = self._query_address(order, order.get(source), number)
                rendered[name] = self._select(address, expand[name]) if address else None
        if "Infos" in expand:
            rendered["Infos"] = [
                self._select(
                    {
                        "Id": order["Id"] * 100 + n,
                        "OrderId": order["Id"],
                        "Code": info.get("Code"),
                        "Value": info.get("Value"),
                    },
                    expand["Infos"],
                )
                for n, info in enumerate(order.get("Infos") or [], start=1)
            ]
        return rendered

    def _company_id(self, code: str | None) -> int:
        """Norce's id for a company, stable per company code."""
        with self.lock:
            return self._company_ids.setdefault(code or "", 3001 + len(self._company_ids))

    @staticmethod
    def _select(values: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        return {name: values[name] for name in select} if select else values

    def _query_item(self, order: dict[str, Any], item: dict[str, Any], status: int) -> dict[str, Any]:
        quantity = int(item.get("Quantity") or 0)
        price, original, discount = (_decimal(item.get(k)) for k in ("UnitPrice", "UnitPriceOriginal", "Discount"))
        item_type = item.get("Type") or "ErpStandard"
        type_name = (
            item_type
            if isinstance(item_type, str)
            else next((name for name, number in ITEM_TYPES.items() if number == item_type), "Undefined")
        )
        return {
            "Id": item.get("Id"),
            "OrderId": order["Id"],
            "LineNumber": item.get("LineNo"),
            "ParentLineNumber": item.get("ParentLineNo"),
            "StatusId": item.get("StatusId", status),
            "PartNo": item.get("PartNo"),
            "ProductName": item.get("Description"),
            "QtyOrdered": quantity,
            "CurrencyId": CURRENCY_IDS.get(order.get("CurrencyCode", "SEK")),
            "VatRate": item.get("VatRate"),
            "PriceSale": _money(price),
            "PriceStandard": _money(original) if original else _money(price),
            "DiscountAmount": _money(discount * quantity),
            "DiscountPercentage": float((discount / original * 100).quantize(Decimal("0.01"))) if original else 0.0,
            "LineAmount": _money(price * quantity),
            "DeliveryMode": (order.get("ShippingAdvice") or {}).get("DeliveryMethodCode"),
            # Query 2.0's item type field is not confirmed: SkuTypeId is our guess, Type a readable hint.
            "SkuTypeId": ITEM_TYPES.get(type_name, 0),
            "Type": type_name,
            "Created": format_datetime(order.get("Created")),
        }

    @staticmethod
    def _query_address(order: dict[str, Any], customer: dict[str, Any] | None, number: int) -> dict[str, Any] | None:
        """Buyer/Payer/ShipTo from SellTo/BillTo/ShipTo. For companies Name is the company
        and Attention the contact; CompanyCode/CompanyName/OrganizationNumber are our
        names for the company data (2.0's spelling is unverified)."""
        if not customer:
            return None
        person = customer.get("Person") or {}
        company = customer.get("Company")
        address = person.get("Address") or {}
        person_name = " ".join(p for p in (person.get("FirstName"), person.get("LastName")) if p) or None
        country = address.get("Country")
        organisation = None
        if company:
            organisation = next(
                (
                    info.get("Value")
                    for info in company.get("AdditionalInfo") or []
                    if "organization" in str(info.get("Code2") or info.get("Code")).lower()
                ),
                None,
            )
        return {
            "Id": order["Id"] * 10 + number,
            "TypeId": number,
            "Name": company.get("Name") if company else person_name,
            "Attention": person_name if company else None,
            "CareOf": address.get("CareOf"),
            "Line1": address.get("Line1"),
            "Line2": address.get("Line2"),
            "ZipCode": address.get("ZipCode"),
            "City": address.get("City"),
            "Region": address.get("Region"),
            "CountryId": COUNTRY_IDS.get(country),
            "Country": country,
            "EmailAddress": person.get("Email"),
            "PhoneNumber": person.get("CellPhone") or person.get("PrivatePhone") or person.get("WorkPhone"),
            "ShippingPhoneNumber": address.get("ShippingPhoneNumber"),
            "CompanyCode": company.get("Code") if company else None,
            "CompanyName": company.get("Name") if company else None,
            "OrganizationNumber": organisation,
        }

    # -- Connect 4.0 Order service -----------------------------------------------------------
    def _json_object(self, request: Request) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, dict):
            raise json.JSONDecodeError("expected a JSON object", request.body.decode("utf-8", "replace"), 0)
        return body

    def _find_order(self, client_order_ref: Any, erp_order_no: Any) -> dict[str, Any] | None:
        """By ClientOrderRef (int in Connect, string in OrderRequest: both accepted) or by ERP order number."""
        if client_order_ref not in (None, "", 0) and not isinstance(client_order_ref, bool):
            return self.orders.get(str(client_order_ref).strip())
        if erp_order_no:
            wanted = str(erp_order_no)
            return next((o for o in self.orders.values() if wanted in (o.get("ErpOrderNo"), o["OrderNo"])), None)
        return None

    @staticmethod
    def _order_status(value: Any) -> int | None:
        """An OrderStatus given as name ("Confirmed", any case) or number (2 or "2")."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if value in ORDER_STATUS_NAMES else None
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return int(text) if int(text) in ORDER_STATUS_NAMES else None
            return next((number for name, number in ORDER_STATUSES.items() if name.lower() == text.lower()), None)
        return None

    def _send_order_status(self, request: Request) -> Response:
        body = self._json_object(request)
        ref, erp_order_no = ci_get(body, "ClientOrderRef"), ci_get(body, "ErpOrderNo")
        if ref in (None, "") and not erp_order_no:
            return self.error_response(400, "ClientOrderRef or ErpOrderNo is required")
        status = self._order_status(ci_get(body, "OrderStatus"))
        if status is None:
            return self.error_response(400, f"Invalid OrderStatus {ci_get(body, 'OrderStatus')!r}")
        with self.lock:
            order = self._find_order(ref, erp_order_no)
            if order is None:
                return self.error_response(400, f"Order not found: ClientOrderRef {ref!r}, ErpOrderNo {erp_order_no!r}")
            order["StatusId"] = status
            if erp_order_no:
                order["ErpOrderNo"] = order["OrderNo"] = str(erp_order_no)
            infos = [
                {"Code": ci_get(i, "Code"), "Value": ci_get(i, "Value")}
                for i in ci_get(body, "Infos") or []
                if isinstance(i, dict)
            ]
            order["Infos"].extend(infos)
            for item_status in ci_get(body, "ItemStatuses") or []:
                if not isinstance(item_status, dict):
                    continue
                line_no, value = ci_get(item_status, "LineNo"), self._order_status(ci_get(item_status, "ItemStatus"))
                for item in order["Items"]:
                    if value is not None and str(item.get("LineNo")) == str(line_no):
                        item["StatusId"] = value
            self._touch(order)
            self.order_statuses.append(
                {
                    "time": time.time(),
                    "client_order_ref": order["ClientOrderRef"],
                    "erp_order_no": erp_order_no,
                    "status": status,
                    "status_name": ORDER_STATUS_NAMES[status],
                    "infos": infos,
                    "body": body,
                }
            )
        return Response(status=200, body=None)

    def _record_order_call(
        self,
        request: Request,
        log: list[dict[str, Any]],
        *,
        ref_keys: tuple[str, ...],
        erp_keys: tuple[str, ...],
        new_status: str,
        alternative: str | None = None,
    ) -> Response:
        """Accept-and-record for CreateDeliveryNote / CreateInvoice / CancelOrder.

        The order is named by one of `ref_keys` (ClientOrderRef) or `erp_keys` (ERP
        order number); an unknown order is a 400. `alternative` is a key that may
        stand in for both (an invoice needs only its InvoiceNo).
        """
        body = self._json_object(request)
        ref = next((ci_get(body, k) for k in ref_keys if ci_get(body, k) not in (None, "")), None)
        erp_ref = next((ci_get(body, k) for k in erp_keys if ci_get(body, k)), None)
        with self.lock:
            order = None
            if ref is not None or erp_ref is not None:
                order = self._find_order(ref, erp_ref)
                if order is None:
                    return self.error_response(400, f"Order not found: {ref if ref is not None else erp_ref!r}")
                order["StatusId"] = ORDER_STATUSES[new_status]
                self._touch(order)
            elif alternative is None or not ci_get(body, alternative):
                names = ref_keys + erp_keys + ((alternative,) if alternative else ())
                return self.error_response(400, f"{' or '.join(names)} is required")
            log.append(
                {"time": time.time(), "client_order_ref": order["ClientOrderRef"] if order else None, "body": body}
            )
        return Response(status=200, body=None)

    def _create_delivery_note(self, request: Request) -> Response:
        # A DeliveryNote names its order by OrderNo (the ERP order number once confirmed).
        return self._record_order_call(
            request, self.delivery_notes, ref_keys=(), erp_keys=("OrderNo",), new_status="Delivered"
        )

    def _create_invoice(self, request: Request) -> Response:
        return self._record_order_call(
            request,
            self.invoices,
            ref_keys=("ClientOrderRef",),
            erp_keys=("ErpOrderNo",),
            new_status="Invoiced",
            alternative="InvoiceNo",
        )

    def _cancel_order(self, request: Request) -> Response:
        return self._record_order_call(
            request, self.cancellations, ref_keys=("ClientOrderRef",), erp_keys=("ErpOrderNo",), new_status="Cancelled"
        )

    # -- trickle -----------------------------------------------------------------------------
    def start_trickle(
        self,
        interval_seconds: float = 5.0,
        rng_seed: int | None = None,
        unknown_article_rate: float = 0.0,
        missing_data_rate: float = 0.0,
    ) -> None:
        """Place a generated order every `interval_seconds` in the background until stop_trickle()."""
        self.stop_trickle()
        rng = random.Random(rng_seed)
        stop = self._trickle_stop = threading.Event()

        def loop() -> None:
            while not stop.is_set() and not self._stopping.is_set():
                with self.lock:
                    ref = str(self._next_ref)
                order = generate_order(
                    rng,
                    order_ref=ref,
                    catalogue=self.catalogue,
                    unknown_article_rate=unknown_article_rate,
                    missing_data_rate=missing_data_rate,
                )
                try:
                    self.place_order(order)
                except ValueError:  # the ref was taken meanwhile; the next round uses a new one
                    pass
                stop.wait(interval_seconds)

        self._trickle = threading.Thread(target=loop, name=f"{self.name}-trickle", daemon=True)
        self._trickle.start()

    def stop_trickle(self) -> None:
        self._trickle_stop.set()
        if self._trickle is not None and self._trickle is not threading.current_thread():
            self._trickle.join(timeout=5)
        self._trickle = None

    # -- control API ---------------------------------------------------------------------------
    def _control_list_orders(self, request: Request) -> Response:
        every = dict.fromkeys(self.QUERY_EXPANDS)
        with self.lock:
            orders = [
                dict(
                    self.render_query_order(o, expand=every),
                    _push_state=self.push_state.get(ref),
                    _defects=o.get("_defects", []),
                )
                for ref, o in self.orders.items()
            ]
        return Response(body={"orders": orders})

    def _control_place_order(self, request: Request) -> Response:
        body = request.json() if request.body.strip() else None
        try:
            order = self.place_order(body or None)
        except ValueError as exc:
            return Response(status=400, body={"error": str(exc)})
        return Response(
            status=201,
            body={"ClientOrderRef": order["ClientOrderRef"], "OrderRequest": self.render_order_request(order)},
        )

    def _control_receiver(self, request: Request) -> Response:
        body = request.json() or {}
        self.configure_receiver(body["url"], body.get("username", ""), body.get("password", ""))
        return Response(body={"receiver": body["url"]})

    def _control_events(self, request: Request) -> Response:
        body = request.json() or {}
        self.configure_events(
            body["url"], body.get("headers") or {}, event_types=body.get("event_types") or ("OrderReceivedEvent",)
        )
        return Response(body={"events": sorted(self.event_subscriptions)})

    def _control_settings(self, request: Request) -> Response:
        names = {
            "lose_pushes",
            "duplicate_pushes",
            "lose_events",
            "enum_style",
            "key_case",
            "push_retry_delays",
            "event_retry_delays",
            "push_timeout",
            "event_timeout",
        }
        body = request.json() or {}
        unknown = sorted(set(body) - names)
        if unknown:
            return Response(status=400, body={"error": f"unknown setting {unknown[0]!r}"})
        if body.get("enum_style", "names") not in ("names", "ints") or body.get("key_case", "pascal") not in (
            "pascal",
            "camel",
        ):
            return Response(status=400, body={"error": "enum_style is names|ints, key_case is pascal|camel"})
        with self.lock:
            for key, value in body.items():
                setattr(self, key, value)
        return Response(body={name: getattr(self, name) for name in sorted(names)})

    def _control_trickle(self, request: Request) -> Response:
        body = request.json() or {}
        self.start_trickle(
            float(body.get("interval_seconds", 5.0)),
            body.get("rng_seed"),
            float(body.get("unknown_article_rate", 0.0)),
            float(body.get("missing_data_rate", 0.0)),
        )
        return Response(body={"trickle": True})

    # -- state and lifecycle -------------------------------------------------------------------
    def state_summary(self) -> dict[str, Any]:
        with self.lock:
            statuses: dict[str, int] = {}
            for order in self.orders.values():
                name = ORDER_STATUS_NAMES.get(order["StatusId"], str(order["StatusId"]))
                statuses[name] = statuses.get(name, 0) + 1
            push_states: dict[str, int] = {}
            for state in self.push_state.values():
                push_states[state] = push_states.get(state, 0) + 1
            return {
                **super().state_summary(),
                "orders": len(self.orders),
                "order_statuses": statuses,
                "push_states": push_states,
                "push_attempts": sum(
                    1 for e in self.push_log if e["attempt"] and e["result"] not in ("gave_up", "aborted")
                ),
                "events_sent": sum(1 for e in self.event_log if e["result"] == "ok"),
                "status_updates": len(self.order_statuses),
                "delivery_notes": len(self.delivery_notes),
                "invoices": len(self.invoices),
                "cancellations": len(self.cancellations),
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
                "token_rejections": self.token_limiter.rejected,
                "connect_rejections": self.connect_limiter.rejected,
                "receiver": self.receiver["url"] if self.receiver else None,
                "events": {t: s["url"] for t, s in self.event_subscriptions.items()},
                "trickle": self._trickle is not None,
                "connect": self.connect.counts(),
                "settings": {
                    "lose_pushes": self.lose_pushes,
                    "duplicate_pushes": self.duplicate_pushes,
                    "lose_events": self.lose_events,
                    "enum_style": self.enum_style,
                    "key_case": self.key_case,
                },
            }

    def start(self) -> str:
        self._stopping.clear()
        url = super().start()
        self.connect.resume()
        return url

    def stop(self) -> None:
        """Stop serving, the trickle, the Connect job worker and any retries waiting for their next attempt."""
        self._stopping.set()
        self.stop_trickle()
        self.connect.stop_worker()
        super().stop()


def run(
    host: str = "127.0.0.1",
    port: int = 8701,
    *,
    receiver_url: str | None = None,
    receiver_username: str = "",
    receiver_password: str = "",
    events_url: str | None = None,
    event_headers: dict[str, str] | None = None,
    trickle_interval: float | None = None,
    seed: int | None = None,
    unknown_article_rate: float = 0.0,
    missing_data_rate: float = 0.0,
    stop: threading.Event | None = None,
) -> None:
    """Run a Norce simulator in the foreground until `stop` is set or Ctrl-C."""
    simulator = NorceSimulator(host, port, seed=seed)
    simulator.start()
    if receiver_url:
        simulator.configure_receiver(receiver_url, receiver_username, receiver_password)
    if events_url:
        simulator.configure_events(events_url, event_headers or {})
    if trickle_interval:
        simulator.start_trickle(trickle_interval, seed, unknown_article_rate, missing_data_rate)
    print(f"Norce simulator on {simulator.url} (clients: {', '.join(simulator.clients)})", flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
