"""VismaNetClient against a fake HTTP edge: tokens, Location, ETags, paging, filters, background,
rate-limit headers and error bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.vismanet.client import VismaNetClient, filter_time
from core.errors import SyncError, answer_lost
from integrations.engine.tokens import ConnectorTokens
from tests.connectors.vismanet.conftest import session_for
from tests.connectors.vismanet.fake_http import API, TENANT, VAT, form, ipp, query


def test_a_token_is_asked_for_by_client_credentials_with_the_tenant_and_shared(client, fake, connector):
    fake.on(
        "GET", "/v1/organization", (200, [{"name": "Demo AB", "organizationCd": "1", "corporateId": "556677-8899"}])
    )
    assert client.test_connection() == f"Connected to Demo AB (1, 556677-8899), tenant {TENANT}"
    sent = form(fake.calls("POST", "/connect/token")[0])
    assert sent["grant_type"] == "client_credentials" and sent["tenant_id"] == TENANT
    assert sent["client_id"] == "visma-client" and sent["client_secret"] == "visma-secret-value"
    assert "vismanet_erp_service_api:read" in sent["scope"].split()
    assert fake.calls("GET", "/v1/organization")[0].headers["Authorization"] == "Bearer token-1"
    connector.refresh_from_db()
    assert connector.tokens["access_token"] == "token-1" and connector.tokens["grant"] == "client_credentials"
    assert "refresh_token" not in connector.tokens
    client.test_connection()
    assert fake.tokens == 1  # the stored token is used again


def test_a_401_drops_the_token_and_retries_once_with_a_new_one(client, fake):
    fake.on(
        "GET",
        "/v1/organization",
        (401, ipp("", "Access token is expired")),
        (200, [{"name": "Demo AB"}]),
    )
    assert client.organization()["name"] == "Demo AB"
    assert [r.headers["Authorization"] for r in fake.calls("GET", "/v1/organization")] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_a_refused_token_request_is_an_auth_error(client, fake):
    fake.on("POST", "/connect/token", (400, {"error": "invalid_client"}))
    with pytest.raises(SyncError) as caught:
        client.organization()
    assert caught.value.code == "vismanet.auth" and caught.value.permanent
    assert "visma-secret-value" not in str(caught.value) + str(caught.value.details)


def test_no_licence_is_named(client, fake):
    fake.on("GET", "/v1/organization", (403, ipp("12027", "No license for this company.")))
    with pytest.raises(SyncError) as caught:
        client.organization()
    assert caught.value.code == "vismanet.no_licence" and caught.value.permanent


def test_a_create_is_wrapped_and_its_number_read_from_location(client, fake):
    fake.on("POST", "/v1/customer", (201, None, {"Location": f"{API}/v1/customer/10042", "ETag": '"1"'}))
    number = client.create_customer({"name": "Anna", "mainContact": {"email": "a@example.se"}})
    assert number == "10042"
    body = fake.calls("POST", "/v1/customer")[0].body
    assert b'"name": {"value": "Anna"}' in body
    assert b'"mainContact": {"value": {"email": {"value": "a@example.se"}}}' in body


def test_a_create_without_location_counts_as_an_answer_lost(client, fake):
    fake.on("POST", "/v2/customerinvoice", (201, None))
    with pytest.raises(SyncError) as caught:
        client.create_invoice({"customerNumber": "1"})
    assert answer_lost(caught.value)


def test_a_create_is_not_sent_again_after_a_5xx(client, fake):
    fake.on("POST", "/v2/customerinvoice", (502, None))
    with pytest.raises(SyncError) as caught:
        client.create_invoice({"customerNumber": "1"})
    assert answer_lost(caught.value)
    assert len(fake.calls("POST", "/v2/customerinvoice")) == 1


def test_a_412_reads_the_document_again_and_retries_once(client, fake):
    fake.on("GET", "/v1/customerinvoice/000123", (200, {}, {"ETag": '"a"'}), (200, {}, {"ETag": '"b"'}))
    fake.on(
        "POST",
        "/v1/customerinvoice/000123/action/release",
        (412, ipp("10412", "Precondition failed")),
        (200, {"actionId": "x", "actionResult": "Done"}),
    )
    assert client.release_invoice("000123")["actionResult"] == "Done"
    sent = fake.calls("POST", "/v1/customerinvoice/000123/action/release")
    assert [r.headers["If-Match"] for r in sent] == ['"a"', '"b"']


def test_the_release_after_a_create_goes_with_the_create_s_etag_without_reading_first(client, fake):
    fake.on(
        "POST", "/v2/customerinvoice", (201, None, {"Location": f"{API}/v1/customerinvoice/000124", "ETag": '"c1"'})
    )
    fake.on("POST", "/v1/customerinvoice/000124/action/release", (200, {"actionResult": "Done"}))
    assert client.create_invoice({"customerNumber": "1"}) == "000124"
    assert client.release_invoice("000124")["actionResult"] == "Done"
    assert fake.calls("GET", "/v1/customerinvoice/000124") == []
    (sent,) = fake.calls("POST", "/v1/customerinvoice/000124/action/release")
    assert sent.headers["If-Match"] == '"c1"'
    # The create's version serves one write only: the next reads the document first.
    fake.on("GET", "/v1/customerinvoice/000124", (200, {}, {"ETag": '"c2"'}))
    fake.on("DELETE", "/v1/customerinvoice/000124", (204, None))
    client.delete_invoice("000124")
    assert len(fake.calls("GET", "/v1/customerinvoice/000124")) == 1
    assert fake.calls("DELETE", "/v1/customerinvoice/000124")[0].headers["If-Match"] == '"c2"'


def test_a_stale_etag_from_the_create_is_read_again_on_412(client, fake):
    fake.on(
        "POST", "/v2/customerinvoice", (201, None, {"Location": f"{API}/v1/customerinvoice/000125", "ETag": '"old"'})
    )
    fake.on("GET", "/v1/customerinvoice/000125", (200, {}, {"ETag": '"new"'}))
    fake.on(
        "POST",
        "/v1/customerinvoice/000125/action/release",
        (412, ipp("10412", "Precondition failed")),
        (200, {"actionResult": "Done"}),
    )
    client.create_invoice({"customerNumber": "1"})
    assert client.release_invoice("000125")["actionResult"] == "Done"
    sent = fake.calls("POST", "/v1/customerinvoice/000125/action/release")
    assert [r.headers["If-Match"] for r in sent] == ['"old"', '"new"']


def test_a_second_412_is_a_transient_error(client, fake):
    fake.on("GET", "/v1/customerinvoice/000123", (200, {}, {"ETag": '"a"'}))
    fake.on("DELETE", "/v1/customerinvoice/000123", (412, ipp("10412", "Precondition failed")))
    with pytest.raises(SyncError) as caught:
        client.delete_invoice("000123")
    assert caught.value.code == "vismanet.precondition_failed" and not caught.value.permanent
    assert len(fake.calls("DELETE", "/v1/customerinvoice/000123")) == 2


def test_lists_are_read_page_by_page_to_the_total_count(client, fake):
    def page(request):
        number = int(query(request)["pageNumber"])
        meta = {"totalCount": 5, "maxPageSize": 2}
        items = {1: ["1", "2"], 2: ["3", "4"], 3: ["5"]}[number]
        return (200, [{"number": n, "metadata": meta} for n in items])

    fake.on("GET", "/v1/customer", page)
    pages = list(client.customer_pages())
    assert [(p.number, p.total_pages, [i["number"] for i in p.items]) for p in pages] == [
        (1, 3, ["1", "2"]),
        (2, 3, ["3", "4"]),
        (3, 3, ["5"]),
    ]
    assert [query(r)["pageNumber"] for r in fake.sent if "customer" in r.url] == ["1", "2", "3"]
    assert list(client.customer_pages(start_page=3))[0].number == 3


def test_change_filters_go_in_company_local_time_with_milliseconds(client, fake):
    fake.on("GET", "/v1/customer", (200, []))
    moment = datetime(2026, 1, 15, 11, 30, 5, 123456, tzinfo=UTC)
    list(client.customer_pages(since=moment))
    sent = query(fake.calls("GET", "/v1/customer")[0])
    assert sent["lastModifiedDateTime"] == "2026-01-15T12:30:05.123"  # CET in winter
    assert sent["lastModifiedDateTimeCondition"] == ">="
    summer = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    assert filter_time(summer, client.zone) == "2026-07-02T00:00:00.000"


def test_list_reads_may_go_through_the_background_api(integration, fake):
    from tests.connectors.vismanet.conftest import make_vismanet

    connector = make_vismanet(integration.connectors.get(role="erp"), use_background_for_lists=True)
    client = VismaNetClient(
        connector, store=ConnectorTokens(connector), limiter=RecordingLimiter(), session=session_for(fake)
    )
    client.poll_interval = 0
    fake.on("GET", "/v1/customer", (202, {"id": "b1", "stateLocation": f"{API}/v1/background/b1"}))
    fake.on(
        "GET",
        "/v1/background/b1",
        (200, {"id": "b1", "status": "Started", "statusCode": 0}),
        (200, {"id": "b1", "status": "Finished", "statusCode": 200}),
    )
    fake.on("GET", "/v1/background/b1/content", (200, [{"number": "7", "metadata": {"totalCount": 1}}]))
    pages = list(client.customer_pages())
    assert pages[0].items[0]["number"] == "7"
    assert fake.calls("GET", "/v1/customer")[0].headers["erp-api-background"] == "none"


class RecordingLimiter:
    def __init__(self) -> None:
        self.acquired: list[tuple[str, int, float]] = []
        self.penalties: list[tuple[str, float]] = []

    def acquire(self, key, rate, *, priority=False):
        self.acquired.append((key, rate.limit, rate.window))
        return 0.0

    def penalise(self, key, rate, seconds):
        self.penalties.append((key, seconds))


def limited_client(connector, fake) -> tuple[VismaNetClient, RecordingLimiter]:
    limiter = RecordingLimiter()
    client = VismaNetClient(connector, store=ConnectorTokens(connector), limiter=limiter, session=session_for(fake))
    return client, limiter


def test_every_api_request_takes_the_hourly_budget_and_a_spent_window_holds_all_back(connector, fake):
    client, limiter = limited_client(connector, fake)
    headers = {"X-RateLimit-Limit": "3600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42"}
    fake.on("GET", "/v1/organization", (200, [{"name": "Demo AB"}], headers))
    client.organization()
    assert limiter.acquired == [(f"vismanet:{connector.pk}", 3600, 3600.0)]  # the token call is not counted
    assert limiter.penalties == [(f"vismanet:{connector.pk}", 42.0)]


def test_a_429_with_retry_after_penalises_the_bucket_and_is_retried(connector, fake, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    client, limiter = limited_client(connector, fake)
    fake.on(
        "GET",
        "/v1/organization",
        (429, ipp("10429", "Too many requests"), {"Retry-After": "7"}),
        (200, [{"name": "Demo AB"}]),
    )
    assert client.organization()["name"] == "Demo AB"
    assert limiter.penalties == [(f"vismanet:{connector.pk}", 7.0)]


def test_5xx_is_retried_with_backoff(client, fake, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("time.sleep", slept.append)
    fake.on("GET", "/v1/organization", (503, ipp("10500", "Internal error")), (200, [{"name": "Demo AB"}]))
    assert client.organization()["name"] == "Demo AB"
    assert len(slept) == 1


def test_vat_codes_are_read_once_and_a_sales_code_is_chosen_for_a_rate(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    assert client.vat_code_for(Decimal(25)) == "MP1"  # not the purchase code IP1
    assert client.vat_code_for(Decimal(12)) == "MP2" and client.vat_code_for(Decimal(0)) == "MF"
    assert client.vat_rate("MP3") == Decimal(6) and client.vat_rate("XX") is None
    assert len(fake.calls("GET", "/v1/vat")) == 1


def test_the_vat_codes_setting_wins(integration, fake):
    from tests.connectors.vismanet.conftest import make_vismanet

    connector = make_vismanet(integration.connectors.get(role="erp"), vat_codes={"25": "SE25"})
    client, _ = limited_client(connector, fake)
    fake.on("GET", "/v1/vat", (200, VAT))
    assert client.vat_code_for(Decimal("25.00")) == "SE25"
    assert client.vat_code_for(Decimal(12)) == "MP2"


def test_a_v3_order_is_created_as_plain_json_and_found_by_customer_ref_no(client, fake):
    fake.on(
        "POST",
        "/api/v3/salesorders",
        (201, None, {"Location": "https://salesorder.visma.net/api/v3/SalesOrders/SO/000223"}),
    )
    assert client.create_sales_order({"type": "SO", "customerRefNo": "W1"}) == ("SO", "000223")
    assert fake.calls("POST", "/api/v3/salesorders")[0].body == b'{"type": "SO", "customerRefNo": "W1"}'
    fake.on(
        "GET",
        "/api/v3/SalesOrders",
        (
            200,
            {
                "value": [{"id": "000223", "customerRefNo": "W1"}, {"id": "000224", "customerRefNo": "W10"}],
                "totalCount": 2,
            },
        ),
    )
    assert [o["id"] for o in client.sales_orders_by_reference("W1")] == ["000223"]
    sent = query(fake.calls("GET", "/api/v3/SalesOrders")[0])
    assert sent["filter"] == "customerRefNo eq 'W1'" and sent["pageIndex"] == "0"
