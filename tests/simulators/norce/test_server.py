"""The Norce simulator over real HTTP: OAuth, Query 2.0, Connect Order service, order push and events."""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from simulators.norce.orders import DEMO_CATALOGUE, generate_order, order_gross_total, split_gross
from simulators.norce.server import FilterError, NorceSimulator, camel_case, parse_filter

TOKEN = "/identity/1.0/connect/token"
ORDERS = "/commerce/query/2.0/Orders/Orders"
CONNECT = "/commerce/connect/4.0/Order"
FAST_RETRIES = [0.05, 0.05, 0.05]


# -- fixtures --------------------------------------------------------------------------------


class Receiver:
    """A tiny HTTP endpoint that records what it gets and answers from a script."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, Any]] = []  # answers to give first, then `default`
        self.default: tuple[int, Any] = (200, {"StatusCode": "OK", "Description": "Created", "HasErpOrderNo": False})
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "json": json.loads(body.decode("utf-8"))}
                    )
                    status, answer = receiver.script.pop(0) if receiver.script else receiver.default
                payload = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


@pytest.fixture(scope="module")
def running_sim() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=42)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(running_sim: NorceSimulator) -> NorceSimulator:
    running_sim.reset()
    running_sim.push_retry_delays = list(FAST_RETRIES)
    running_sim.event_retry_delays = list(FAST_RETRIES)
    return running_sim


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def get_token(sim: NorceSimulator, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": "norce-client",
        "client_secret": "norce-secret-value",
        "scope": "playground",
        **overrides,
    }
    return requests.post(sim.url + TOKEN, data=form, timeout=5)


@pytest.fixture
def api(sim: NorceSimulator) -> requests.Session:
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {get_token(sim).json()['access_token']}", "applicationId": "1244"}
    )
    return session


def query(sim: NorceSimulator, api: requests.Session, **params: str) -> requests.Response:
    return api.get(sim.url + ORDERS, params={f"${k}": v for k, v in params.items()}, timeout=5)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.01)


def gross(order_request: dict[str, Any]) -> Decimal:
    return sum(
        ((Decimal(str(i["UnitPrice"])) + Decimal(str(i["UnitVat"]))) * i["Quantity"] for i in order_request["Items"]),
        Decimal(0),
    )


# -- OAuth ----------------------------------------------------------------------------------


def test_token_endpoint_issues_tokens_then_limits_the_burst(sim: NorceSimulator) -> None:
    first = get_token(sim)
    assert first.status_code == 200
    assert first.json()["token_type"] == "Bearer" and first.json()["expires_in"] == 3600
    assert first.json()["access_token"]

    statuses = [get_token(sim).status_code for _ in range(23)]
    assert statuses[:22] == [200] * 22  # 3/min + a burst of 20: 23 in all, counting the first
    assert statuses[22] == 429
    assert int(get_token(sim).headers["Retry-After"]) >= 1
    assert sim.token_requests == 25 and sim.tokens_issued == 23


def test_token_endpoint_rejects_bad_credentials(sim: NorceSimulator) -> None:
    assert get_token(sim, client_secret="wrong").status_code == 401
    assert get_token(sim, grant_type="password").status_code == 400
    assert get_token(sim, scope="everything").status_code == 400


def test_commerce_paths_need_a_valid_bearer(sim: NorceSimulator, api: requests.Session) -> None:
    assert requests.get(sim.url + ORDERS, headers={"applicationId": "1244"}, timeout=5).status_code == 401
    anonymous = requests.post(sim.url + CONNECT + "/SendOrderStatus", json={}, timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["StatusCode"] == "Failed"
    assert query(sim, api).status_code == 200
    sim.expire_tokens()
    expired = query(sim, api)
    assert expired.status_code == 401 and "error" in expired.json()


# -- Query 2.0 ------------------------------------------------------------------------------


def test_query_filters_on_updated_created_and_application(sim: NorceSimulator, api: requests.Session) -> None:
    base = datetime(2025, 5, 1, tzinfo=UTC)
    old = sim.place_order(at=base - timedelta(days=2))
    new = sim.place_order(at=base + timedelta(hours=1))
    changed = sim.place_order(at=base - timedelta(days=5))
    api.post(
        sim.url + CONNECT + "/SendOrderStatus",
        json={"ClientOrderRef": int(changed["ClientOrderRef"]), "OrderStatus": "Confirmed"},
        timeout=5,
    )

    incremental = (
        "ApplicationId eq 1244 and (Updated ge 2025-05-01T00:00:00Z or "
        "(Updated eq null and Created ge 2025-05-01T00:00:00Z))"
    )
    refs = [o["ClientOrderRef"] for o in query(sim, api, filter=incremental, orderby="Id").json()["value"]]
    assert refs == [new["ClientOrderRef"], changed["ClientOrderRef"]]

    created = query(sim, api, filter="Created ge 2025-04-28T00:00:00Z").json()["value"]
    assert {o["ClientOrderRef"] for o in created} == {old["ClientOrderRef"], new["ClientOrderRef"]}
    assert query(sim, api, filter="ApplicationId eq 9999").json()["value"] == []

    by_number = query(sim, api, filter=f"OrderNo eq '{old['ClientOrderRef']}'").json()["value"]
    assert [o["Id"] for o in by_number] == [old["Id"]]
    by_ref = query(sim, api, filter=f"ClientOrderRef eq '{new['ClientOrderRef']}' and StatusId eq 0").json()["value"]
    assert [o["Id"] for o in by_ref] == [new["Id"]]
    assert by_ref[0]["Updated"] is None and by_ref[0]["Created"] == "2025-05-01T01:00:00.000Z"


def test_query_pages_with_next_link_and_clamps_top(sim: NorceSimulator, api: requests.Session) -> None:
    placed = [sim.place_order()["Id"] for _ in range(5)]
    seen, pages = [], 0
    response = query(sim, api, top="2", orderby="Id", filter="ApplicationId eq 1244")
    while True:
        body = response.json()
        assert body["@odata.context"].endswith("/commerce/query/2.0/Orders/$metadata#Orders")
        seen += [o["Id"] for o in body["value"]]
        pages += 1
        if "@odata.nextLink" not in body:
            break
        response = api.get(body["@odata.nextLink"], timeout=5)
    assert seen == placed and pages == 3

    for _ in range(500):
        sim.place_order(push=False)
    first = query(sim, api, top="10000").json()
    assert len(first["value"]) == 500 and "$skip=500" in first["@odata.nextLink"]
    assert len(api.get(first["@odata.nextLink"], timeout=5).json()["value"]) == 5


def test_query_expands_only_what_is_asked(sim: NorceSimulator, api: requests.Session) -> None:
    order = sim.place_order()
    plain = query(sim, api).json()["value"][0]
    assert not {"Items", "Buyer", "Payer", "ShipTo", "Infos"} & set(plain)
    assert plain["CurrencyCode"] == "SEK" and plain["CurrencyId"] == 1 and plain["Source"] == "WEB"

    expanded = query(sim, api, expand="Items,Buyer").json()["value"][0]
    assert "ShipTo" not in expanded and "Payer" not in expanded
    assert len(expanded["Items"]) == len(order["Items"])
    line = expanded["Items"][0]
    assert line["OrderId"] == order["Id"] and line["LineNumber"] == 1
    assert line["PriceSale"] == order["Items"][0]["UnitPrice"]
    assert expanded["Buyer"]["EmailAddress"] == order["SellTo"]["Person"]["Email"]
    assert expanded["Buyer"]["CountryId"] == 1

    narrow = query(sim, api, expand="Items($select=PartNo,QtyOrdered)", select="Id,OrderNo").json()["value"][0]
    assert set(narrow) == {"Id", "OrderNo", "Items"}
    assert set(narrow["Items"][0]) == {"PartNo", "QtyOrdered"}


def test_query_renders_freight_and_company_buyers(sim: NorceSimulator, api: requests.Session) -> None:
    rng = random.Random(7)
    orders = [
        sim.place_order(generate_order(rng, order_ref=str(800000 + n), catalogue=DEMO_CATALOGUE)) for n in range(12)
    ]
    rendered = {
        o["ClientOrderRef"]: o for o in query(sim, api, expand="Items,Buyer,ShipTo,Payer,Infos").json()["value"]
    }
    company = next(o for o in orders if o["SellTo"]["Company"])
    buyer = rendered[company["ClientOrderRef"]]["Buyer"]
    assert buyer["CompanyName"] == company["SellTo"]["Company"]["Name"] == buyer["Name"]
    assert buyer["OrganizationNumber"] and buyer["CompanyCode"] == company["SellTo"]["Company"]["Code"]
    with_freight = next(o for o in orders if any(i["Type"] == "Freight" for i in o["Items"]))
    shown = rendered[with_freight["ClientOrderRef"]]
    freight_line = next(i for i in shown["Items"] if i["Type"] == "Freight")
    assert freight_line["PartNo"] == "FRAKT" and shown["FreightCost"] == freight_line["LineAmount"]


@pytest.mark.parametrize(
    "bad_filter",
    [
        "Updated ge",
        "Updated gte 2025-05-01T00:00:00Z",
        "Colour eq 'red'",
        "ApplicationId eq '1244'",
        "Created ge 2025-13-45T00:00:00Z",
        "(Updated ge 2025-05-01T00:00:00Z",
        "contains(OrderNo, '7')",
        "ApplicationId eq 1244 AND Id eq 1",
        "not (Id eq 1)",
    ],
)
def test_query_rejects_filters_it_cannot_parse(sim: NorceSimulator, api: requests.Session, bad_filter: str) -> None:
    response = query(sim, api, filter=bad_filter)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_query_needs_the_application_id_header(sim: NorceSimulator, api: requests.Session) -> None:
    bearer = api.headers["Authorization"]
    missing = requests.get(sim.url + ORDERS, headers={"Authorization": bearer}, timeout=5)
    assert missing.status_code == 400 and "applicationId" in missing.json()["error"]["message"]
    for spelling in ("applicationId", "application-id", "ApplicationId"):
        assert (
            requests.get(sim.url + ORDERS, headers={"Authorization": bearer, spelling: "1244"}, timeout=5).status_code
            == 200
        )
    assert query(sim, api, apply="groupby((Id))").status_code == 400  # unsupported query option


def test_filter_parser_semantics() -> None:
    row = {"Id": 5, "Updated": None, "Created": datetime(2025, 5, 2, tzinfo=UTC), "OrderNo": "O'Brien"}
    assert parse_filter("Updated eq null and Created ge 2025-05-01T00:00:00")(row)
    assert not parse_filter("Updated ge 2025-05-01T00:00:00Z")(row)  # null compares false
    assert parse_filter("Updated ne 2025-05-01T00:00:00Z")(row)
    assert parse_filter("OrderNo eq 'O''Brien' or Id eq 1")(row)
    assert parse_filter("(Id gt 4 and Id lt 6) and Created le 2025-05-02T02:00:00+02:00")(row)
    with pytest.raises(FilterError):
        parse_filter("Id eq 5 Id eq 6")


# -- order push ---------------------------------------------------------------------------------


def test_place_order_pushes_an_order_request_with_basic_auth(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url + "/norce/orders", "norce", "receiver-secret-value")
    order = sim.place_order()
    assert order["ClientOrderRef"] == "700001"
    wait_for(lambda: len(receiver.on("/norce/orders")) == 1)
    pushed = receiver.on("/norce/orders")[0]
    expected = "Basic " + base64.b64encode(b"norce:receiver-secret-value").decode()
    assert pushed["headers"]["Authorization"] == expected
    body = pushed["json"]
    assert body["Header"]["ApplicationKey"] == sim.application_key
    assert body["ClientOrderRef"] == "700001" and body["Source"] == "WEB" and body["OrderType"] == "Order"
    assert body["CurrencyCode"] == "SEK" and "T" in body["SubmitDate"]
    for key in ("SellTo", "BillTo", "ShipTo", "Payments", "ShippingAdvice"):
        assert body[key]
    item = body["Items"][0]
    for key in (
        "LineNo",
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
        "AdditionalInfo",
    ):
        assert key in item
    assert gross(body) == Decimal(str(body["Payments"][0]["Amount"]))
    wait_for(lambda: sim.push_state["700001"] == "delivered")
    assert [e["result"] for e in sim.push_log] == ["ok"]


def test_push_amounts_add_up_for_many_orders(sim: NorceSimulator) -> None:
    for _ in range(50):
        body = sim.render_order_request(sim.place_order(push=False))
        assert gross(body) == Decimal(str(body["Payments"][0]["Amount"]))


def test_push_is_retried_until_the_receiver_says_ok(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url, "norce", "pw")
    receiver.script = [(500, {"error": "boom"}), (200, {"StatusCode": "Failed", "Description": "ERP down"})]
    receiver.default = (200, {"StatusCode": "OK", "HasErpOrderNo": True, "ErpOrderNo": "4711"})
    order = sim.place_order()
    assert sim.wait_idle(5)
    assert len(receiver.requests) == 3
    assert [e["result"] for e in sim.push_log] == ["http_error", "failed", "ok"]
    assert sim.push_state[order["ClientOrderRef"]] == "delivered"
    assert order["ErpOrderNo"] == order["OrderNo"] == "4711" and order["Updated"] is not None


def test_push_gives_up_after_the_last_retry(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url, "norce", "pw")
    receiver.default = (503, None)
    order = sim.place_order()
    assert sim.wait_idle(5)
    assert len(receiver.requests) == len(FAST_RETRIES) + 1
    assert sim.push_log[-1]["result"] == "gave_up" and sim.push_state[order["ClientOrderRef"]] == "failed"


def test_duplicate_pushes_send_each_order_twice(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url, "norce", "pw")
    sim.duplicate_pushes = True
    order = sim.place_order()
    assert sim.wait_idle(5)
    assert [r["json"]["ClientOrderRef"] for r in receiver.requests] == [order["ClientOrderRef"]] * 2
    assert [e["duplicate"] for e in sim.push_log] == [False, True]


def test_lost_pushes_are_never_sent(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url, "norce", "pw")
    sim.lose_pushes = 1  # the next push only
    lost = sim.place_order()
    kept = sim.place_order()
    assert sim.wait_idle(5)
    assert [r["json"]["ClientOrderRef"] for r in receiver.requests] == [kept["ClientOrderRef"]]
    assert sim.push_state[lost["ClientOrderRef"]] == "lost"
    sim.lose_pushes = 1.0  # always
    sim.place_order()
    assert sim.wait_idle(5) and len(receiver.requests) == 1


def test_enum_style_and_key_case(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_receiver(receiver.url, "norce", "pw")
    sim.enum_style, sim.key_case = "ints", "camel"
    order = sim.place_order(generate_order(random.Random(3), order_ref="710000", catalogue=DEMO_CATALOGUE))
    assert sim.wait_idle(5)
    body = receiver.requests[0]["json"]
    assert body["clientOrderRef"] == "710000" and body["orderType"] == 1
    assert body["header"]["applicationKey"] == sim.application_key
    assert body["sellTo"]["person"]["address"]["zipCode"]
    assert body["shippingAdvice"]["doSMSNotify"] in (True, False)
    types = {(i["partNo"], i["type"], i["typeGroup"]) for i in body["items"]}
    assert all(t[1] == 1 and t[2] == 1 for t in types if t[0] != "FRAKT")
    if any(i["Type"] == "Freight" for i in order["Items"]):
        assert ("FRAKT", 3, 3) in types
    assert (
        camel_case("SSN") == "ssn"
        and camel_case("ErpPartNo") == "erpPartNo"
        and camel_case("DoSMSNotify") == "doSMSNotify"
    )


# -- events ------------------------------------------------------------------------------------


def test_order_received_event_with_static_headers(sim: NorceSimulator, receiver: Receiver) -> None:
    sim.configure_events(receiver.url + "/events", {"X-Event-Secret": "event-secret-value"})
    receiver.script = [(503, None)]
    order = sim.place_order()
    assert sim.wait_idle(5)
    events = receiver.on("/events")
    assert len(events) == 2  # retried after the 503
    assert events[-1]["headers"]["X-Event-Secret"] == "event-secret-value"
    person = order["SellTo"]["Person"]
    assert events[-1]["json"] == {
        "ClientId": 1234,
        "ApplicationId": 1244,
        "ClientOrderRef": order["ClientOrderRef"],
        "Email": person["Email"],
        "CellPhone": person["CellPhone"],
        "FirstName": person["FirstName"],
        "LastName": person["LastName"],
        "Source": "WEB",
    }
    assert [e["result"] for e in sim.event_log] == ["http_error", "ok"]

    sim.lose_events = 1
    sim.place_order()
    assert sim.wait_idle(5) and len(receiver.on("/events")) == 2
    assert sim.event_log[-1]["result"] == "lost"


# -- Connect Order service -------------------------------------------------------------------


def test_send_order_status_by_name_and_by_number(sim: NorceSimulator, api: requests.Session) -> None:
    first, second = sim.place_order(), sim.place_order()
    ok = api.post(
        sim.url + CONNECT + "/SendOrderStatus",
        timeout=5,
        json={
            "ClientOrderRef": int(first["ClientOrderRef"]),
            "ErpOrderNo": "FX-10045",
            "OrderStatus": "Confirmed",
            "Infos": [{"Code": "ErpRef", "Value": "FX-10045"}],
        },
    )
    assert ok.status_code == 200 and ok.content == b""
    assert first["StatusId"] == 2 and first["OrderNo"] == "FX-10045" and first["Updated"] is not None

    # camelCase properties, a string ClientOrderRef and an int enum are all accepted
    assert (
        api.post(
            sim.url + CONNECT + "/SendOrderStatus",
            timeout=5,
            json={"clientOrderRef": second["ClientOrderRef"], "orderStatus": 2},
        ).status_code
        == 200
    )
    assert second["StatusId"] == 2
    # and by ERP order number alone
    assert (
        api.post(
            sim.url + CONNECT + "/SendOrderStatus",
            timeout=5,
            json={"ErpOrderNo": "FX-10045", "OrderStatus": "Delivered"},
        ).status_code
        == 200
    )
    assert first["StatusId"] == 4
    assert [s["status_name"] for s in sim.order_statuses] == ["Confirmed", "Confirmed", "Delivered"]

    shown = query(sim, api, filter="OrderNo eq 'FX-10045'", expand="Infos").json()["value"][0]
    assert shown["StatusId"] == 4 and shown["Infos"][0]["Code"] == "ErpRef"

    unknown = api.post(sim.url + CONNECT + "/SendOrderStatus", json={"ClientOrderRef": 1, "OrderStatus": 2}, timeout=5)
    assert unknown.status_code == 400 and unknown.json()["StatusCode"] == "Failed"
    bad_status = api.post(
        sim.url + CONNECT + "/SendOrderStatus",
        timeout=5,
        json={"ClientOrderRef": int(first["ClientOrderRef"]), "OrderStatus": "Shipped"},
    )
    assert bad_status.status_code == 400


def test_delivery_notes_invoices_and_cancellations_are_recorded(sim: NorceSimulator, api: requests.Session) -> None:
    a, b = sim.place_order(), sim.place_order()
    post = lambda method, body: api.post(sim.url + CONNECT + "/" + method, json=body, timeout=5)  # noqa: E731
    assert (
        post(
            "CreateDeliveryNote",
            {
                "OrderNo": a["OrderNo"],
                "NoteNo": "DN-1",
                "DeliverynoteItems": [{"RowNumber": 1, "ItemNo": "X", "Qty": 1}],
            },
        ).status_code
        == 200
    )
    assert post("CreateInvoice", {"ClientOrderRef": int(a["ClientOrderRef"]), "InvoiceNo": "1001"}).status_code == 200
    assert post("CreateInvoice", {"InvoiceNo": "1002"}).status_code == 200
    assert post("CancelOrder", {"clientOrderRef": int(b["ClientOrderRef"])}).status_code == 200
    assert post("CancelOrder", {"ClientOrderRef": 42}).status_code == 400
    assert post("CreateInvoice", {"Comment": "no reference"}).status_code == 400
    assert (len(sim.delivery_notes), len(sim.invoices), len(sim.cancellations)) == (1, 2, 1)
    assert a["StatusId"] == 5 and b["StatusId"] == 6


def test_connect_allows_sixty_calls_a_minute(sim: NorceSimulator, api: requests.Session) -> None:
    order = sim.place_order()
    body = {"ClientOrderRef": int(order["ClientOrderRef"]), "OrderStatus": "Confirmed"}
    statuses = [api.post(sim.url + CONNECT + "/SendOrderStatus", json=body, timeout=5).status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    sim.connect_limiter.enabled = False
    assert api.post(sim.url + CONNECT + "/SendOrderStatus", json=body, timeout=5).status_code == 200


# -- generator, trickle, control API -------------------------------------------------------------


def test_generator_is_deterministic_and_mixes_vat() -> None:
    def batch(seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        return [generate_order(rng, order_ref=str(700001 + n), catalogue=DEMO_CATALOGUE) for n in range(40)]

    first, again = batch(11), batch(11)
    assert first == again and first != batch(12)
    rates = {i.get("VatRate") for o in first for i in o["Items"]}
    assert {25, 12, 6} <= rates
    assert any(o["SellTo"]["Company"] for o in first) and any(not o["SellTo"]["Company"] for o in first)
    assert any(
        i["PartNo"] == "FRAKT" and i["Type"] == "Freight" and i["TypeGroup"] == "Fee" for o in first for i in o["Items"]
    )
    assert any(i["UnitPriceOriginal"] > i["UnitPrice"] for o in first for i in o["Items"])
    for order in first:
        assert 1 <= sum(1 for i in order["Items"] if i["TypeGroup"] != "Fee") <= 5
        assert order_gross_total(order) == Decimal(str(order["Payments"][0]["Amount"]))
        assert order["Payments"][0]["PaymentMethodCode"] in ("KLARNA", "ADYEN", "SWISH")
        assert all(1 <= i["Quantity"] <= 3 for i in order["Items"])


def test_generator_defects() -> None:
    rng = random.Random(5)
    known = {a["part_no"] for a in DEMO_CATALOGUE}
    orders = [
        generate_order(rng, order_ref=str(n), catalogue=DEMO_CATALOGUE, unknown_article_rate=1.0, missing_data_rate=1.0)
        for n in range(20)
    ]
    assert all(any(i["PartNo"] not in known | {"FRAKT"} for i in o["Items"]) for o in orders)
    missing_identity = [o for o in orders if "missing_buyer_identity" in o["_defects"]]
    missing_vat = [o for o in orders if "missing_vat_rate" in o["_defects"]]
    assert missing_identity and missing_vat and len(missing_identity) + len(missing_vat) == 20
    assert all(
        o["SellTo"]["Person"]["Email"] is None and o["BillTo"]["Person"]["FirstName"] is None for o in missing_identity
    )
    assert all(any("VatRate" not in i for i in o["Items"]) for o in missing_vat)


def test_split_gross_is_exact() -> None:
    for price in range(1, 2000):
        for rate in (25, 12, 6):
            net, vat = split_gross(price, rate)
            assert net + vat == price and net.as_tuple().exponent == -2


def test_trickle_places_orders_steadily(sim: NorceSimulator) -> None:
    sim.start_trickle(0.02, rng_seed=1, unknown_article_rate=0.5)
    wait_for(lambda: len(sim.orders) >= 3)
    sim.stop_trickle()
    count = len(sim.orders)
    time.sleep(0.1)
    assert len(sim.orders) == count and list(sim.orders)[:3] == ["700001", "700002", "700003"]


def test_control_api_places_orders_and_reports_state(sim: NorceSimulator, receiver: Receiver) -> None:
    assert (
        requests.post(
            sim.url + "/_sim/receiver", json={"url": receiver.url, "username": "u", "password": "p"}, timeout=5
        ).status_code
        == 200
    )
    assert requests.post(sim.url + "/_sim/settings", json={"key_case": "camel"}, timeout=5).status_code == 200
    assert requests.post(sim.url + "/_sim/settings", json={"colour": "red"}, timeout=5).status_code == 400
    placed = requests.post(sim.url + "/_sim/orders", timeout=5)
    assert placed.status_code == 201 and placed.json()["OrderRequest"]["clientOrderRef"] == "700001"
    assert sim.wait_idle(5) and receiver.requests[0]["json"]["clientOrderRef"] == "700001"
    state = requests.get(sim.url + "/_sim/state", timeout=5).json()
    assert state["orders"] == 1 and state["push_states"] == {"delivered": 1}
    listed = requests.get(sim.url + "/_sim/orders", timeout=5).json()["orders"]
    assert listed[0]["ClientOrderRef"] == "700001" and listed[0]["Items"]


def test_reset_returns_to_a_fresh_simulator(sim: NorceSimulator, api: requests.Session) -> None:
    sim.place_order()
    sim.lose_pushes, sim.enum_style = 3, "ints"
    sim.faults.update({"error_5xx_rate": 1.0})
    state = requests.post(sim.url + "/_sim/reset", timeout=5).json()
    assert state["orders"] == 0 and sim.lose_pushes == 0 and sim.enum_style == "names"
    assert sim.faults.error_5xx_rate == 0 and sim.place_order(push=False)["ClientOrderRef"] == "700001"
    assert query(sim, api).status_code == 401  # tokens are gone too
