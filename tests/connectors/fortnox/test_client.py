"""FortnoxClient against a fake HTTP transport: only the adapter under requests.Session is faked."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core import signing
from django.utils import timezone
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from connectors.fortnox import oauth
from connectors.fortnox.client import FortnoxClient
from connectors.fortnox.errors import error_for, oauth_error_for
from core.errors import SyncError
from integrations.engine.clients import client_for
from integrations.models import Connector, RateLimitBucket

SECRETS = ("fortnox-secret-value", "refresh-secret-1", "access-secret-old", "refresh-secret-2", "access-secret-new")

Reply = tuple  # (status, body, headers?)


class FakeTransport(BaseAdapter):
    """Answers requests from per-route queues of replies; the last reply of a route repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], list[Reply | Callable[[requests.PreparedRequest], Reply]]] = {}
        self.sent: list[requests.PreparedRequest] = []

    def on(self, method: str, path: str, *replies: Reply | Callable[[requests.PreparedRequest], Reply]) -> None:
        self.routes[(method, path)] = list(replies)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        path = urlsplit(request.url).path
        queue = self.routes.get((request.method, path))
        if not queue:
            reply: Reply = (404, {"ErrorInformation": {"error": 1, "message": "Not found", "code": 2000000}})
        else:
            entry = queue.pop(0) if len(queue) > 1 else queue[0]
            reply = entry(request) if callable(entry) else entry
        status, body, *rest = reply
        response = requests.Response()
        response.status_code = status
        response._content = b"" if body is None else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(rest[0] if rest else {})})
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass

    def calls(self, method: str, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if r.method == method and urlsplit(r.url).path == path]


def query(request: requests.PreparedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}


def form(request: requests.PreparedRequest) -> dict[str, str]:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    return {k: v[0] for k, v in parse_qs(body).items()}


def token_reply(access: str, refresh: str | None = None) -> Reply:
    body = {"access_token": access, "expires_in": 3600, "token_type": "bearer", "scope": "invoice customer"}
    if refresh:
        body["refresh_token"] = refresh
    return (200, body)


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}


@pytest.fixture
def connector(integration) -> Connector:
    erp = integration.connectors.get(role=Connector.Role.ERP)
    erp.tokens = {
        "access_token": "access-secret-old",
        "refresh_token": "refresh-secret-1",
        "expires_at": (timezone.now() + timedelta(hours=1)).isoformat(),
    }
    erp.save()
    return erp


@pytest.fixture
def fake() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def client(connector, fake) -> FortnoxClient:
    session = requests.Session()
    session.mount("http://", fake)
    session.mount("https://", fake)
    return client_for(connector, session=session)


def assert_no_secrets(error: SyncError) -> None:
    text = " ".join([str(error), error.message, error.hint, json.dumps(error.details, default=str)])
    for secret in SECRETS:
        assert secret not in text


# -- plain calls ------------------------------------------------------------------------
def test_company_information_sends_bearer_token(client, fake):
    fake.on(
        "GET", "/3/companyinformation", (200, {"CompanyInformation": {"CompanyName": "Demo AB", "DatabaseNumber": 42}})
    )
    assert client.company_information() == {"CompanyName": "Demo AB", "DatabaseNumber": 42}
    sent = fake.sent[0]
    assert sent.headers["Authorization"] == "Bearer access-secret-old"
    assert sent.headers["Accept"] == "application/json"


# List items carrying the credit fields (else the client reads each exact hit in full).
LISTED = {"Credit": "false", "CreditInvoiceReference": "0"}


def test_live_invoices_exact_match_ignores_substrings_and_cancelled(client, fake):
    fake.on(
        "GET",
        "/3/invoices",
        (
            200,
            {
                "Invoices": [
                    {"DocumentNumber": "3", "ExternalInvoiceReference1": "1234", "Cancelled": False, **LISTED},
                    {"DocumentNumber": "4", "ExternalInvoiceReference1": "123", "Cancelled": True, **LISTED},
                    {"DocumentNumber": "9", "ExternalInvoiceReference1": "123", "Cancelled": False, **LISTED},
                    {"DocumentNumber": "7", "ExternalInvoiceReference1": "123", "Cancelled": False, **LISTED},
                    {"DocumentNumber": "8", "ExternalInvoiceReference1": "0123", "Cancelled": False, **LISTED},
                ],
                "MetaInformation": {"@TotalResources": 5, "@TotalPages": 1, "@CurrentPage": 1},
            },
        ),
    )
    found = client.live_invoices("ExternalInvoiceReference1", "123")
    assert [i["DocumentNumber"] for i in found] == ["7", "9"]  # exact, non-cancelled hits, oldest first
    params = query(fake.sent[0])
    assert params["externalinvoicereference1"] == "123"
    assert params["page"] == "1"


def test_live_invoices_reads_every_page(client, fake):
    def page(request):
        number = int(query(request)["page"])
        items = {
            1: [{"DocumentNumber": "1", "YourOrderNumber": "1001", **LISTED}],
            2: [{"DocumentNumber": "2", "YourOrderNumber": "100", **LISTED}],
        }[number]
        return (200, {"Invoices": items, "MetaInformation": {"@TotalPages": 2, "@CurrentPage": number}})

    fake.on("GET", "/3/invoices", page)
    assert client.live_invoices("YourOrderNumber", "100")[0]["DocumentNumber"] == "2"
    assert [query(r)["page"] for r in fake.sent] == ["1", "2"]
    assert query(fake.sent[0])["yourordernumber"] == "100"


def test_live_invoices_nothing_found(client, fake):
    fake.on(
        "GET",
        "/3/invoices",
        (200, {"Invoices": [{"DocumentNumber": "1", "ExternalInvoiceReference1": "1234", **LISTED}]}),
    )
    assert client.live_invoices("ExternalInvoiceReference1", "123") == []


def test_find_customer_exact_case_insensitive_active_first(client, fake):
    fake.on(
        "GET",
        "/3/customers",
        (
            200,
            {
                "Customers": [
                    {"CustomerNumber": "1", "Email": "anna@example.se.old", "Active": True},
                    {"CustomerNumber": "2", "Email": "ANNA@example.se", "Active": False},
                    {"CustomerNumber": "5", "Email": "anna@example.se", "Active": True},
                    {"CustomerNumber": "3", "Email": "xanna@example.se", "Active": True},
                ],
                "MetaInformation": {"@TotalPages": 1},
            },
        ),
    )
    assert client.find_customer("email", "Anna@Example.se")["CustomerNumber"] == "5"
    assert query(fake.sent[0])["email"] == "Anna@Example.se"


def test_find_customer_by_organisation_number(client, fake):
    fake.on(
        "GET",
        "/3/customers",
        (
            200,
            {
                "Customers": [
                    {"CustomerNumber": "1", "OrganisationNumber": "556677-88990", "Active": True},
                    {"CustomerNumber": "2", "OrganisationNumber": "556677-8899", "Active": True},
                ]
            },
        ),
    )
    assert client.find_customer("organisationnumber", "556677-8899")["CustomerNumber"] == "2"
    with pytest.raises(ValueError):
        client.find_customer("name", "x")


def test_create_and_get_invoice(client, fake):
    fake.on("POST", "/3/invoices", (201, {"Invoice": {"DocumentNumber": "101", "CustomerNumber": "1"}}))
    fake.on("GET", "/3/invoices/101", (200, {"Invoice": {"DocumentNumber": "101", "Total": 99}}))
    assert client.create_invoice({"CustomerNumber": "1"})["DocumentNumber"] == "101"
    assert json.loads(fake.sent[0].body) == {"Invoice": {"CustomerNumber": "1"}}
    assert client.get_invoice("101")["Total"] == 99


def test_create_invoice_is_not_resent_after_a_server_error(client, fake):
    fake.on(
        "POST",
        "/3/invoices",
        (500, {"ErrorInformation": {"error": 1, "message": "Oops", "code": 1000003}}),
        (201, {"Invoice": {"DocumentNumber": "101"}}),
    )
    with pytest.raises(SyncError) as caught:
        client.create_invoice({"CustomerNumber": "1"})
    assert not caught.value.permanent
    assert len(fake.calls("POST", "/3/invoices")) == 1


def test_create_invoice_is_resent_after_429(client, fake):
    fake.on("POST", "/3/invoices", (429, None, {"Retry-After": "0"}), (201, {"Invoice": {"DocumentNumber": "5"}}))
    assert client.create_invoice({"CustomerNumber": "1"})["DocumentNumber"] == "5"
    assert len(fake.calls("POST", "/3/invoices")) == 2


def test_customers_and_articles(client, fake):
    fake.on("POST", "/3/customers", (201, {"Customer": {"CustomerNumber": "12", "Name": "Anna"}}))
    fake.on("POST", "/3/articles", (201, {"Article": {"ArticleNumber": "A/1", "Description": "Ett"}}))
    fake.on("GET", "/3/articles/A%2F1", (200, {"Article": {"ArticleNumber": "A/1"}}))
    assert client.create_customer({"Name": "Anna"})["CustomerNumber"] == "12"
    assert client.create_article({"ArticleNumber": "A/1", "Description": "Ett"})["ArticleNumber"] == "A/1"
    assert client.get_article("A/1") == {"ArticleNumber": "A/1"}
    assert client.get_article("MISSING") is None  # the fake answers 404
    assert client.known_articles(["A/1", "MISSING", ""]) == {"A/1"}


# -- rate limits ------------------------------------------------------------------------
def test_429_then_success(client, fake):
    fake.on(
        "GET",
        "/3/companyinformation",
        (429, {"message": "Too many"}, {"Retry-After": "0"}),
        (200, {"CompanyInformation": {"CompanyName": "Demo AB"}}),
    )
    assert client.company_information()["CompanyName"] == "Demo AB"
    assert len(fake.sent) == 2


def test_429_without_retry_after_pauses_briefly_and_retries(client, fake, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("connectors.transport.time.sleep", slept.append)
    monkeypatch.setattr("integrations.engine.ratelimit.time.sleep", slept.append)
    fake.on("GET", "/3/companyinformation", (429, None), (200, {"CompanyInformation": {"CompanyName": "Demo AB"}}))
    assert client.company_information()["CompanyName"] == "Demo AB"
    assert len(fake.sent) == 2
    assert slept and 1.0 <= sum(slept) <= 1.2


def test_rate_limit_counts_api_calls_per_connector_but_not_the_token_endpoint(client, fake, connector, settings):
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": True}
    key = f"fortnox:{connector.pk}"
    assert client.rate_limit(client.url("invoices")) == (key, client.rate_limit(client.url("x"))[1])
    limit = client.rate_limit(client.url("invoices"))[1]
    assert (limit.limit, limit.window) == (25, 5.0)
    assert client.rate_limit(oauth.token_url(connector)) is None
    fake.on("GET", "/3/companyinformation", (200, {"CompanyInformation": {}}))
    client.company_information()
    assert len(RateLimitBucket.objects.get(key=key).hits) == 1


# -- tokens -----------------------------------------------------------------------------
def test_401_refreshes_the_token_once_then_succeeds(client, fake, connector):
    fake.on(
        "GET",
        "/3/companyinformation",
        lambda r: (
            (200, {"CompanyInformation": {"CompanyName": "Demo AB"}})
            if r.headers["Authorization"] == "Bearer access-secret-new"
            else (401, {"ErrorInformation": {"error": 1, "message": "Unauthorized", "code": 2000310}})
        ),
    )
    fake.on("POST", "/oauth-v1/token", token_reply("access-secret-new", "refresh-secret-2"))
    assert client.company_information()["CompanyName"] == "Demo AB"

    [token_call] = fake.calls("POST", "/oauth-v1/token")
    assert form(token_call) == {"grant_type": "refresh_token", "refresh_token": "refresh-secret-1"}
    expected = base64.b64encode(b"fortnox-client:fortnox-secret-value").decode()
    assert token_call.headers["Authorization"] == f"Basic {expected}"
    assert token_call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Bearer" not in token_call.headers["Authorization"]
    stored = Connector.objects.get(pk=connector.pk).tokens
    assert (stored["access_token"], stored["refresh_token"]) == ("access-secret-new", "refresh-secret-2")
    assert len(fake.calls("GET", "/3/companyinformation")) == 2


def test_expired_token_is_refreshed_before_the_call(client, fake, connector):
    connector.tokens = {**connector.tokens, "expires_at": (timezone.now() - timedelta(minutes=1)).isoformat()}
    connector.save()
    fake.on("POST", "/oauth-v1/token", token_reply("access-secret-new", "refresh-secret-2"))
    fake.on("GET", "/3/companyinformation", (200, {"CompanyInformation": {}}))
    client.company_information()
    assert fake.sent[0].url.endswith("/oauth-v1/token")
    assert fake.sent[1].headers["Authorization"] == "Bearer access-secret-new"


def test_invalid_grant_on_refresh_is_permanent_and_clears_nothing(client, fake, connector):
    connector.tokens = {**connector.tokens, "expires_at": (timezone.now() - timedelta(minutes=1)).isoformat()}
    connector.save()
    fake.on("POST", "/oauth-v1/token", (400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}))
    with pytest.raises(SyncError) as caught:
        client.company_information()
    error = caught.value
    assert error.code == "fortnox.invalid_refresh_token"
    assert error.permanent
    assert "Connect to Fortnox" in error.hint
    assert_no_secrets(error)
    assert len(fake.calls("POST", "/oauth-v1/token")) == 1
    assert Connector.objects.get(pk=connector.pk).tokens["refresh_token"] == "refresh-secret-1"
    assert not fake.calls("GET", "/3/companyinformation")


def test_a_second_401_after_refresh_is_an_auth_error_without_secrets(client, fake):
    fake.on(
        "GET",
        "/3/companyinformation",
        (401, {"ErrorInformation": {"Error": 1, "Message": "Invalid token", "Code": 2000310}}),
    )
    fake.on("POST", "/oauth-v1/token", token_reply("access-secret-new", "refresh-secret-2"))
    with pytest.raises(SyncError) as caught:
        client.company_information()
    assert caught.value.code == "fortnox.auth"
    assert caught.value.permanent
    assert len(fake.calls("POST", "/oauth-v1/token")) == 1
    assert_no_secrets(caught.value)


def test_not_connected_without_tokens(client, fake, connector):
    connector.tokens = {}
    connector.save()
    with pytest.raises(SyncError) as caught:
        client.company_information()
    assert caught.value.code == "fortnox.not_connected"
    assert "Connect to Fortnox" in caught.value.hint
    assert not fake.sent


def test_client_credentials_with_tenant_id(client, fake, connector):
    connector.tokens = {}
    connector.settings = {"grant": "client_credentials", "tenant_id": "987654"}
    connector.save()
    fake.on("POST", "/oauth-v1/token", token_reply("access-secret-new"))
    fake.on("GET", "/3/companyinformation", (200, {"CompanyInformation": {}}))
    client.company_information()
    token_call = fake.sent[0]
    assert form(token_call) == {"grant_type": "client_credentials"}
    assert token_call.headers["TenantId"] == "987654"
    assert token_call.headers["Authorization"].startswith("Basic ")
    assert Connector.objects.get(pk=connector.pk).tokens["access_token"] == "access-secret-new"


def test_wrong_client_secret_is_an_auth_error_without_secrets(client, fake, connector):
    connector.tokens = {"refresh_token": "refresh-secret-1"}
    connector.save()
    fake.on(
        "POST",
        "/oauth-v1/token",
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
    )
    with pytest.raises(SyncError) as caught:
        client.company_information()
    assert caught.value.code == "fortnox.auth"
    assert "invalid_client" in caught.value.message
    assert_no_secrets(caught.value)


# -- error bodies -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "info",
    [
        {"error": 1, "message": 'Kunde inte hitta artikel "X-1"', "code": 2001302},
        {"Error": 1, "Message": 'Kunde inte hitta artikel "X-1"', "Code": 2001302},
    ],
)
def test_error_body_in_either_casing(client, fake, info):
    fake.on("POST", "/3/invoices", (400, {"ErrorInformation": info}))
    with pytest.raises(SyncError) as caught:
        client.create_invoice({"CustomerNumber": "1"})
    error = caught.value
    assert error.code == "fortnox.article_not_found"
    assert error.permanent and error.status == 400
    assert "X-1" in error.message and "2001302" in error.message
    assert error.details["fortnox_code"] == 2001302
    assert error.details["fortnox_message"] == 'Kunde inte hitta artikel "X-1"'


@pytest.mark.parametrize(
    "status, info, code, permanent",
    [
        (400, {"error": 1, "message": "Kan inte hitta kontot.", "code": 2001304}, "fortnox.account_not_found", True),
        (403, {"error": 1, "message": "Saknar behörighet för scope", "code": 2000663}, "fortnox.no_scope", True),
        (403, {"Error": 1, "Message": "Ingen licens", "Code": 2001101}, "fortnox.no_licence", True),
        (400, {"error": 1, "message": "Ogiltigt fältnamn", "code": 2001399}, "fortnox.invalid_field", True),
        (
            400,
            {"error": 1, "message": "Kundnummer används redan", "code": 2000637},
            "fortnox.customer_number_used",
            True,
        ),
        (400, {"error": 1, "message": "JSON syntax error", "code": 2002115}, "fortnox.json_syntax", True),
        (404, {"error": 1, "message": "Kan inte hitta kunden.", "code": 2000433}, "fortnox.customer_not_found", True),
        (500, {"error": 1, "message": "Systemfel", "code": 1000003}, "fortnox.system_exception", False),
        (400, {"error": 1, "message": "Systemfel", "code": 1000003}, "fortnox.system_exception", False),
        (503, None, "fortnox.server_error", False),
        (401, None, "fortnox.auth", True),
        # message fallbacks for failures without a known code
        (400, {"error": 1, "message": "Kunde inte hämta moms", "code": 2999999}, "fortnox.vat_not_set_up", True),
        (400, {"error": 1, "message": "Valutan USD finns inte", "code": 2999998}, "fortnox.currency_not_set_up", True),
        (
            400,
            {"error": 1, "message": "Räkenskapsår saknas för datumet", "code": 2999997},
            "fortnox.fiscal_year_missing",
            True,
        ),
        (400, {"Error": 1, "Message": "No financial year found", "Code": 2999996}, "fortnox.fiscal_year_missing", True),
        (400, {"error": 1, "message": "Kan inte hitta kunden", "code": 2999995}, "fortnox.customer_not_found", True),
        (400, {"error": 1, "message": "Kunden måste ha ett namn"}, "fortnox.customer_name_empty", True),
        (400, {"error": 1, "message": "Fakturan är bokförd och kan inte ändras"}, "fortnox.document_locked", True),
        (
            400,
            {"error": 1, "message": "Fakturan är makulerad och kan inte ändras.", "code": 2999008},
            "fortnox.document_locked",
            True,
        ),
        (
            400,
            {"error": 1, "message": "Kunde inte hämta/hitta valuta (USD)", "code": 2999004},
            "fortnox.currency_not_set_up",
            True,
        ),
        (400, {"error": 1, "message": "Kundnamn måste anges.", "code": 2999001}, "fortnox.customer_name_empty", True),
        (400, {"error": 1, "message": "Felaktigt fältnamn (Foo)", "code": 2999999}, "fortnox.invalid_field", True),
        (400, {"error": 1, "message": "Artikelnummer A-1 används redan.", "code": 2999006}, "fortnox.validation", True),
        (400, {"error": 1, "message": "Något annat gick fel", "code": 2000106}, "fortnox.validation", True),
        (404, {"error": 1, "message": "Hittades inte"}, "fortnox.not_found", True),
    ],
)
def test_error_for(status, info, code, permanent):
    body = None if info is None else {"ErrorInformation": info}
    error = error_for(status, body, json.dumps(body) if body else "<html>boom</html>")
    assert error.code == code
    assert error.permanent is permanent
    assert error.status == status
    assert error.hint


def test_error_for_without_json_keeps_the_text():
    error = error_for(400, None, "Bad things happened")
    assert error.code == "fortnox.validation"
    assert "Bad things happened" in error.message


def test_oauth_error_for():
    assert (
        oauth_error_for(400, {"error": "invalid_grant"}, "", grant_type="refresh_token").code
        == "fortnox.invalid_refresh_token"
    )
    assert oauth_error_for(400, {"error": "invalid_scope"}, "").code == "fortnox.no_scope"
    assert oauth_error_for(502, None, "bad gateway").permanent is False


# -- oauth ------------------------------------------------------------------------------
def test_authorization_url(connector):
    url = oauth.authorization_url(
        connector,
        redirect_uri="https://brygga.example/cb",
        state="s1",
        scopes=["invoice", "customer"],
        service_account=True,
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://127.0.0.1:9/oauth-v1/auth"
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert params == {
        "client_id": "fortnox-client",
        "redirect_uri": "https://brygga.example/cb",
        "scope": "invoice customer",
        "state": "s1",
        "access_type": "offline",
        "response_type": "code",
        "account_type": "service",
    }
    assert "%20" in parts.query
    assert "fortnox-secret-value" not in url


def test_authorization_url_defaults_to_apps_fortnox(connector):
    connector.auth_url = ""
    url = oauth.authorization_url(connector, redirect_uri="https://b/cb", state="s")
    assert url.startswith("https://apps.fortnox.se/oauth-v1/auth?")
    assert "account_type" not in url
    assert parse_qs(urlsplit(url).query)["scope"][0] == " ".join(oauth.DEFAULT_SCOPES)


def test_state_round_trip_and_tampering():
    state = oauth.make_state(42)
    assert oauth.read_state(state) == 42
    with pytest.raises(signing.BadSignature):
        oauth.read_state(state[:-2] + "xx")
    with pytest.raises(signing.BadSignature):
        oauth.read_state(signing.dumps({"connector": 42}, salt="another"))


def test_exchange_code_stores_tokens(connector, fake):
    connector.tokens = {}
    connector.save()
    fake.on("POST", "/oauth-v1/token", token_reply("access-secret-new", "refresh-secret-2"))
    session = requests.Session()
    session.mount("http://", fake)
    client_for(connector, session=session).exchange_code(code="c0de", redirect_uri="https://brygga.example/cb")
    assert form(fake.sent[0]) == {
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": "https://brygga.example/cb",
    }
    assert fake.sent[0].headers["Authorization"].startswith("Basic ")
    stored = Connector.objects.get(pk=connector.pk)
    assert stored.tokens["refresh_token"] == "refresh-secret-2"
    assert stored.token_expires_at > timezone.now() + timedelta(minutes=50)


def test_exchange_code_with_a_used_code_asks_to_reconnect(connector, fake):
    fake.on("POST", "/oauth-v1/token", (400, {"error": "invalid_grant", "error_description": "code used"}))
    session = requests.Session()
    session.mount("http://", fake)
    with pytest.raises(SyncError) as caught:
        client_for(connector, session=session).exchange_code(code="c0de", redirect_uri="https://b/cb")
    assert caught.value.code == "fortnox.auth"
    assert "expired or was already used" in caught.value.message
    assert "Connect to Fortnox" in caught.value.hint
    assert_no_secrets(caught.value)
