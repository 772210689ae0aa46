"""NorceClient against a fake Norce behind a requests transport adapter."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.norce import errors
from connectors.norce.client import CONNECT_LIMIT, NorceClient
from core.errors import SyncError
from integrations.engine.clients import client_for
from integrations.models import Connector

SECRET = "norce-secret-value"
Reply = tuple[int, Any, dict[str, str]]


class FakeNorce(BaseAdapter):
    """A minimal Norce: an OAuth token endpoint plus API routes given by the test.

    `routes` maps a path to a function (request, query) → (status, body, headers).
    API calls need a bearer token this fake issued and has not revoked.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.routes: dict[str, Callable[[requests.PreparedRequest, dict[str, str]], Reply]] = {}
        self.tokens_issued: list[str] = []
        self.revoked: set[str] = set()
        self.token_reply: Reply | None = None

    # -- what the tests look at -------------------------------------------------------------
    def token_requests(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if urlsplit(r.url).path.endswith("/connect/token")]

    def api_requests(self) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if not urlsplit(r.url).path.endswith("/connect/token")]

    # -- the adapter ------------------------------------------------------------------------
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        parts = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/identity/1.0/connect/token":
            status, body, headers = self.token_reply or self._issue(request)
        elif request.headers.get("Authorization", "")[7:] not in set(self.tokens_issued) - self.revoked:
            status, body, headers = 401, {"Message": "Authorization has been denied for this request."}, {}
        elif parts.path in self.routes:
            status, body, headers = self.routes[parts.path](request, query)
        else:
            status, body, headers = 404, "Not Found", {}
        return self._response(request, status, body, headers)

    def close(self) -> None:
        pass

    def _issue(self, request: requests.PreparedRequest) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if form.get("client_id") != "norce-client" or form.get("client_secret") != SECRET:
            return 400, {"error": "invalid_client"}, {}
        token = f"token-{len(self.tokens_issued) + 1}"
        self.tokens_issued.append(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, {}

    @staticmethod
    def _response(
        request: requests.PreparedRequest, status: int, body: Any, headers: dict[str, str]
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url
        if isinstance(body, (dict, list)):
            response._content = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
        else:
            response._content = (body or "").encode()
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = "utf-8"
        return response


@pytest.fixture
def norce() -> FakeNorce:
    return FakeNorce()


@pytest.fixture
def connector(integration) -> Connector:
    return integration.connectors.get(role=Connector.Role.COMMERCE)


def make_client(connector: Connector, fake: FakeNorce) -> NorceClient:
    """A client on a fresh copy of the connector row, talking to `fake`."""
    session = requests.Session()
    session.mount("http://", fake)
    session.mount("https://", fake)
    client = client_for(Connector.objects.get(pk=connector.pk), session=session)
    client.backoff = 0.0
    return client


def odata_page(orders: list[dict[str, Any]], next_link: str | None = None) -> Reply:
    body: dict[str, Any] = {"@odata.context": "x/$metadata#Orders", "value": orders}
    if next_link:
        body["@odata.nextLink"] = next_link
    return 200, body, {}


ORDERS = "/commerce/query/2.0/Orders/Orders"
STATUS = "/commerce/connect/4.0/Order/SendOrderStatus"


# --- auth ---------------------------------------------------------------------------------


def test_token_is_fetched_once_and_shared_by_clients(connector, norce):
    norce.routes[ORDERS] = lambda request, query: odata_page([{"Id": 1, "OrderNo": "700123"}])
    first, second = make_client(connector, norce), make_client(connector, norce)
    assert first.get_order("700123") == {"Id": 1, "OrderNo": "700123"}
    assert second.get_order("700123") == {"Id": 1, "OrderNo": "700123"}
    assert first.get_order("700123") is not None

    [token_request] = norce.token_requests()
    assert token_request.method == "POST"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body) == {
        "grant_type": ["client_credentials"],
        "client_id": ["norce-client"],
        "client_secret": [SECRET],
        "scope": ["playground"],
    }
    assert {r.headers["Authorization"] for r in norce.api_requests()} == {"Bearer token-1"}
    connector.refresh_from_db()
    assert connector.tokens["access_token"] == "token-1" and connector.token_expires_at is not None


def test_scope_defaults_to_prod(connector, norce):
    connector.settings.pop("scope")
    connector.save()
    norce.routes[ORDERS] = lambda request, query: odata_page([])
    make_client(connector, norce).get_order("1")
    assert parse_qs(norce.token_requests()[0].body)["scope"] == ["prod"]


def test_rejected_token_is_refreshed_once(connector, norce):
    norce.routes[ORDERS] = lambda request, query: odata_page([{"Id": 1}])
    client = make_client(connector, norce)
    client.get_order("1")
    norce.revoked.add("token-1")
    assert client.get_order("1") == {"Id": 1}
    assert norce.tokens_issued == ["token-1", "token-2"]
    assert [r.headers["Authorization"] for r in norce.api_requests()] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_token_refused_twice_is_an_auth_error(connector, norce):
    norce.routes[ORDERS] = lambda request, query: (401, {"Message": "Denied"}, {})
    with pytest.raises(SyncError) as caught:
        make_client(connector, norce).get_order("1")
    assert caught.value.code == "norce.auth" and caught.value.permanent
    assert len(norce.token_requests()) == 2 and len(norce.api_requests()) == 2


def test_wrong_client_secret_is_an_auth_error_without_the_secret(connector, norce):
    connector.credentials = {**connector.credentials, "client_secret": "wrong-" + SECRET}
    connector.save()
    with pytest.raises(SyncError) as caught:
        make_client(connector, norce).get_order("1")
    error = caught.value
    assert error.code == "norce.auth"
    assert "invalid_client" in error.message and "client id/secret and scope" in error.hint
    assert SECRET not in repr((str(error), error.message, error.hint, error.details, error.args))
    assert not norce.api_requests()


def test_secret_echoed_by_norce_never_reaches_the_error(connector, norce):
    # A token endpoint that echoes the posted form back in its error text.
    norce.token_reply = (400, f"bad request: client_secret={SECRET}&scope=playground", {})
    with pytest.raises(SyncError) as caught:
        make_client(connector, norce).get_order("1")
    error = caught.value
    assert error.code == "norce.auth"
    assert SECRET not in repr((str(error), error.message, error.hint, error.details, error.args))
    assert "***" in error.message


# --- Query --------------------------------------------------------------------------------


def test_get_order_request_is_exactly_right(connector, norce):
    seen: list[dict[str, str]] = []
    norce.routes[ORDERS] = lambda request, query: (seen.append(query), odata_page([]))[1]
    assert make_client(connector, norce).get_order("70'0") is None
    [request] = norce.api_requests()
    assert seen == [
        {
            "$filter": "ApplicationId eq 1244 and ClientOrderRef eq '70''0'",
            "$expand": "Items,Buyer,Payer,ShipTo",
            "$top": "1",
        }
    ]
    assert request.headers["applicationId"] == "1244"
    assert request.method == "GET"
    assert "+" not in request.url and "%20" in request.url and "$filter=" in request.url


def test_orders_since_filter_and_paging(connector, norce):
    pages = {
        None: odata_page([{"Id": 1}, {"Id": 2}], "http://127.0.0.1:9/commerce/query/2.0/Orders/Orders?$skip=2&x=1"),
        "2": odata_page([{"Id": 3}], "Orders?$skip=3&x=1"),
        "3": odata_page([{"Id": 4}]),
    }
    queries: list[dict[str, str]] = []

    def orders(request, query):
        queries.append(query)
        assert request.headers["applicationId"] == "1244"
        return pages[query.get("$skip")]

    norce.routes[ORDERS] = orders
    since = datetime(2025, 5, 1, 2, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    result = list(make_client(connector, norce).orders_since(since, page_size=2))
    assert [o["Id"] for o in result] == [1, 2, 3, 4]
    assert queries[0] == {
        "$filter": "ApplicationId eq 1244 and (Updated ge 2025-05-01T00:00:00Z or "
        "(Updated eq null and Created ge 2025-05-01T00:00:00Z))",
        "$expand": "Items,Buyer,Payer,ShipTo",
        "$orderby": "Id",
        "$top": "2",
    }
    assert [q.get("$skip") for q in queries] == [None, "2", "3"]
    assert len(norce.token_requests()) == 1


def test_next_link_to_another_host_stays_on_ours(connector, norce):
    calls: list[str] = []

    def orders(request, query):
        calls.append(request.url)
        if "$skip" in query:
            return odata_page([{"Id": 2}])
        return odata_page([{"Id": 1}], "https://elsewhere.example/commerce/query/2.0/Orders/Orders?$skip=1")

    norce.routes[ORDERS] = orders
    assert [o["Id"] for o in make_client(connector, norce).orders_since(datetime(2025, 5, 1))] == [1, 2]
    assert all(url.startswith("http://127.0.0.1:9/") for url in calls)


def test_page_size_is_capped_at_500(connector, norce):
    norce.routes[ORDERS] = lambda request, query: odata_page([])
    assert list(make_client(connector, norce).orders_since(datetime(2025, 5, 1), page_size=5000)) == []
    assert parse_qs(urlsplit(norce.api_requests()[0].url).query)["$top"] == ["500"]


def test_missing_application_id(connector, norce):
    connector.settings.pop("application_id")
    connector.save()
    with pytest.raises(SyncError) as caught:
        make_client(connector, norce).get_order("1")
    assert caught.value.code == "norce.application_id_missing"
    assert not norce.sent


def test_query_errors_are_mapped(connector, norce):
    client = make_client(connector, norce)
    norce.routes[ORDERS] = lambda request, query: (400, {"Message": "The query specified in the URI is not valid."}, {})
    with pytest.raises(SyncError) as caught:
        client.get_order("1")
    assert caught.value.code == "norce.validation" and "URI is not valid" in caught.value.message

    replies = iter([(503, "Service Unavailable", {}), odata_page([{"Id": 7}])])
    norce.routes[ORDERS] = lambda request, query: next(replies)
    assert client.get_order("1") == {"Id": 7}

    norce.routes[ORDERS] = lambda request, query: (429, "Too many requests", {"Retry-After": "0"})
    with pytest.raises(SyncError) as caught:
        client.get_order("1")
    assert caught.value.code == "http.rate_limited" and not caught.value.permanent

    norce.routes[ORDERS] = lambda request, query: (200, "<html>", {})
    with pytest.raises(SyncError) as caught:
        client.get_order("1")
    assert caught.value.code == "http.bad_response"


def test_test_connection(connector, norce):
    queries: list[dict[str, str]] = []
    norce.routes[ORDERS] = lambda request, query: (queries.append(query), odata_page([{"Id": 1}]))[1]
    message = make_client(connector, norce).test_connection()
    assert "1244" in message and "playground" in message
    assert queries == [{"$filter": "ApplicationId eq 1244", "$top": "1", "$select": "Id"}]


# --- Connect ------------------------------------------------------------------------------


def test_send_order_status_body(connector, norce):
    bodies: list[Any] = []
    norce.routes[STATUS] = lambda request, query: (bodies.append(json.loads(request.body)), (200, "", {}))[1]
    assert make_client(connector, norce).send_order_status("700123", erp_order_no="FX-10045") is None
    assert bodies == [
        {
            "ClientOrderRef": 700123,
            "ErpOrderNo": "FX-10045",
            "OrderStatus": "Confirmed",
            "Infos": [{"Code": "ErpRef", "Value": "FX-10045"}],
            "AccountId": 10000,
        }
    ]
    [request] = norce.api_requests()
    assert request.method == "POST" and request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer token-1"


def test_send_order_status_rejected(connector, norce):
    norce.routes[STATUS] = lambda request, query: (
        400,
        {"StatusCode": "Failed", "Description": "Order 700123 not found"},
        {},
    )
    with pytest.raises(SyncError) as caught:
        make_client(connector, norce).send_order_status("700123", erp_order_no="FX-10045")
    assert caught.value.code == "norce.status_rejected" and caught.value.permanent
    assert "Order 700123 not found" in caught.value.message and caught.value.status == 400


def test_connect_is_rate_limited_per_host_and_query_is_not(connector, norce):
    client = make_client(connector, norce)
    key, limit = client.rate_limit("http://127.0.0.1:9" + STATUS)
    assert key == "norce-connect:127.0.0.1:9"
    assert (limit.limit, limit.window) == (CONNECT_LIMIT.limit, CONNECT_LIMIT.window) == (60, 60.0)
    # Ten requests a minute are kept for priority callers (stock, order statuses).
    assert (limit.allowed(priority=False), limit.allowed(priority=True)) == (50, 60)
    assert client.rate_limit("http://127.0.0.1:9" + ORDERS) is None


# --- error bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, text, code, said",
    [
        (
            400,
            {"StatusCode": "Failed", "Description": "Unknown order"},
            "",
            "norce.validation",
            "Failed: Unknown order",
        ),
        (400, {"Message": "Bad filter"}, "", "norce.validation", "Bad filter"),
        (422, {"message": "camel"}, "", "norce.validation", "camel"),
        (
            400,
            {"title": "One or more validation errors occurred.", "errors": {"ClientOrderRef": ["is invalid"]}},
            "",
            "norce.validation",
            "ClientOrderRef: is invalid",
        ),
        (
            400,
            {"StatusCode": "Failed", "ValidationSummary": {"Messages": ["PartNo missing"]}},
            "",
            "norce.validation",
            "PartNo missing",
        ),
        (
            400,
            {"error": {"code": "400", "message": "$filter: unknown property 'Foo'"}},
            "",
            "norce.validation",
            "unknown property 'Foo'",
        ),
        (401, {"error": "invalid_client"}, "", "norce.auth", "invalid_client"),
        (404, None, "Not Found", "http.client_error", "Not Found"),
        (500, None, "", "http.server_error", "no error text"),
        (429, None, "Too many requests", "http.rate_limited", "Too many requests"),
    ],
)
def test_error_for(status, body, text, code, said):
    error = errors.error_for(status, body, text)
    assert error.code == code and error.status == status
    assert said in error.message and said in error.details["norce_message"]
