"""The Norce simulator's Connect 4.0 imports over real HTTP: bodies, headers, jobs, FullFile, events, Query."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from simulators.norce.connect import BodyError, iter_json_items
from simulators.norce.server import NorceSimulator

TOKEN = "/identity/1.0/connect/token"
CONNECT = "/commerce/connect/4.0"
PRODUCT_SKUS = "/commerce/query/2.0/Products/ProductSkus"

PRODUCT_HEADER = {
    "AccountId": 1001,
    "ProductFieldsThatAreSet": [0, 1, 3, 4, 5],
    "ProductCultureFieldsThatAreSet": ["Name", "Description"],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": ["Status", "Type", "EanCode", "UnitOfMeasurementType", "VatRate"],
    "SkuCultureFieldsThatAreSet": [0],
}


# -- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_sim() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=7)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(running_sim: NorceSimulator) -> NorceSimulator:
    running_sim.reset()
    running_sim.connect.job_delay = 0.02
    running_sim.event_retry_delays = [0.05, 0.05]
    return running_sim


@pytest.fixture
def api(sim: NorceSimulator) -> requests.Session:
    form = {
        "grant_type": "client_credentials",
        "client_id": "norce-client",
        "client_secret": "norce-secret-value",
        "scope": "playground",
    }
    session = requests.Session()
    token = requests.post(sim.url + TOKEN, data=form, timeout=5).json()["access_token"]
    session.headers.update({"Authorization": f"Bearer {token}", "applicationId": "1244"})
    return session


def post_import(
    sim: NorceSimulator,
    api: requests.Session,
    method: str,
    header: dict[str, Any] | str | None,
    body: Any,
    *,
    raw: bytes | Iterator[bytes] | None = None,
    service: str = "Product",
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-StormConnect-Header"] = header if isinstance(header, str) else json.dumps(header)
    data = raw if raw is not None else json.dumps(body).encode()
    return api.post(f"{sim.url}{CONNECT}/{service}/{method}", data=data, headers=headers, timeout=60)


def run_import(
    sim: NorceSimulator, api: requests.Session, method: str, header: dict[str, Any], body: Any, **kwargs: Any
) -> dict[str, Any]:
    """Import, wait for the job, return the stored job."""
    response = post_import(sim, api, method, header, body, **kwargs)
    assert response.status_code == 200, response.text
    assert sim.connect.wait_idle(10)
    return sim.connect.jobs[int(response.json()["JobId"])]


def product(code: str, mpn: str, *skus: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "ManufacturerCode": "ACME",
        "Code": code,
        **fields,
        "Variants": [{"ManufacturerPartNo": mpn, "Skus": list(skus)}],
    }


def seed_catalogue(sim: NorceSimulator, api: requests.Session, *part_nos: str) -> None:
    rows = [product(f"P-{p}", f"M-{p}", {"PartNo": p}) for p in part_nos]
    assert run_import(sim, api, "ImportProducts", PRODUCT_HEADER, rows)["StatusId"] == 2


class EventReceiver:
    """A tiny HTTP endpoint recording the JSON posted to it."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- bodies -----------------------------------------------------------------------------------


def test_array_back_to_back_and_chunked_bodies_are_all_read(sim: NorceSimulator, api: requests.Session) -> None:
    rows = [product("P-1", "M-1", {"PartNo": "A-1"}), product("P-2", "M-2", {"PartNo": "A-2"}, {"PartNo": "A-3"})]
    array = post_import(sim, api, "ImportProducts", PRODUCT_HEADER, rows)
    assert array.status_code == 200
    assert array.json()["ValidationSummary"] == {"NrOfItemsInTotal": 2, "NrOfValidationFailures": 0, "Messages": []}

    back_to_back = b"\n".join(json.dumps(product(f"P-{n}", f"M-{n}", {"PartNo": f"B-{n}"})).encode() for n in range(3))
    assert back_to_back.startswith(b"{") and b"[" not in back_to_back[:1]
    second = post_import(sim, api, "ImportProduct", PRODUCT_HEADER, None, raw=back_to_back)  # legacy singular name
    assert second.status_code == 200 and second.json()["ValidationSummary"]["NrOfItemsInTotal"] == 3

    def chunks() -> Iterator[bytes]:  # a generator body: requests sends it chunked
        text = json.dumps([product(f"P-C{n}", f"M-C{n}", {"PartNo": f"C-{n}"}) for n in range(50)]).encode()
        for start in range(0, len(text), 13):
            yield text[start : start + 13]

    third = post_import(sim, api, "ImportProducts", PRODUCT_HEADER, None, raw=chunks())
    assert third.status_code == 200 and third.json()["ValidationSummary"]["NrOfItemsInTotal"] == 50
    assert sim.connect.imports[-1]["count"] == 50 and len(sim.connect.imports[-1]["items"]) == 50

    assert sim.connect.wait_idle(10)
    assert {sim.connect.jobs[int(r.json()["JobId"])]["StatusId"] for r in (array, second, third)} == {2}
    assert all(sim.connect.sku(p) for p in ("A-1", "A-3", "B-0", "B-2", "C-0", "C-49"))
    assert len(sim.connect.skus) == 3 + 3 + 50


def test_a_body_that_is_not_json_is_a_400(sim: NorceSimulator, api: requests.Session) -> None:
    for raw in (b"PartNo;Onhand\n1000-42;3", b'[{"PartNo": "1"}, {"PartNo": ', b'[{"PartNo": "1"}] trailing'):
        response = post_import(sim, api, "ImportOnhands", {"AccountId": 1}, None, raw=raw)
        assert response.status_code == 400, raw
        assert response.json()["StatusCode"] == "Failed" and "invalid JSON body" in response.json()["Description"]
    assert sim.connect.jobs == {}


def test_incremental_parser_handles_split_chunks_and_multibyte_text() -> None:
    def items_of(data: bytes) -> list[Any]:
        stream = io.BytesIO(data)
        return list(iter_json_items(stream.read, chunk_size=5))

    items = [{"Name": "Löparsko ☃ " + "x" * n, "N": n} for n in range(40)]
    for text in (json.dumps(items), "".join(json.dumps(i) for i in items), "\ufeff " + json.dumps(items) + " \n"):
        assert items_of(text.encode("utf-8")) == items
    assert items_of(b"") == [] and items_of(b" [ ] ") == [] and items_of(b"[12345678, 2]") == [12345678, 2]
    for bad in (b"[1, 2", b"[1 2]", b"42", b'{"a": 1} x', b"\xff\xfe[]"):
        with pytest.raises(BodyError):
            items_of(bad)


# -- the X-StormConnect-Header ------------------------------------------------------------------


def test_only_fields_listed_in_the_header_are_written(sim: NorceSimulator, api: requests.Session) -> None:
    row = product(
        "P-1",
        "M-1",
        {
            "PartNo": "1000-42",
            "EanCode": "7310000000012",
            "CommodityCode": "6404",
            "Type": "ErpStandard",
            "UnitOfMeasurementType": 1,
            "Cultures": [{"CultureCode": "sv-SE", "ErpName": "Sko", "Comment": "not listed"}],
        },
        ManufacturerName="Acme AB",
        Alias="not listed",
        Cultures=[{"CultureCode": "sv-SE", "Name": "Löparsko", "Title": "not listed"}],
    )
    job = run_import(sim, api, "ImportProducts", PRODUCT_HEADER, [row])
    assert job["StatusId"] == 2 and job["Inserts"] == 1
    sku = sim.connect.sku("1000-42")
    assert sku["EanCode"] == "7310000000012" and sku["Type"] == 1 and sku["UnitOfMeasurementType"] == 1
    assert "CommodityCode" not in sku and sku["Cultures"] == {"sv-SE": {"ErpName": "Sko"}}
    made = sim.connect.product_of("1000-42")
    assert made["ManufacturerName"] == "Acme AB" and "Alias" not in made
    assert made["Cultures"] == {"sv-SE": {"Name": "Löparsko"}}

    # The same fields by integer (SkuField 4 = CommodityCode) and by name in any case.
    header = dict(PRODUCT_HEADER, SkuFieldsThatAreSet=[4, "eancode"], ProductFieldsThatAreSet=["Alias"])
    assert run_import(sim, api, "ImportProducts", header, [row])["StatusId"] == 2
    assert (
        sim.connect.sku("1000-42")["CommodityCode"] == "6404"
        and sim.connect.product_of("1000-42")["Alias"] == "not listed"
    )


@pytest.mark.parametrize(
    "header, fragment",
    [
        (None, "X-StormConnect-Header header is required"),
        ({"FullFile": False, "SkuOnhandFieldsThatAreSet": [3]}, "AccountId"),
        ({"AccountId": "one", "SkuOnhandFieldsThatAreSet": [3]}, "AccountId"),
        ({"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnHandQty"]}, "'OnHandQty' in SkuOnhandFieldsThatAreSet"),
        ({"AccountId": 1, "SkuOnhandFieldsThatAreSet": [42]}, "42 in SkuOnhandFieldsThatAreSet"),
        ({"AccountId": 1, "SkuFieldsThatAreSet": [1]}, "Unknown X-StormConnect-Header property 'SkuFieldsThatAreSet'"),
        ('{"AccountId": 1, ', "not valid JSON"),
        ({"AccountId": 1, "FullFile": "yes"}, "FullFile"),
    ],
)
def test_bad_headers_are_a_400_naming_the_problem(
    sim: NorceSimulator, api: requests.Session, header: Any, fragment: str
) -> None:
    response = post_import(
        sim,
        api,
        "ImportOnhands",
        header,
        [{"PartNo": "1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 1}],
    )
    assert response.status_code == 400
    assert fragment in response.json()["Description"]
    assert sim.connect.jobs == {}


def test_header_names_are_case_insensitive_and_customers_ignore_full_file(
    sim: NorceSimulator, api: requests.Session
) -> None:
    header = '{"accountid": 5, "FullFile": true, "customerFieldsThatAreSet": ["EmailAddress", 6, 8, "IsActive"]}'
    rows = [
        {
            "Code": "C-1",
            "EmailAddress": "anna@example.se",
            "FirstName": "Anna",
            "LastName": "Svensson",
            "IsActive": True,
            "PhoneNumber": "not listed",
        },
        {"code": "C-2", "emailAddress": "bo@example.se"},
    ]
    job = run_import(sim, api, "ImportCustomers", header, rows, service="Customer")
    assert job["StatusId"] == 2 and job["full_file"] is False and job["deactivated"] == 0
    assert sim.connect.imports[-1]["header"]["AccountId"] == 5
    assert sim.connect.customer("C-1") == {
        "Code": "C-1",
        "EmailAddress": "anna@example.se",
        "FirstName": "Anna",
        "LastName": "Svensson",
        "IsActive": True,
    }
    assert sim.connect.customer("C-2") == {"Code": "C-2", "EmailAddress": "bo@example.se"}

    companies = [
        {
            "Code": "F-1",
            "Name": "Firma AB",
            "OrganizationNo": "556000-0001",
            "VatNo": "SE556000000101",
            "InvoiceAddress": {"AddressLine1": "Storgatan 1", "City": "Stockholm"},
            "PhoneNumber": "x",
        }
    ]
    header = {"AccountId": 5, "CompanyFieldsThatAreSet": ["Name", "OrganizationNo", "VatNo", "InvoiceAddress"]}
    assert run_import(sim, api, "ImportCompanies", header, companies, service="Customer")["StatusId"] == 2
    company = sim.connect.company("F-1")
    assert company["VatNo"] == "SE556000000101" and company["InvoiceAddress"]["City"] == "Stockholm"
    assert "PhoneNumber" not in company and sim.connect.company("F-2") is None
    assert post_import(sim, api, "ImportCustomers", {"AccountId": 5}, [], service="Product").status_code == 404


# -- products --------------------------------------------------------------------------------------


def test_a_product_is_created_updated_and_deactivated_through_status(
    sim: NorceSimulator, api: requests.Session
) -> None:
    row = product(
        "P-1000",
        "ACME-RUN",
        {"PartNo": "1000-42", "EanCode": "7310000000012"},
        Cultures=[{"CultureCode": "sv-SE", "Name": "Löparsko"}],
    )
    created = run_import(sim, api, "ImportProducts", PRODUCT_HEADER, [row])
    assert (created["Inserts"], created["Updates"]) == (1, 0)
    assert sim.connect.sku("1000-42")["Status"] == 1  # a new SKU is Active unless Status is written
    assert sim.connect.sku("1000-42")["Product"] == "P-1000"
    assert sim.connect.sku("1000-42")["ManufacturerPartNo"] == "ACME-RUN"

    # An update by PartNo alone (no ManufacturerCode / ManufacturerPartNo needed).
    update = {
        "Variants": [
            {
                "Skus": [
                    {
                        "PartNo": "1000-42",
                        "Status": "Hidden",
                        "Cultures": [{"CultureCode": "en-GB", "ErpName": "Running shoe"}],
                    }
                ]
            }
        ]
    }
    updated = run_import(sim, api, "ImportProducts", PRODUCT_HEADER, [update])
    assert (updated["StatusId"], updated["Inserts"], updated["Updates"]) == (2, 0, 1)
    assert sim.connect.sku("1000-42")["Status"] == 4 and sim.connect.sku("1000-42")["EanCode"] == "7310000000012"
    assert set(sim.connect.sku("1000-42")["Cultures"]) == {"en-GB"}

    deactivate = {"Variants": [{"Skus": [{"PartNo": "1000-42", "Status": 5}]}]}
    assert run_import(sim, api, "ImportProducts", PRODUCT_HEADER, [deactivate])["StatusId"] == 2
    assert sim.connect.sku("1000-42")["Status"] == 5
    assert sim.connect.product_of("1000-42")["Cultures"]["sv-SE"]["Name"] == "Löparsko"
    assert sim.connect.sku("nope") is None and sim.connect.product_of("nope") is None


# -- jobs ---------------------------------------------------------------------------------------------


def test_job_lifecycle_from_queued_to_succeeded_on_both_job_paths(sim: NorceSimulator, api: requests.Session) -> None:
    sim.connect.job_delay = 0.5
    response = post_import(sim, api, "ImportProducts", PRODUCT_HEADER, [product("P-1", "M-1", {"PartNo": "1"})])
    answer = response.json()
    assert response.status_code == 200 and answer["StatusCode"] == "Accepted"
    assert isinstance(answer["JobId"], str) and answer["JobId"].isdigit()
    queued = api.get(f"{sim.url}{CONNECT}/Job/Get", params={"id": answer["JobId"]}, timeout=5).json()
    assert queued["StatusId"] == 6 and queued["IsFinished"] is False and queued["Stop"] is None
    assert sim.connect.sku("1") is None  # nothing is applied before the job runs

    assert sim.connect.wait_idle(5)
    for path in ("/Job/Get", "/api/Job/Get"):
        job = api.get(f"{sim.url}{CONNECT}{path}", params={"id": answer["JobId"]}, timeout=5).json()
        assert job["JobId"] == int(answer["JobId"]) and job["StatusId"] == 2 and job["IsFinished"] is True
        assert job["Insert"] == job["Inserts"] == 1 and job["Totals"] == 1 and job["Fail"] == 0
        assert set(job) == {
            "JobId",
            "StatusId",
            "StorageName",
            "Totals",
            "Insert",
            "Inserts",
            "Updates",
            "Fail",
            "Start",
            "Stop",
            "LastUpdated",
            "IsFinished",
            "RunTime",
        }
        assert len(job["RunTime"].split(":")) == 3 and job["Start"] <= job["Stop"]
    log = api.get(f"{sim.url}{CONNECT}/api/Job/GetLog", params={"id": answer["JobId"]}, timeout=5).json()
    assert log and set(log[0]) == {"SeverityId", "Message", "TimeStamp", "ImportedRow"}
    assert api.get(f"{sim.url}{CONNECT}/Job/Get", params={"id": "424242"}, timeout=5).status_code == 404
    assert api.get(f"{sim.url}{CONNECT}/Job/Ping", timeout=5).status_code == 200


def test_bad_rows_fail_validation_and_the_others_are_applied(sim: NorceSimulator, api: requests.Session) -> None:
    seed_catalogue(sim, api, "1000-41")
    sim.connect.reject_rows = {"1000-45": "Blocked by the merchant"}
    rows = [
        product("P-1", "M-1", {"PartNo": "1000-40"}),
        product("P-2", "M-2", {"PartNo": "1000-41", "Status": 1}),
        product("P-3", "M-3", {"PartNo": "1000-42", "EanCode": "ABC"}),
        {"Code": "P-4", "Variants": [{"ManufacturerPartNo": "M-4", "Skus": [{"PartNo": "1000-43"}]}]},
        product("P-5", "M-5", {"PartNo": "1000-44", "Status": "Sleeping"}),
        product("P-6", "M-6", {"PartNo": "1000-45"}),
        product("P-7", "M-7", {"EanCode": "7310000000012"}),
    ]
    job = run_import(sim, api, "ImportProducts", PRODUCT_HEADER, rows)
    assert job["StatusId"] == 4 and job["Fail"] == 5 and (job["Inserts"], job["Updates"]) == (1, 1)
    errors = {e["ImportedRow"]: e["Message"] for e in sim.connect.job_log(job["JobId"]) if e["SeverityId"] == 3}
    assert errors[3] == "Row 3 (PartNo 1000-42): EanCode 'ABC' is not a valid EAN (8, 12, 13 or 14 digits)"
    assert "Row 4 (PartNo 1000-43)" in errors[4] and "ManufacturerCode" in errors[4]
    assert "Row 5 (PartNo 1000-44)" in errors[5] and "SkuStatus" in errors[5]
    assert errors[6] == "Row 6 (PartNo 1000-45): Blocked by the merchant"
    assert "no PartNo" in errors[7] and set(errors) == {3, 4, 5, 6, 7}
    assert sim.connect.sku("1000-40") and all(sim.connect.sku(p) is None for p in ("1000-42", "1000-43", "1000-44"))

    prices = [
        {"PartNo": "1000-40", "PriceListCode": "SEK", "PriceSale": -1},
        {"PartNo": "1000-40", "PriceSale": 10},
        {"PartNo": "9999", "PriceListCode": "SEK", "PriceSale": 10},
        {"PartNo": "1000-41", "PriceListCode": "SEK", "PriceSale": 10, "CurrencyCode": "SEK"},
    ]
    job = run_import(sim, api, "ImportSkuPriceLists", {"AccountId": 1, "SkuPriceListFieldsThatAreSet": [3]}, prices)
    log = sim.connect.job_log(job["JobId"])
    assert job["StatusId"] == 4 and job["Fail"] == 2 and job["ignored"] == 1 and job["Inserts"] == 1
    assert [(e["ImportedRow"], e["SeverityId"]) for e in log if e["SeverityId"] > 1] == [(1, 3), (2, 3), (3, 2)]
    assert "PriceSale -1 is negative" in log[0]["Message"] and "PriceListCode is missing" in log[1]["Message"]
    assert sim.connect.price("1000-41", "SEK") == {
        "PartNo": "1000-41",
        "PriceListCode": "SEK",
        "QuantityBreak": 1,
        "IsActive": True,
        "CurrencyCode": "SEK",
        "PriceSale": 10,
    }

    onhands = [
        {"PartNo": "1000-40", "WarehouseCode": "W", "OnhandValue": 3},
        {"PartNo": "1000-40", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": "many"},
        {"PartNo": "1000-40", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 7, "IncomingValue": 9},
    ]
    job = run_import(sim, api, "ImportOnhands", {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}, onhands)
    assert job["StatusId"] == 4 and job["Fail"] == 2
    assert sim.connect.onhand("1000-40", "W", "L") == {
        "PartNo": "1000-40",
        "WarehouseCode": "W",
        "LocationCode": "L",
        "IsActive": True,
        "OnhandValue": 7,
    }


def test_a_failed_job_is_restarted_and_then_succeeds(sim: NorceSimulator, api: requests.Session) -> None:
    sim.connect.fail_next_jobs = 1
    job = run_import(sim, api, "ImportProducts", PRODUCT_HEADER, [product("P-1", "M-1", {"PartNo": "1"})])
    assert job["StatusId"] == 3 and sim.connect.sku("1") is None
    assert any(
        e["Message"] == "Simulated processing failure" and e["SeverityId"] == 3
        for e in sim.connect.job_log(job["JobId"])
    )

    restart = api.post(f"{sim.url}{CONNECT}/Job/Restart", params={"id": job["JobId"]}, timeout=5)
    assert restart.status_code == 200 and restart.json()["JobId"] == str(job["JobId"])
    assert sim.connect.jobs[job["JobId"]]["StatusId"] in (6, 2)
    assert sim.connect.wait_idle(5)
    assert sim.connect.jobs[job["JobId"]]["StatusId"] == 2 and sim.connect.sku("1")["Status"] == 1
    assert len(sim.connect.jobs) == 1 and sim.connect.jobs[job["JobId"]]["restarts"] == 1


def test_restart_is_refused_for_unfinished_and_old_jobs(sim: NorceSimulator, api: requests.Session) -> None:
    sim.connect.job_delay = 30
    pending = post_import(sim, api, "ImportOnhands", {"AccountId": 1}, []).json()["JobId"]
    refused = api.post(f"{sim.url}{CONNECT}/Job/Restart", params={"id": pending}, timeout=5)
    assert refused.status_code == 400 and "not finished" in refused.json()["Description"]

    sim.connect.job_delay = 0.01
    with sim.connect.lock:
        sim.connect.jobs[int(pending)]["queued"] = 0  # due now
    assert sim.connect.wait_idle(5) and sim.connect.jobs[int(pending)]["StatusId"] == 2
    sim.connect.age_job(int(pending), 13)
    assert api.post(f"{sim.url}{CONNECT}/api/Job/Restart", params={"id": pending}, timeout=5).status_code == 200
    assert sim.connect.wait_idle(5)
    sim.connect.age_job(int(pending), 2)  # 15 days old now
    old = api.post(f"{sim.url}{CONNECT}/Job/Restart", params={"id": pending}, timeout=5)
    assert old.status_code == 400 and "14 days" in old.json()["Description"]


def test_job_completed_event_reaches_the_subscriber(sim: NorceSimulator, api: requests.Session) -> None:
    receiver = EventReceiver()
    try:
        sim.configure_events(receiver.url, {"X-Secret": "s3"}, event_types=("JobCompletedEvent",))
        ok = run_import(sim, api, "ImportOnhands", {"AccountId": 1}, [])
        bad = run_import(sim, api, "ImportOnhands", {"AccountId": 1}, [{"PartNo": "x"}])
        assert sim.wait_idle(5)
        events = [body for headers, body in receiver.received if headers.get("X-Secret") == "s3"]
        assert {"ClientId": 1234, "ApplicationId": 1244, "JobId": ok["JobId"], "StatusId": 2} in events
        assert {"ClientId": 1234, "ApplicationId": 1244, "JobId": bad["JobId"], "StatusId": 4} in events

        sim.lose_events = 1
        lost = run_import(sim, api, "ImportOnhands", {"AccountId": 1}, [])
        assert sim.wait_idle(5)
        assert all(body["JobId"] != lost["JobId"] for _, body in receiver.received) and len(receiver.received) == 2
    finally:
        receiver.close()


def test_connect_allows_sixty_calls_a_minute_job_calls_included(sim: NorceSimulator, api: requests.Session) -> None:
    job_id = post_import(sim, api, "ImportOnhands", {"AccountId": 1}, []).json()["JobId"]
    statuses = [api.get(f"{sim.url}{CONNECT}/Job/Get", params={"id": job_id}, timeout=5).status_code for _ in range(59)]
    assert statuses == [200] * 59
    limited = post_import(sim, api, "ImportOnhands", {"AccountId": 1}, [{"PartNo": "1"}] * 1000)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert api.get(f"{sim.url}{CONNECT}/api/Job/Get", params={"id": job_id}, timeout=5).status_code == 429
    assert len(sim.connect.jobs) == 1
    assert requests.get(sim.url + "/_sim/connect/state", timeout=5).status_code == 200  # control: never limited


# -- FullFile -------------------------------------------------------------------------------------------


def test_full_file_product_import_deactivates_every_sku_not_in_it(sim: NorceSimulator, api: requests.Session) -> None:
    seed_catalogue(sim, api, "A", "B")
    assert sim.connect.seed_skus(["S-1", {"PartNo": "S-2", "Status": "Hidden"}]) == 2
    header = dict(PRODUCT_HEADER, FullFile=True)
    job = run_import(
        sim,
        api,
        "ImportProducts",
        header,
        [product("P-A", "M-A", {"PartNo": "A"}), product("P-C", "M-C", {"PartNo": "C"})],
    )
    assert job["StatusId"] == 2 and job["deactivated"] == 3 and job["Updates"] == 1 + 3 and job["Inserts"] == 1
    assert {p: sim.connect.sku(p)["Status"] for p in ("A", "B", "C", "S-1", "S-2")} == {
        "A": 1,
        "B": 5,
        "C": 1,
        "S-1": 5,
        "S-2": 5,
    }
    again = run_import(sim, api, "ImportProducts", header, [product("P-A", "M-A", {"PartNo": "A"})])
    assert again["deactivated"] == 1  # only C: the others are inactive already


def test_full_file_prices_deactivate_rows_of_the_price_lists_in_the_job(
    sim: NorceSimulator, api: requests.Session
) -> None:
    seed_catalogue(sim, api, "A", "B")
    header = {"AccountId": 1, "SkuPriceListFieldsThatAreSet": ["PriceSale", "IsActive"]}
    rows = [
        {"PartNo": p, "PriceListCode": pl, "PriceSale": 100, "CurrencyCode": "SEK"}
        for p in ("A", "B")
        for pl in ("SEK", "EUR")
    ]
    rows.append({"PartNo": "A", "PriceListCode": "SEK", "QuantityBreak": 10, "PriceSale": 90})
    assert run_import(sim, api, "ImportSkuPriceLists", header, rows)["Inserts"] == 5
    job = run_import(
        sim,
        api,
        "ImportSkuPriceLists",
        dict(header, FullFile=True),
        [{"PartNo": "A", "PriceListCode": "SEK", "PriceSale": 120}],
    )
    assert job["StatusId"] == 2 and job["deactivated"] == 2 and job["Updates"] == 3
    assert sim.connect.price("A", "SEK")["IsActive"] is True and sim.connect.price("A", "SEK")["PriceSale"] == 120
    assert sim.connect.price("B", "SEK")["IsActive"] is False
    assert sim.connect.price("A", "SEK", 10)["IsActive"] is False
    assert sim.connect.price("A", "EUR")["IsActive"] is True and sim.connect.price("B", "EUR")["IsActive"] is True


def test_full_file_onhands_zero_rows_of_the_locations_in_the_job(sim: NorceSimulator, api: requests.Session) -> None:
    seed_catalogue(sim, api, "A", "B")
    header = {"AccountId": 1, "SkuOnhandFieldsThatAreSet": [3, 4]}
    rows = [
        {"PartNo": p, "WarehouseCode": w, "LocationCode": "L1", "OnhandValue": 5, "IncomingValue": 2}
        for p in ("A", "B")
        for w in ("MAIN", "STORE")
    ]
    assert run_import(sim, api, "ImportOnhands", header, rows)["Inserts"] == 4
    job = run_import(
        sim,
        api,
        "ImportOnhands",
        dict(header, FullFile=True),
        [{"PartNo": "A", "WarehouseCode": "MAIN", "LocationCode": "L1", "OnhandValue": 8}],
    )
    assert job["deactivated"] == 1 and job["Updates"] == 2
    assert sim.connect.onhand("A", "MAIN", "L1")["OnhandValue"] == 8
    assert sim.connect.onhand("B", "MAIN", "L1") == {
        "PartNo": "B",
        "WarehouseCode": "MAIN",
        "LocationCode": "L1",
        "IsActive": False,
        "OnhandValue": 0,
        "IncomingValue": 2,
    }
    assert sim.connect.onhand("B", "STORE", "L1")["OnhandValue"] == 5


# -- Query 2.0 ProductSkus --------------------------------------------------------------------------------


def test_query_product_skus_pages_in_part_no_order(sim: NorceSimulator, api: requests.Session) -> None:
    sim.connect.seed_skus(
        [
            {
                "PartNo": f"{n:04d}",
                "Status": 5 if n % 3 == 0 else 1,
                "ProductCode": f"P{n // 10}",
                "ManufacturerPartNo": f"M{n}",
            }
            for n in range(1199, -1, -1)
        ]
    )
    assert requests.get(sim.url + PRODUCT_SKUS, timeout=5).status_code == 401
    assert api.get(sim.url + PRODUCT_SKUS, headers={"applicationId": ""}, timeout=5).status_code == 400
    url, seen = f"{sim.url}{PRODUCT_SKUS}?$select=PartNo,StatusId,ProductCode,ManufacturerPartNo&$top=1000", []
    pages = 0
    while url:
        page = api.get(url, timeout=5).json()
        assert len(page["value"]) <= 500
        seen.extend(page["value"])
        url, pages = page.get("@odata.nextLink"), pages + 1
    assert pages == 3 and [row["PartNo"] for row in seen] == [f"{n:04d}" for n in range(1200)]
    assert seen[30] == {"PartNo": "0030", "StatusId": 5, "ProductCode": "P3", "ManufacturerPartNo": "M30"}
    assert sum(row["StatusId"] == 5 for row in seen) == 400
    counted = api.get(sim.url + PRODUCT_SKUS, params={"$top": "2", "$skip": "1198", "$count": "true"}, timeout=5).json()
    assert counted["@odata.count"] == 1200 and len(counted["value"]) == 2 and "@odata.nextLink" not in counted
    assert api.get(sim.url + PRODUCT_SKUS, params={"$select": "Price"}, timeout=5).status_code == 400


# -- control API, reset, scale -------------------------------------------------------------------------------


def test_control_api_settings_seed_and_inspection(sim: NorceSimulator, api: requests.Session) -> None:
    control = sim.url + "/_sim/connect"
    assert requests.post(
        control + "/settings", json={"job_delay": 0.01, "fail_next_jobs": 1, "reject_rows": {"X": "no"}}, timeout=5
    ).json() == {"job_delay": 0.01, "fail_next_jobs": 1, "reject_rows": {"X": "no"}}
    assert requests.post(control + "/settings", json={"speed": 1}, timeout=5).status_code == 400
    assert requests.post(
        control + "/seed", json={"skus": ["S-1", {"PartNo": "S-2", "ProductCode": "P"}]}, timeout=5
    ).json() == {"created": 2, "skus": 2}
    sku = requests.get(control + "/skus/S-2", timeout=5).json()
    assert sku["sku"]["Status"] == 1 and sku["product"]["Code"] == "P"
    assert requests.get(control + "/skus/none", timeout=5).status_code == 404

    job = run_import(sim, api, "ImportOnhands", {"AccountId": 1}, [])
    shown = requests.get(f"{control}/jobs/{job['JobId']}", timeout=5).json()
    assert shown["job"]["StatusId"] == 3 and shown["import"]["method"] == "ImportOnhands"
    aged = requests.post(f"{control}/jobs/{job['JobId']}/age", json={"days": 20}, timeout=5).json()
    assert aged["created"] < time.time() - 19 * 86400
    state = requests.get(control + "/state", timeout=5).json()
    assert state["skus"] == 2 and state["jobs"] == 1 and state["settings"]["fail_next_jobs"] == 0
    assert sim.state_summary()["connect"]["skus"] == 2

    sim.reset()
    assert sim.connect.skus == {} and sim.connect.jobs == {} and sim.connect.job_delay == 0.5


def test_a_200000_sku_body_is_streamed_and_imported(sim: NorceSimulator, api: requests.Session) -> None:
    per_product = 20

    def body() -> Iterator[bytes]:
        yield b"["
        for n in range(200_000 // per_product):
            row = product(
                f"P{n}", f"M{n}", *({"PartNo": f"{n}-{i}", "EanCode": "7310000000012"} for i in range(per_product))
            )
            yield (b"," if n else b"") + json.dumps(row).encode()
        yield b"]"

    started = time.time()
    response = post_import(sim, api, "ImportProducts", PRODUCT_HEADER, None, raw=body())
    assert response.status_code == 200
    assert response.json()["ValidationSummary"]["NrOfItemsInTotal"] == 10_000
    assert sim.connect.imports[-1]["items"] is None  # too many to keep
    assert sim.connect.wait_idle(30)
    job = sim.connect.jobs[int(response.json()["JobId"])]
    assert job["StatusId"] == 2 and job["Inserts"] == 200_000 and len(sim.connect.skus) == 200_000
    assert sim.connect.sku("9999-19")["EanCode"] == "7310000000012"
    assert time.time() - started < 20
