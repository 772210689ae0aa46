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
Query 2.0 Products/ProductSkus; see ``simulators/norce/connect/``, whose
state is ``sim.connect``) and, in the other direction, it PUSHES each placed order as an OrderRequest to the
configured order receiver (HTTP Basic auth, retried until it answers
``{"StatusCode": "OK"}``) and posts an ``OrderReceivedEvent`` webhook.

Each API has its module: ``auth`` (tokens), ``query_orders``, ``order_service`` (the
Connect Order service), ``checkout`` (placing orders), ``push``, ``events`` and their
``delivery``, and ``control`` (``/_sim/``); `NorceSimulator` here puts them together.

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
                                    "key_case", "push_retry_delays", "event_retry_delays",
                                    "fail_after_commit"}
    POST /_sim/trickle             {"interval_seconds", "rng_seed", "unknown_article_rate", "missing_data_rate"}
    POST /_sim/trickle/stop
    POST /_sim/reset               back to a fresh simulator
    /_sim/connect/...              Connect imports: state, settings, seed, skus, jobs (simulators/norce/connect/)
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

from simulators.base import Faults, Request, Response
from simulators.limits import SlidingWindow, TokenBucket
from simulators.norce.auth import DEFAULT_CLIENTS, TokenService
from simulators.norce.checkout import OrderPlacement
from simulators.norce.common import CONNECT_BASE, ORDER_STATUS_NAMES, QUERY_BASE, TOKEN_PATH
from simulators.norce.connect import ConnectImports
from simulators.norce.control import ControlApi
from simulators.norce.delivery import OutboundDelivery
from simulators.norce.events import DEFAULT_EVENT_RETRY_DELAYS, EventWebhooks
from simulators.norce.odata import FilterError, parse_filter
from simulators.norce.order_service import OrderService
from simulators.norce.orders import DEMO_CATALOGUE, CatalogueArticle
from simulators.norce.push import DEFAULT_PUSH_RETRY_DELAYS, OrderPush, camel_case
from simulators.norce.query_orders import QueryOrders

__all__ = ["FilterError", "NorceSimulator", "camel_case", "parse_filter", "run"]


class NorceSimulator(
    TokenService,
    OrderPlacement,
    OrderPush,
    EventWebhooks,
    OutboundDelivery,
    QueryOrders,
    OrderService,
    ControlApi,
):
    """Norce Commerce: OAuth, Query 2.0 orders, Connect 4.0 Order service, order push and events."""

    name = "norce"

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
        self._documents: list[dict[str, str]] = []  # every NoteNo / InvoiceNo received, in order
        self.duplicate_documents: list[dict[str, Any]] = []  # a NoteNo, InvoiceNo or cancellation sent again
        self.psp_captures: list[dict[str, Any]] = []  # invoices sent without SuppressPspCall
        self.fail_after_commit = 0  # the next N Order-service writes commit, then answer 503
        self.lost_answers = 0
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
                "duplicate_documents": len(self.duplicate_documents),
                "psp_captures": len(self.psp_captures),
                "lost_answers": self.lost_answers,
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
