"""The Visma.net simulator over real HTTP: Visma Connect tokens, auth per company, the value
wrapper, creates/updates/ETags, lists and change filters, errors and the rate limit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests

from simulators.norce.orders import DEMO_CATALOGUE
from simulators.vismanet.server import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    VismaNetSimulator,
)

OTHER_TENANT = "0a0b0c0d-1111-2222-3333-444455556666"


def token_form(**overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "scope": "vismanet_erp_service_api:read",
        "tenant_id": DEFAULT_TENANT_ID,
    }
    form.update(overrides)
    return form


def decimal_json(response: requests.Response):
    return json.loads(response.text, parse_float=Decimal)


def wrapped_customer(name: str, email: str = "") -> dict:
    body = {
        "name": {"value": name},
        "mainAddress": {"value": {"city": {"value": "Umeå"}, "countryId": {"value": "SE"}}},
    }
    if email:
        body["mainContact"] = {"value": {"email": {"value": email}}}
    return body


# -- Visma Connect -------------------------------------------------------------------------------


def test_token_endpoint_issues_a_bearer_token_for_the_tenant(sim: VismaNetSimulator) -> None:
    answer = requests.post(f"{sim.url}/connect/token", data=token_form(), timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "vismanet_erp_service_api:read"
    org = requests.get(
        f"{sim.url}/v1/organization", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert org.status_code == 200 and org.json()[0]["name"] == "Demo Shop AB"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client"),
        ({"client_id": "nobody"}, "invalid_client"),
        ({"tenant_id": ""}, "invalid_request"),
        ({"tenant_id": "not-a-guid"}, "invalid_request"),
        ({"tenant_id": OTHER_TENANT}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_token_endpoint_refuses(sim: VismaNetSimulator, overrides: dict, error: str) -> None:
    answer = requests.post(f"{sim.url}/connect/token", data=token_form(**overrides), timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_a_tenant_the_application_was_not_granted_is_invalid_tenant(sim: VismaNetSimulator) -> None:
    sim.add_company(OTHER_TENANT, "Annat AB")
    sim.clients[DEFAULT_CLIENT_ID][1].discard(OTHER_TENANT)
    answer = requests.post(f"{sim.url}/connect/token", data=token_form(tenant_id=OTHER_TENANT), timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_tenant"


def test_token_down_fault(sim: VismaNetSimulator) -> None:
    sim.token_down = True
    assert requests.post(f"{sim.url}/connect/token", data=token_form(), timeout=5).status_code == 503
    sim.token_down = False
    assert requests.post(f"{sim.url}/connect/token", data=token_form(), timeout=5).status_code == 200


def test_missing_and_expired_tokens_are_401_with_the_ipp_body(sim: VismaNetSimulator, api) -> None:
    missing = requests.get(f"{sim.url}/v1/customer", timeout=5)
    assert missing.status_code == 401
    assert missing.json()["ExceptionType"] == "IPPException" and "token" in missing.json()["ExceptionMessage"]
    assert api("GET", "/v1/customer").status_code == 200
    sim.expire_tokens()
    expired = api("GET", "/v1/customer")
    assert expired.status_code == 401 and "token" in expired.json()["ExceptionMessage"]
    assert expired.headers["X-RateLimit-Limit"] == "3600"


def test_a_token_is_for_one_company(sim: VismaNetSimulator, api) -> None:
    sim.add_company(OTHER_TENANT, "Annat AB")
    other = sim.issue_tokens(DEFAULT_CLIENT_ID, OTHER_TENANT)["access_token"]
    headers = {"Authorization": f"Bearer {other}"}
    assert requests.get(f"{sim.url}/v1/customer/10001", headers=headers, timeout=5).status_code == 404
    assert api("GET", "/v1/customer/10001").status_code == 200
    assert requests.get(f"{sim.url}/v1/organization", headers=headers, timeout=5).json()[0]["name"] == "Annat AB"


def test_a_token_for_an_unlicensed_tenant_is_403_12027(sim: VismaNetSimulator) -> None:
    sim.add_company(OTHER_TENANT, "Ingen licens AB", licensed=False)
    token = requests.post(f"{sim.url}/connect/token", data=token_form(tenant_id=OTHER_TENANT), timeout=5).json()
    answer = requests.get(
        f"{sim.url}/v1/customer", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5
    )
    assert answer.status_code == 403
    body = answer.json()
    assert body["ExceptionFaultCode"] == "12027" and body["ExceptionMessage"] == "No license for this company."
    assert body["ExceptionMessageID"].startswith("12027_") and body["ExceptionDetails"] == ""


def test_scopes_are_checked_per_method(sim: VismaNetSimulator) -> None:
    read_only = sim.issue_tokens(scope="vismanet_erp_service_api:read")["access_token"]
    headers = {"Authorization": f"Bearer {read_only}", "Content-Type": "application/json"}
    assert requests.get(f"{sim.url}/v1/customer", headers=headers, timeout=5).status_code == 200
    post = requests.post(f"{sim.url}/v1/customer", json=wrapped_customer("X"), headers=headers, timeout=5)
    assert post.status_code == 403 and "vismanet_erp_service_api:create" in post.json()["ExceptionMessage"]
    v3 = requests.get(f"{sim.url}/api/v3/SalesOrders", headers=headers, timeout=5)
    assert v3.status_code == 403


# -- wrapper, create, update, ETag --------------------------------------------------------------


def test_customer_create_is_201_with_absolute_location_etag_and_empty_body(sim: VismaNetSimulator, api) -> None:
    answer = api("POST", "/v1/customer", wrapped_customer("Kari Nordmann", "kari@example.se"))
    assert answer.status_code == 201 and answer.content == b""
    assert answer.headers["Location"] == f"{sim.url}/v1/customer/10021"
    assert answer.headers["ETag"].startswith('"')
    got = api("GET", "/v1/customer/10021")
    assert got.headers["ETag"] == answer.headers["ETag"]
    body = got.json()
    assert body["name"] == "Kari Nordmann" and body["mainContact"]["email"] == "kari@example.se"
    assert body["mainAddress"]["country"] == {"id": "SE", "name": "Sverige"}
    assert got.headers["ETag"] == f'"{body["timeStamp"]}"'


def test_customer_number_given_by_hand(api) -> None:
    body = {**wrapped_customer("Egen AB"), "number": {"value": "K-77"}}
    assert api("POST", "/v1/customer", body).headers["Location"].endswith("/v1/customer/K-77")
    assert api("POST", "/v1/customer", body).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bare"}, "name"),
        ({"name": {"value": "X"}, "mainAddress": {"value": {"city": "Oslo"}}}, "mainAddress.city"),
        ({"name": {"value": "X"}, "mainAddress": {"city": {"value": "Oslo"}}}, "mainAddress"),
    ],
)
def test_an_unwrapped_scalar_is_400_naming_the_field(api, body: dict, field: str) -> None:
    answer = api("POST", "/v1/customer", body)
    assert answer.status_code == 400
    assert answer.json()["ExceptionFaultCode"] == "10006"
    assert f"'{field}'" in answer.json()["ExceptionMessage"]


def test_line_operation_is_bare(api) -> None:
    line = {"operation": {"value": "Insert"}, "inventoryNumber": {"value": "KO-5001"}}
    answer = api("POST", "/v2/customerinvoice", {"customerNumber": {"value": "10001"}, "invoiceLines": [line]})
    assert answer.status_code == 400 and "invoiceLines[0].operation" in answer.json()["ExceptionMessage"]


def test_put_is_204_with_new_etag_partial_and_412_on_stale_if_match(api) -> None:
    old = api("GET", "/v1/customer/10002").headers["ETag"]
    answer = api("PUT", "/v1/customer/10002", {"name": {"value": "Erik J"}}, headers={"If-Match": old})
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["ETag"] != old
    body = api("GET", "/v1/customer/10002").json()
    assert body["name"] == "Erik J" and body["mainAddress"]["city"] == "Stockholm"  # untouched
    stale = api("PUT", "/v1/customer/10002", {"name": {"value": "Again"}}, headers={"If-Match": old})
    assert stale.status_code == 412 and stale.json()["ExceptionFaultCode"] == "10412"
    assert api("GET", "/v1/customer/10002").json()["name"] == "Erik J"
    # Without If-Match the write is not checked (optional in the ERP API).
    assert api("PUT", "/v1/customer/10002", {"name": {"value": "Again"}}).status_code == 204


def test_stale_etag_once_fault(sim: VismaNetSimulator, api) -> None:
    etag = api("GET", "/v1/customer/10003").headers["ETag"]
    sim.stale_etag_once = True
    assert api("PUT", "/v1/customer/10003", {"note": {"value": "a"}}, headers={"If-Match": etag}).status_code == 412
    assert api("PUT", "/v1/customer/10003", {"note": {"value": "a"}}, headers={"If-Match": etag}).status_code == 204


# -- lists and change filters ----------------------------------------------------------------


def test_lists_are_bare_arrays_with_metadata_and_capped_pages(sim: VismaNetSimulator, api) -> None:
    page = api("GET", "/v1/customer", pageNumber=2, pageSize=7).json()
    assert isinstance(page, list) and len(page) == 7
    assert [c["number"] for c in page] == [str(n) for n in range(10008, 10015)]
    assert all(c["metadata"] == {"totalCount": 20, "maxPageSize": 1000} for c in page)
    sim.seed_inventory([{"inventoryNumber": f"X{i:05d}", "description": "x"} for i in range(5100)])
    inventory = api("GET", "/v1/inventory", pageNumber=1, pageSize=9999).json()
    assert len(inventory) == 5000 and inventory[0]["metadata"]["maxPageSize"] == 5000
    assert inventory[0]["metadata"]["totalCount"] == 5100 + len(DEMO_CATALOGUE) + 1
    assert api("GET", "/v1/customer", pageNumber=0).status_code == 400


def test_customer_list_filters(api) -> None:
    assert [c["name"] for c in api("GET", "/v1/customer", email="NILS.BERG@example.se").json()] == ["Nils Berg"]
    companies = api("GET", "/v1/customer", name="AB").json()
    assert len(companies) == 8
    corporate = companies[0]["corporateId"]
    assert [c["number"] for c in api("GET", "/v1/customer", corporateId=corporate).json()] == [companies[0]["number"]]


@pytest.mark.parametrize(
    "value",
    ["2030-03-01", "2030-03-01 10:00:00", "2030-03-01 10:00:00.250", "2030-03-01T10:00:00", "2030-03-01T10:00:00.5"],
)
def test_change_filter_accepts_every_format(sim: VismaNetSimulator, api, value: str) -> None:
    sim.clock = lambda: datetime(2030, 3, 1, 12, 0)
    api("PUT", "/v1/customer/10004", {"note": {"value": "changed"}})
    numbers = [
        c["number"]
        for c in api("GET", "/v1/customer", lastModifiedDateTime=value, lastModifiedDateTimeCondition=">").json()
    ]
    assert numbers == ["10004"]


def test_change_filter_conditions(sim: VismaNetSimulator, api) -> None:
    moment = datetime(2030, 3, 1, 12, 0, 0)
    sim.clock = lambda: moment
    api("PUT", "/v1/customer/10005", {"note": {"value": "x"}})
    stamp = "2030-03-01T12:00:00"

    def numbers(condition: str) -> set[str]:
        found = api("GET", "/v1/customer", lastModifiedDateTime=stamp, lastModifiedDateTimeCondition=condition)
        return {c["number"] for c in found.json()}

    assert numbers(">=") == {"10005"}
    assert numbers(">") == set()
    assert "10005" not in numbers("<") and len(numbers("<")) == 19
    assert numbers("<=") == numbers("<") | {"10005"}
    assert api("GET", "/v1/customer/10005").json()["lastModifiedDateTime"] == "2030-03-01T12:00:00.000"


@pytest.mark.parametrize(
    "params",
    [
        {"lastModifiedDateTime": "01/03/2026", "lastModifiedDateTimeCondition": ">"},
        {"lastModifiedDateTime": "2030-03-01T10:00", "lastModifiedDateTimeCondition": ">"},
        {"lastModifiedDateTime": "2030-03-01", "lastModifiedDateTimeCondition": "=="},
        {"lastModifiedDateTime": "2030-03-01"},
    ],
)
def test_bad_change_filters_are_400(api, params: dict) -> None:
    answer = api("GET", "/v1/customer", **params)
    assert answer.status_code == 400 and answer.json()["ExceptionType"] == "IPPException"


# -- VAT, inventory, prices ---------------------------------------------------------------------


def test_vat_codes(api) -> None:
    codes = {v["vatId"]: v["schedules"][0]["vatRate"] for v in api("GET", "/v1/vat").json()}
    assert codes == {"MP1": 25, "MP2": 12, "MP3": 6, "MF": 0}


def test_demo_inventory_holds_the_webshop_catalogue_and_freight(sim: VismaNetSimulator, api) -> None:
    items = {i["inventoryNumber"]: i for i in api("GET", "/v1/inventory", pageSize=5000).json()}
    assert {a["part_no"] for a in DEMO_CATALOGUE} | {"FRAKT"} == set(items)
    assert items["FRAKT"]["type"] == "NonStockItem"
    article = DEMO_CATALOGUE[0]
    net = (Decimal(article["price_incl_vat"]) / Decimal("1.25")).quantize(Decimal("0.01"))
    assert Decimal(str(items[article["part_no"]]["defaultPrice"])) == net
    assert items[article["part_no"]]["vatCode"]["id"] == "MP1"
    assert items[article["part_no"]]["crossReferences"][0]["alternateType"] == "Barcode"
    assert len(sim.customers) == 20


def test_stock_per_warehouse_and_availability_filter(sim: VismaNetSimulator, api) -> None:
    sim.clock = lambda: datetime(2030, 4, 1, 8, 0)
    sim.set_stock("KO-5001", 17)
    sim.set_stock("KO-5001", 3, warehouse="BUTIK")
    changed = api(
        "GET",
        "/v1/inventory",
        availabilityLastModifiedDateTime="2030-04-01",
        availabilityLastModifiedDateTimeCondition=">=",
        expandWarehouseDetail="true",
    ).json()
    assert [i["inventoryNumber"] for i in changed] == ["KO-5001"]
    details = {d["warehouse"]["id"]: d["quantityOnHand"] for d in changed[0]["warehouseDetails"]}
    assert details == {"MAIN": 17, "BUTIK": 3}
    assert changed[0]["availabilityLastModifiedDateTime"] == "2030-04-01T08:00:00.000"
    summary = api("GET", "/v1/inventorysummary/KO-5001", warehouse="MAIN").json()
    assert [(r["warehouse"]["id"], r["onHand"]) for r in summary] == [("MAIN", 17)]
    assert api("GET", "/v1/inventory/NOPE").status_code == 404


def test_open_orders_book_stock(sim: VismaNetSimulator, api) -> None:
    sim.set_stock("KO-5001", 10)
    api(
        "POST",
        "/api/v3/salesorders",
        {"customer": {"id": "10001"}, "orderLines": [{"inventoryId": "KO-5001", "quantity": 4}]},
    )
    row = api("GET", "/v1/inventorysummary/KO-5001").json()[0]
    assert (row["onHand"], row["soBooked"], row["available"]) == (10, 4, 6)


def test_sales_prices(sim: VismaNetSimulator, api) -> None:
    sim.clock = lambda: datetime(2030, 5, 1, 9, 0)
    record = sim.set_price("KO-5001", "99.90", price_type="Customer", price_code="10001")
    base = api("GET", "/v1/customerSalesPrice", priceType="Base", inventoryId="KO-5001").json()
    assert [(p["price"], p["vat"], p["breakQty"]) for p in base] == [(103.2, "", 0)]
    changed = api(
        "GET", "/v1/customerSalesPrice", lastModifiedDateTime="2030-05-01", lastModifiedDateTimeCondition=">="
    ).json()
    assert [(p["recordId"], p["priceType"], p["priceCode"], p["price"]) for p in changed] == [
        (record, "Customer", "10001", 99.9)
    ]
    assert api("GET", "/v1/customerSalesPrice", priceType="Special").status_code == 400


# -- the rate limit and the shared faults ------------------------------------------------------------


def test_rate_limit_headers_and_429_after_the_hourly_limit(sim: VismaNetSimulator, api) -> None:
    sim.limiter.limit = 3
    answers = [api("GET", "/v1/vat") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["X-RateLimit-Policy"] == "4-fixed-window" for a in answers)
    assert 3500 < int(answers[3].headers["Retry-After"]) <= 3600
    assert answers[3].json()["ExceptionFaultCode"] == "10429"
    assert 3500 < int(answers[3].headers["X-RateLimit-Reset"]) <= 3600
    # Another client of the same company has its own window.
    sim.add_client("other", "secret")
    other = sim.issue_tokens("other")["access_token"]
    assert requests.get(f"{sim.url}/v1/vat", headers={"Authorization": f"Bearer {other}"}, timeout=5).ok
    sim.limiter.enabled = False
    assert api("GET", "/v1/vat").status_code == 200


def test_rate_limit_burst_and_server_errors(sim: VismaNetSimulator, api) -> None:
    sim.rate_limit_burst(2, retry_after=7)
    first, second, third = (api("GET", "/v1/vat") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "7" and "X-RateLimit-Limit" in first.headers
    sim.server_errors(3)
    statuses = [api("GET", "/v1/vat").status_code for _ in range(4)]
    assert statuses[:3] in ([503, 500, 503], [500, 503, 500]) and statuses[3] == 200


def test_faults_over_the_control_api(sim: VismaNetSimulator, api) -> None:
    answer = requests.post(
        f"{sim.url}/_sim/faults",
        json={"fail_after_create": 1, "stale_etag_once": True, "lose_webhooks": 2, "rate_limit_per_hour": 10},
        timeout=5,
    )
    assert answer.status_code == 200
    assert (sim.fail_after_create, sim.stale_etag_once, sim.lose_webhooks, sim.limiter.limit) == (1, True, 2, 10)
    assert requests.get(f"{sim.url}/_sim/faults", timeout=5).json()["fail_after_create"] == 1
    assert requests.post(f"{sim.url}/_sim/faults", json={"no_such_fault": 1}, timeout=5).status_code == 400
    requests.post(f"{sim.url}/_sim/faults/reset", timeout=5)
    assert (sim.fail_after_create, sim.stale_etag_once, sim.lose_webhooks) == (0, False, 0)


def test_fail_after_create_commits_then_answers_502(sim: VismaNetSimulator, api) -> None:
    sim.fail_after_create = 1
    lost = api("POST", "/v1/customer", wrapped_customer("Borttappad AB"))
    assert lost.status_code == 502
    assert [c["name"] for c in api("GET", "/v1/customer", name="Borttappad").json()] == ["Borttappad AB"]
    assert api("POST", "/v1/customer", wrapped_customer("Nästa AB")).status_code == 201


def test_fail_after_create_can_drop_the_connection(sim: VismaNetSimulator, api) -> None:
    sim.fail_after_create = 1
    sim.faults.fail_after_create_mode = "drop"
    with pytest.raises(requests.ConnectionError):
        api("POST", "/v1/customer", wrapped_customer("Tappad AB"))
    assert len(api("GET", "/v1/customer", name="Tappad AB").json()) == 1


def test_hold_after_create_answers_late_but_commits_at_once(sim: VismaNetSimulator, api) -> None:
    sim.hold_after_create = 1.0
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{sim.url}/v1/customer",
            json=wrapped_customer("Sen AB"),
            headers={"Authorization": f"Bearer {api.token}"},
            timeout=0.3,
        )
    assert len(api("GET", "/v1/customer", name="Sen AB").json()) == 1


def test_request_counter_per_kind(sim: VismaNetSimulator, api) -> None:
    api("GET", "/v1/customer")
    api("GET", "/v1/customer/10001")
    api("GET", "/api/v3/SalesOrders")
    assert sim.requests["customer"] == 2 and sim.requests["salesorders"] == 1


# -- background API ----------------------------------------------------------------------------


def test_background_request_runs_as_a_job(sim: VismaNetSimulator, api) -> None:
    sim.clock = lambda: datetime(2026, 6, 1, 10, 0)
    answer = api("POST", "/v1/customer", wrapped_customer("Bakgrund AB"), headers={"erp-api-background": "none"})
    assert answer.status_code == 202
    job = answer.json()
    assert job["stateLocation"] == f"{sim.url}/v1/background/{job['id']}"
    state = requests.get(job["stateLocation"], headers={"Authorization": f"Bearer {api.token}"}, timeout=5).json()
    assert (state["status"], state["statusCode"]) == ("Finished", 201)
    assert state["originalUri"] == f"{sim.url}/v1/customer"
    assert state["contentLocation"] == f"{sim.url}/v1/background/{job['id']}/content"
    assert state["responseHeaders"]["Location"].startswith(f"{sim.url}/v1/customer/")
    content = api("GET", f"/v1/background/{job['id']}/content")
    assert content.status_code == 201 and content.headers["Location"] == state["responseHeaders"]["Location"]
    failed = api("GET", "/v1/customer/NOPE", headers={"erp-api-background": "none"}).json()
    failed_state = api("GET", f"/v1/background/{failed['id']}").json()
    assert (failed_state["status"], failed_state["statusCode"]) == ("Failed", 404)
    assert api("GET", f"/v1/background/{failed['id']}/content").json()["ExceptionFaultCode"] == "10404"
    sim.clock = lambda: datetime(2026, 6, 2, 10, 0, 1)
    gone = api("GET", f"/v1/background/{job['id']}")
    assert gone.status_code == 410
    assert api("GET", "/v1/background/unknown").status_code == 404


def test_background_job_of_another_company_is_403(sim: VismaNetSimulator, api) -> None:
    job = api("GET", "/v1/vat", headers={"erp-api-background": "none"}).json()
    sim.add_company(OTHER_TENANT, "Annat AB")
    other = sim.issue_tokens(DEFAULT_CLIENT_ID, OTHER_TENANT)["access_token"]
    answer = requests.get(job["stateLocation"], headers={"Authorization": f"Bearer {other}"}, timeout=5)
    assert answer.status_code == 403
    assert api("GET", "/v1/vat", headers={"erp-api-background": "later"}).status_code == 400


def test_background_subscription_notifies_with_the_given_headers(sim: VismaNetSimulator, api, receiver) -> None:
    sim.configure_webhooks(receiver.url)
    job = api("GET", "/v1/vat", headers={"erp-api-background": "subscription:x-job=42,x-who=brygga"}).json()
    sim.wait_for_webhooks()
    [post] = receiver.posts
    assert post["body"]["event"] == "BACKGROUND_API_RESPONSE" and post["body"]["id"] == job["id"]
    assert post["headers"]["x-job"] == "42" and post["headers"]["x-who"] == "brygga"
    assert post["body"]["stateLocation"] == job["stateLocation"]


def test_standalone_entry_parses_arguments() -> None:
    from simulators.vismanet import server

    assert callable(server.main) and server.DEFAULT_TENANT_ID == DEFAULT_TENANT_ID
    with pytest.raises(SystemExit):
        server.main(["--help"])


def test_control_api_clock_and_reset(sim: VismaNetSimulator) -> None:
    answer = requests.post(f"{sim.url}/_sim/clock", json={"advance_hours": 25}, timeout=5).json()
    now = datetime.fromisoformat(answer["now"])
    assert timedelta(hours=24) < now - datetime.now() < timedelta(hours=26)
    state = requests.post(f"{sim.url}/_sim/reset", json={"seed": False}, timeout=5).json()
    assert state["customers"] == 0
