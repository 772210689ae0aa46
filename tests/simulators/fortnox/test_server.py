"""The Fortnox simulator over real HTTP: OAuth, rate limit, errors, lists and invoice totals."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from simulators.base import Faults
from simulators.fortnox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FortnoxSimulator

BASIC = "Basic " + base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()


@pytest.fixture
def server(fortnox_server: FortnoxSimulator) -> FortnoxSimulator:
    return fortnox_server


@pytest.fixture
def sim(server: FortnoxSimulator) -> FortnoxSimulator:
    """The shared server with fresh data, tokens, faults and switches."""
    server.reset(auth=True)
    server.faults = Faults()
    server.limiter.enabled = True
    server.capitalised_errors = False
    server.round_off_to_whole = False
    server.retry_after_header = False
    server.enforce_scopes = True
    return server


@pytest.fixture
def token(sim: FortnoxSimulator) -> str:
    return sim.issue_tokens()["access_token"]


def api(
    sim: FortnoxSimulator, method: str, path: str, token: str, body: Any = None, **params: Any
) -> requests.Response:
    data = body if isinstance(body, (str, bytes)) else (json.dumps(body) if body is not None else None)
    return requests.request(
        method,
        sim.url + path,
        params=params or None,
        data=data,
        timeout=5,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"},
    )


def decimal_json(response: requests.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def token_request(sim: FortnoxSimulator, form: dict[str, str], **headers: str) -> requests.Response:
    return requests.post(sim.url + "/oauth-v1/token", data=form, timeout=5, headers={"Authorization": BASIC, **headers})


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def seed_shop(sim: FortnoxSimulator) -> None:
    sim.add_customer("Anna Svensson", Email="anna@example.se")
    sim.add_article("TS-1", "T-shirt", sales_price="159.20", vat=25, quantity_in_stock=10)
    sim.add_article("KAFFE", "Kaffe 450 g", sales_price="79.46", vat=12)
    sim.add_article("BOK", "Roman", sales_price="216.04", vat=6)


# -- OAuth -------------------------------------------------------------------------------------


def test_authorization_code_gives_tokens_once(sim: FortnoxSimulator) -> None:
    redirect = "https://brygga.example/oauth/fortnox/callback"
    consent = requests.get(
        sim.url + "/oauth-v1/auth",
        allow_redirects=False,
        timeout=5,
        params={
            "client_id": DEFAULT_CLIENT_ID,
            "redirect_uri": redirect,
            "scope": "invoice customer article",
            "state": "xyz",
            "access_type": "offline",
            "response_type": "code",
        },
    )
    assert consent.status_code == 302
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]

    form = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect}
    answer = token_request(sim, form)
    assert answer.status_code == 200
    grant = answer.json()
    assert set(grant) == {"access_token", "refresh_token", "scope", "expires_in", "token_type"}
    assert grant["expires_in"] == 3600 and grant["token_type"] == "bearer"
    assert jwt_claims(grant["access_token"])["tenantId"] == sim.tenant_id
    assert api(sim, "GET", "/3/invoices", grant["access_token"]).status_code == 200

    again = token_request(sim, form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_consent_page_refuses_unknown_client(sim: FortnoxSimulator) -> None:
    page = requests.get(
        sim.url + "/oauth-v1/auth",
        allow_redirects=False,
        timeout=5,
        params={
            "client_id": "nobody",
            "redirect_uri": "https://x.example/cb",
            "scope": "invoice",
            "state": "s",
            "response_type": "code",
        },
    )
    assert page.status_code == 400 and "text/html" in page.headers["Content-Type"]


def test_refresh_rotates_and_reuse_is_invalid_grant(sim: FortnoxSimulator) -> None:
    first = sim.issue_tokens()
    rotated = token_request(sim, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]

    reuse = token_request(sim, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant" and reuse.json()["error_description"]
    assert sim.refresh_token_uses[first["refresh_token"]] == 2
    assert [t["grant_type"] for t in sim.issued_tokens] == ["seed", "refresh_token"]
    assert api(sim, "GET", "/3/invoices", second["access_token"]).status_code == 200


def test_token_endpoint_needs_client_credentials(sim: FortnoxSimulator) -> None:
    refresh = sim.issue_tokens()["refresh_token"]
    wrong = requests.post(
        sim.url + "/oauth-v1/token",
        timeout=5,
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"Authorization": "Basic " + base64.b64encode(b"fortnox-client:wrong").decode()},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_client_credentials_require_tenant_id(sim: FortnoxSimulator) -> None:
    missing = token_request(sim, {"grant_type": "client_credentials"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"

    granted = token_request(sim, {"grant_type": "client_credentials"}, TenantId=str(sim.tenant_id))
    assert granted.status_code == 200
    assert "refresh_token" not in granted.json()
    assert api(sim, "GET", "/3/companyinformation", granted.json()["access_token"]).status_code == 200


def test_bearer_is_required_and_expiry_is_enforced(sim: FortnoxSimulator, token: str) -> None:
    anonymous = requests.get(sim.url + "/3/customers", timeout=5)
    assert anonymous.status_code == 401
    assert set(anonymous.json()["ErrorInformation"]) == {"error", "message", "code"}

    assert api(sim, "GET", "/3/customers", token).status_code == 200
    sim.expire_access_tokens()
    assert api(sim, "GET", "/3/customers", token).status_code == 401


def test_missing_scope_is_forbidden(sim: FortnoxSimulator) -> None:
    narrow = sim.issue_tokens(scope="invoice")["access_token"]
    refused = api(sim, "GET", "/3/customers", narrow)
    assert refused.status_code == 403 and refused.json()["ErrorInformation"]["code"] == 2000663


# -- rate limit and faults ------------------------------------------------------------------------


def test_rate_limit_is_per_access_token(sim: FortnoxSimulator, token: str) -> None:
    statuses = [api(sim, "GET", "/3/companyinformation", token).status_code for _ in range(25)]
    assert statuses == [200] * 25
    over = api(sim, "GET", "/3/companyinformation", token)
    assert over.status_code == 429
    assert "ErrorInformation" in over.json() and "Retry-After" not in over.headers

    other = sim.issue_tokens()["access_token"]
    assert api(sim, "GET", "/3/companyinformation", other).status_code == 200
    sim.retry_after_header = True
    assert int(api(sim, "GET", "/3/companyinformation", token).headers["Retry-After"]) >= 1
    assert sim.rate_limited == 2


def test_rate_limit_can_be_switched_off(sim: FortnoxSimulator, token: str) -> None:
    sim.limiter.enabled = False
    assert all(api(sim, "GET", "/3/companyinformation", token).status_code == 200 for _ in range(30))


def test_control_api_sets_a_5xx_rate(sim: FortnoxSimulator, token: str) -> None:
    assert requests.post(sim.url + "/_sim/faults", json={"error_5xx_rate": 1.0}, timeout=5).status_code == 200
    failed = api(sim, "GET", "/3/customers", token)
    assert failed.status_code in (500, 502, 503)
    assert failed.json()["ErrorInformation"]["code"] == 1000003
    requests.post(sim.url + "/_sim/faults/reset", timeout=5)
    assert api(sim, "GET", "/3/customers", token).status_code == 200


def test_a_storm_of_n_requests_refuses_exactly_the_next_n_under_its_paths(sim: FortnoxSimulator, token: str) -> None:
    sim.limiter.enabled = False
    sim.faults.update({"storm_requests": 3, "paths": ["/3/customers"]})
    assert api(sim, "GET", "/3/companyinformation", token).status_code == 200  # not under the storm's paths
    statuses = [api(sim, "GET", "/3/customers", token).status_code for _ in range(5)]
    assert statuses == [429, 429, 429, 200, 200]


# -- errors --------------------------------------------------------------------------------------


def test_unknown_article_is_2001302_with_lowercase_keys(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    body = {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [{"ArticleNumber": "NOPE", "DeliveredQuantity": 1}]}}
    refused = api(sim, "POST", "/3/invoices", token, body)
    assert refused.status_code == 400
    assert refused.json() == {"ErrorInformation": {"error": 1, "message": "Kunde inte hitta artikel", "code": 2001302}}
    assert sim.invoices == {}

    sim.add_article("NOPE", "Now it exists", sales_price=10)
    assert api(sim, "POST", "/3/invoices", token, body).status_code == 201


def test_capitalised_error_keys_switch(sim: FortnoxSimulator, token: str) -> None:
    sim.capitalised_errors = True
    missing = api(sim, "GET", "/3/customers/999", token)
    assert missing.status_code == 404
    assert missing.json() == {"ErrorInformation": {"Error": 1, "Message": "Kan inte hitta kunden.", "Code": 2000433}}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", 2001392),
        ('{"Customer": {"Name": ', 2002115),
        ({"Kund": {"Name": "A"}}, 2001399),
        ({"Customer": {"Name": "A", "Nickname": "B"}}, 2001399),
        ({"Customer": {"Email": "a@example.se"}}, None),  # Name is required (the code is unpublished)
    ],
)
def test_bad_customer_bodies(sim: FortnoxSimulator, token: str, body: Any, code: int | None) -> None:
    refused = api(sim, "POST", "/3/customers", token, body)
    assert refused.status_code == 400
    if code is not None:
        assert refused.json()["ErrorInformation"]["code"] == code


def test_invoice_validation_codes(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)

    def post(header: dict[str, Any], row: dict[str, Any] | None = None) -> requests.Response:
        invoice = {"CustomerNumber": "1", "InvoiceRows": [row or {"ArticleNumber": "TS-1", "DeliveredQuantity": 1}]}
        return api(sim, "POST", "/3/invoices", token, {"Invoice": {**invoice, **header}})

    assert post({"CustomerNumber": "404"}).json()["ErrorInformation"]["code"] == 2000204
    assert (
        post({}, {"Description": "Frakt", "Price": 49, "DeliveredQuantity": 1, "AccountNumber": 9999}).json()[
            "ErrorInformation"
        ]["code"]
        == 2001304
    )
    assert post({}, {"ArticleNumber": "TS-1", "DeliveredQuantity": 1, "VAT": 19}).status_code == 400
    assert post({"Currency": "XYZ"}).status_code == 400
    assert post({"Currency": "EUR"}).status_code == 201
    assert post({}, {"ArticleNumber": "TS-1", "DeliveredQuantity": "två"}).json()["ErrorInformation"]["code"] == 2000108


# -- customers and lists ---------------------------------------------------------------------------


def test_customers_are_numbered_and_searched_by_substring(sim: FortnoxSimulator, token: str) -> None:
    first = api(sim, "POST", "/3/customers", token, {"Customer": {"Name": "Anna", "Email": "Anna@Example.se"}})
    second = api(sim, "POST", "/3/customers", token, {"Customer": {"Name": "Bo", "Email": "bo@example.se"}})
    assert first.status_code == 201 and first.json()["Customer"]["CustomerNumber"] == "1"
    assert second.json()["Customer"]["CustomerNumber"] == "2"
    assert (
        api(sim, "POST", "/3/customers", token, {"Customer": {"Name": "C", "CustomerNumber": "2"}}).json()[
            "ErrorInformation"
        ]["code"]
        == 2000637
    )

    found = api(sim, "GET", "/3/customers", token, email="anna@example").json()
    assert [c["CustomerNumber"] for c in found["Customers"]] == ["1"]
    assert found["MetaInformation"] == {"@TotalResources": 1, "@TotalPages": 1, "@CurrentPage": 1}

    updated = api(sim, "PUT", "/3/customers/2", token, {"Customer": {"City": "Umeå"}}).json()["Customer"]
    assert updated["City"] == "Umeå" and updated["Name"] == "Bo"


def test_paging_defaults_to_100_and_clamps_limit_at_500(sim: FortnoxSimulator, token: str) -> None:
    for index in range(501):
        sim.add_customer(f"Kund {index}")
    default = api(sim, "GET", "/3/customers", token).json()
    assert len(default["Customers"]) == 100 and default["MetaInformation"]["@TotalPages"] == 6

    clamped = api(sim, "GET", "/3/customers", token, limit=1000).json()
    assert len(clamped["Customers"]) == 500
    assert clamped["MetaInformation"] == {"@TotalResources": 501, "@TotalPages": 2, "@CurrentPage": 1}
    last = api(sim, "GET", "/3/customers", token, limit=1000, page=2).json()
    assert [c["CustomerNumber"] for c in last["Customers"]] == ["501"]


def test_lastmodified_returns_records_changed_after(sim: FortnoxSimulator, token: str) -> None:
    sim.clock = lambda: datetime(2026, 5, 4, 9, 0)
    sim.add_article("OLD", "Gammal")
    sim.clock = lambda: datetime(2026, 5, 4, 10, 30)
    sim.add_article("NEW", "Ny", quantity_in_stock=5)
    try:
        changed = api(sim, "GET", "/3/articles", token, lastmodified="2026-05-04 10:00").json()
    finally:
        del sim.clock  # back to the class's real clock
    assert [a["ArticleNumber"] for a in changed["Articles"]] == ["NEW"]
    assert changed["Articles"][0]["DisposableQuantity"] == "5"  # list items carry some numbers as text


def test_uppercase_query_parameter_is_refused(sim: FortnoxSimulator, token: str) -> None:
    refused = api(sim, "GET", "/3/invoices", token, ExternalInvoiceReference1="1")
    assert refused.status_code == 400 and refused.json()["ErrorInformation"]["code"] == 2000588


def test_unknown_resource_is_404(sim: FortnoxSimulator, token: str) -> None:
    missing = api(sim, "GET", "/3/vouchers", token)
    assert missing.status_code == 404 and "ErrorInformation" in missing.json()


def test_company_information_carries_the_tenant(sim: FortnoxSimulator, token: str) -> None:
    info = api(sim, "GET", "/3/companyinformation", token).json()["CompanyInformation"]
    assert info["DatabaseNumber"] == sim.tenant_id and info["CompanyName"]
    settings = api(sim, "GET", "/3/settings/company", token).json()["CompanySettings"]
    assert settings["DatabaseNumber"] == str(sim.tenant_id)


# -- invoices ---------------------------------------------------------------------------------------


def test_search_on_external_reference_matches_substrings(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    for reference in ("1234", "9123", "555"):
        invoice = {
            "CustomerNumber": "1",
            "ExternalInvoiceReference1": reference,
            "InvoiceRows": [{"ArticleNumber": "TS-1", "DeliveredQuantity": 1}],
        }
        assert api(sim, "POST", "/3/invoices", token, {"Invoice": invoice}).status_code == 201
    found = api(sim, "GET", "/3/invoices", token, externalinvoicereference1="123").json()
    assert sorted(i["ExternalInvoiceReference1"] for i in found["Invoices"]) == ["1234", "9123"]
    assert all("InvoiceRows" not in item for item in found["Invoices"])


MIXED_ROWS = [
    {"ArticleNumber": "TS-1", "DeliveredQuantity": "2", "Price": 199},
    {"ArticleNumber": "KAFFE", "DeliveredQuantity": 3, "Price": 89},
    {"ArticleNumber": "BOK", "DeliveredQuantity": "1", "Price": 229},
]


@pytest.mark.parametrize(
    ("vat_included", "expected"),
    [
        (
            True,
            {
                "Net": "772.83",
                "Gross": "812.03",
                "TotalVAT": "130.97",
                "FreightVAT": "9.80",
                "Total": "943.00",
                "rows": [("398.00", "318.40", "159.20"), ("267.00", "238.39", "79.46"), ("229.00", "216.04", "216.04")],
            },
        ),
        (
            False,
            {
                "Net": "894.00",
                "Gross": "943.00",
                "TotalVAT": "157.53",
                "FreightVAT": "12.25",
                "Total": "1100.53",
                "rows": [("398.00", "398.00", "199.00"), ("267.00", "267.00", "89.00"), ("229.00", "229.00", "229.00")],
            },
        ),
    ],
)
def test_mixed_vat_invoice_totals(
    sim: FortnoxSimulator, token: str, vat_included: bool, expected: dict[str, Any]
) -> None:
    seed_shop(sim)
    body = {"Invoice": {"CustomerNumber": "1", "VATIncluded": vat_included, "Freight": 49, "InvoiceRows": MIXED_ROWS}}
    created = api(sim, "POST", "/3/invoices", token, body)
    assert created.status_code == 201
    invoice = decimal_json(created)["Invoice"]
    for name in ("Net", "Gross", "TotalVAT", "FreightVAT", "Total"):
        assert Decimal(invoice[name]) == Decimal(expected[name]), name
    assert Decimal(invoice["RoundOff"]) == 0
    assert Decimal(invoice["Balance"]) == Decimal(expected["Total"])
    rows = [
        (Decimal(r["Total"]), Decimal(r["TotalExcludingVAT"]), Decimal(r["PriceExcludingVAT"]))
        for r in invoice["InvoiceRows"]
    ]
    assert rows == [tuple(Decimal(v) for v in row) for row in expected["rows"]]
    assert invoice["InvoiceRows"][0]["Description"] == "T-shirt"  # taken from the article
    assert invoice["DocumentNumber"] == "1" and invoice["CustomerName"] == "Anna Svensson"
    assert invoice["Booked"] is False and invoice["Credit"] == "false" and invoice["Currency"] == "SEK"


def test_round_off_to_whole_kronor(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    sim.round_off_to_whole = True
    body = {"Invoice": {"CustomerNumber": "1", "VATIncluded": False, "Freight": 49, "InvoiceRows": MIXED_ROWS}}
    invoice = decimal_json(api(sim, "POST", "/3/invoices", token, body))["Invoice"]
    assert Decimal(invoice["Total"]) == Decimal("1101.00")
    assert Decimal(invoice["RoundOff"]) == Decimal("0.47")


def test_discounts_and_article_defaults(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    body = {
        "Invoice": {
            "CustomerNumber": "1",
            "VATIncluded": True,
            "InvoiceRows": [
                {"ArticleNumber": "TS-1", "DeliveredQuantity": 3, "Discount": 10, "DiscountType": "PERCENT"},
                {"Description": "Rabattkod", "DeliveredQuantity": 1, "Price": -50, "AccountNumber": 3001},
            ],
        }
    }
    invoice = decimal_json(api(sim, "POST", "/3/invoices", token, body))["Invoice"]
    first, second = invoice["InvoiceRows"]
    assert Decimal(first["Price"]) == Decimal("199.00")  # article price 159.20 + 25 % VAT
    assert Decimal(first["Total"]) == Decimal("537.30")  # 597.00 less 10 %
    assert Decimal(second["Total"]) == Decimal("-50.00") and second["VAT"] == 25
    assert Decimal(invoice["Total"]) == Decimal("487.30")
    assert Decimal(invoice["TotalVAT"]) == Decimal("97.46")  # 107.46 − 10.00


def test_fail_after_create_creates_but_answers_503(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    sim.fail_after_create = 1
    body = {
        "Invoice": {
            "CustomerNumber": "1",
            "ExternalInvoiceReference1": "norce:42",
            "InvoiceRows": [{"ArticleNumber": "TS-1", "DeliveredQuantity": 1}],
        }
    }
    lost = api(sim, "POST", "/3/invoices", token, body)
    assert lost.status_code == 503
    assert [i["ExternalInvoiceReference1"] for i in sim.invoices.values()] == ["norce:42"]
    found = api(sim, "GET", "/3/invoices", token, externalinvoicereference1="norce:42").json()
    assert found["MetaInformation"]["@TotalResources"] == 1
    assert api(sim, "POST", "/3/invoices", token, body).status_code == 201
    assert sim.lost_responses == 1 and len(sim.invoices) == 2


def test_invoice_lifecycle(sim: FortnoxSimulator, token: str) -> None:
    seed_shop(sim)
    rows = [{"ArticleNumber": "TS-1", "DeliveredQuantity": 1, "Price": 100}]
    api(sim, "POST", "/3/invoices", token, {"Invoice": {"CustomerNumber": "1", "InvoiceRows": rows}})
    api(sim, "POST", "/3/invoices", token, {"Invoice": {"CustomerNumber": "1", "InvoiceRows": rows}})

    edited = api(sim, "PUT", "/3/invoices/1", token, {"Invoice": {"YourOrderNumber": "A-1", "Freight": 10}})
    assert edited.status_code == 200 and edited.json()["Invoice"]["Total"] == 137.5

    booked = api(sim, "PUT", "/3/invoices/1/bookkeep", token).json()["Invoice"]
    assert booked["Booked"] is True and booked["VoucherNumber"] == 1
    assert api(sim, "PUT", "/3/invoices/1", token, {"Invoice": {"Remarks": "x"}}).status_code == 400
    assert api(sim, "PUT", "/3/invoices/1/cancel", token).status_code == 400

    credited = api(sim, "PUT", "/3/invoices/1/credit", token).json()["Invoice"]
    credit = sim.invoices[credited["CreditInvoiceReference"]]
    assert credit["Credit"] == "true" and credit["CreditInvoiceReference"] == "1"
    assert credit["Total"] == -137.5 and credit["InvoiceRows"][0]["DeliveredQuantity"] == "-1.00"

    assert api(sim, "PUT", "/3/invoices/2/externalprint", token).json()["Invoice"]["Sent"] is True
    assert api(sim, "PUT", "/3/invoices/2/cancel", token).json()["Invoice"]["Cancelled"] is True

    def numbers(state: str) -> list[str]:
        return [i["DocumentNumber"] for i in api(sim, "GET", "/3/invoices", token, filter=state).json()["Invoices"]]

    assert numbers("cancelled") == ["2"]
    assert numbers("unbooked") == ["3"]

    sim.pay_invoice("1")
    paid = api(sim, "GET", "/3/invoices", token, filter="fullypaid").json()["Invoices"]
    assert [i["DocumentNumber"] for i in paid] == ["1"] and paid[0]["FinalPayDate"]
    assert api(sim, "GET", "/3/invoices/99", token).status_code == 404


def test_articles_round_trip(sim: FortnoxSimulator, token: str) -> None:
    created = api(
        sim,
        "POST",
        "/3/articles",
        token,
        {
            "Article": {
                "ArticleNumber": "MUG",
                "Description": "Mugg",
                "SalesPrice": 127.2,
                "VAT": 25,
                "StockGoods": True,
                "QuantityInStock": 10,
                "ReservedQuantity": 3,
                "WebshopArticle": True,
            }
        },
    )
    assert created.status_code == 201 and created.json()["Article"]["DisposableQuantity"] == 7
    updated = api(sim, "PUT", "/3/articles/MUG", token, {"Article": {"QuantityInStock": 2}}).json()["Article"]
    assert updated["DisposableQuantity"] == -1
    assert api(sim, "GET", "/3/articles/NONE", token).status_code == 404


def test_state_summary_and_reset(sim: FortnoxSimulator) -> None:
    sim.seed_demo()
    state = requests.get(sim.url + "/_sim/state", timeout=5).json()
    assert state["articles"] >= 40 and state["customers"] == 2
    assert "FRAKT" in sim.articles and {a["VAT"] for a in sim.articles.values()} >= {25, 12, 6}
    sim.reset()
    assert sim.state_summary()["articles"] == 0
