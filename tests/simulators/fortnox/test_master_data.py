"""The Fortnox simulator's master data over real HTTP: price lists and prices, the warehouse
module's stock balances, a generated catalogue of up to a million articles, and customer lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from simulators.base import Faults
from simulators.fortnox.server import Code, FortnoxSimulator

T0 = datetime(2026, 3, 2, 9, 0, 0)


class Clock:
    """A settable Swedish local clock for the simulator's change times."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def server(fortnox_server: FortnoxSimulator) -> FortnoxSimulator:
    return fortnox_server


@pytest.fixture
def clock(server: FortnoxSimulator) -> Iterator[Clock]:
    fake = Clock(T0)
    server.clock = fake  # type: ignore[method-assign]
    yield fake
    server.__dict__.pop("clock", None)


@pytest.fixture
def sim(server: FortnoxSimulator, clock: Clock) -> FortnoxSimulator:
    """The shared server with fresh data and switches; no rate limit (lists are walked in full)."""
    server.reset(auth=True)
    server.faults = Faults()
    server.limiter.enabled = False
    server.capitalised_errors = False
    server.enforce_scopes = True
    server.warehouse_active = True
    return server


@pytest.fixture
def http(sim: FortnoxSimulator) -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {sim.issue_tokens()['access_token']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
    )
    yield session
    session.close()


def call(
    sim: FortnoxSimulator, http: requests.Session, method: str, path: str, body: Any = None, **params: Any
) -> requests.Response:
    return http.request(
        method, sim.url + path, params=params or None, timeout=30, data=json.dumps(body) if body is not None else None
    )


def get(sim: FortnoxSimulator, http: requests.Session, path: str, **params: Any) -> Any:
    answer = call(sim, http, "GET", path, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def ean_is_valid(ean: str) -> bool:
    digits = [int(d) for d in ean]
    return len(digits) == 13 and (sum(digits[0:12:2]) + 3 * sum(digits[1:12:2]) + digits[12]) % 10 == 0


# -- price lists ------------------------------------------------------------------------------------


def test_price_list_a_exists_and_price_lists_are_created_and_updated(
    sim: FortnoxSimulator, http: requests.Session
) -> None:
    lists = get(sim, http, "/3/pricelists")["PriceLists"]
    assert [(p["Code"], p["Description"]) for p in lists] == [("A", "Standard")]

    created = call(sim, http, "POST", "/3/pricelists", {"PriceList": {"Code": "B2B", "Description": "Företag"}})
    assert created.status_code == 201 and created.json()["PriceList"]["Code"] == "B2B"
    again = call(sim, http, "POST", "/3/pricelists", {"PriceList": {"Code": "B2B", "Description": "Igen"}})
    assert again.status_code == 400
    updated = call(
        sim, http, "PUT", "/3/pricelists/B2B", {"PriceList": {"Description": "Återförsäljare", "Comments": "Netto"}}
    )
    assert updated.status_code == 200
    assert get(sim, http, "/3/pricelists/B2B")["PriceList"]["Description"] == "Återförsäljare"
    assert [p["Code"] for p in get(sim, http, "/3/pricelists")["PriceLists"]] == ["A", "B2B"]

    missing = call(sim, http, "GET", "/3/pricelists/NOPE")
    assert missing.status_code == 404
    assert missing.json()["ErrorInformation"]["code"] == Code.PRICE_LIST_NOT_FOUND


def test_prices_need_the_price_scope(sim: FortnoxSimulator) -> None:
    token = sim.issue_tokens(scope="article")["access_token"]
    answer = requests.get(sim.url + "/3/pricelists", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 403 and answer.json()["ErrorInformation"]["code"] == Code.NO_SCOPE_ACCESS


# -- prices --------------------------------------------------------------------------------------------


def test_prices_are_created_read_updated_and_deleted(sim: FortnoxSimulator, http: requests.Session) -> None:
    sim.add_article("MUG", "Mugg", sales_price=100)
    call(sim, http, "POST", "/3/pricelists", {"PriceList": {"Code": "B", "Description": "Butik"}})
    for quantity, price in ((10, 80), (0, 95)):
        created = call(
            sim,
            http,
            "POST",
            "/3/prices",
            {"Price": {"PriceList": "B", "ArticleNumber": "MUG", "FromQuantity": quantity, "Price": price}},
        )
        assert created.status_code == 201
        assert created.json()["Price"]["Price"] == price and created.json()["Price"]["Date"].startswith(
            "2026-03-02T09:00"
        )

    first = get(sim, http, "/3/prices/B/MUG")["Price"]
    assert (first["FromQuantity"], first["Price"], first["PriceList"], first["ArticleNumber"]) == (0, 95, "B", "MUG")
    assert get(sim, http, "/3/prices/B/MUG/10")["Price"]["Price"] == 80
    assert get(sim, http, "/3/prices/B/MUG", fromquantity=10)["Price"]["Price"] == 80

    assert call(sim, http, "PUT", "/3/prices/B/MUG/10", {"Price": {"Price": 75, "Percent": 5}}).status_code == 200
    assert call(sim, http, "PUT", "/3/prices/B/MUG", {"Price": {"Price": 90}}).json()["Price"]["FromQuantity"] == 0
    prices = get(sim, http, "/3/prices/sublist/B/MUG")
    assert [(p["FromQuantity"], p["Price"], p["Percent"]) for p in prices["Prices"]] == [(0, 90, 0), (10, 75, 5)]
    assert prices["MetaInformation"]["@TotalResources"] == 2

    duplicate = call(
        sim,
        http,
        "POST",
        "/3/prices",
        {"Price": {"PriceList": "B", "ArticleNumber": "MUG", "FromQuantity": 10, "Price": 1}},
    )
    assert duplicate.status_code == 400
    moved = call(sim, http, "PUT", "/3/prices/B/MUG/10", {"Price": {"FromQuantity": 20, "Price": 1}})
    assert moved.status_code == 400

    assert call(sim, http, "DELETE", "/3/prices/B/MUG/10").status_code == 204
    gone = call(sim, http, "GET", "/3/prices/B/MUG/10")
    assert gone.status_code == 404 and gone.json()["ErrorInformation"]["code"] == Code.PRICE_NOT_FOUND
    assert call(sim, http, "DELETE", "/3/prices/A/MUG/0").status_code == 400  # the SalesPrice itself

    no_article = call(sim, http, "GET", "/3/prices/B/NONE")
    assert no_article.status_code == 404 and no_article.json()["ErrorInformation"]["code"] == Code.ARTICLE_NOT_FOUND
    no_list = call(sim, http, "POST", "/3/prices", {"Price": {"PriceList": "X", "ArticleNumber": "MUG", "Price": 1}})
    assert no_list.status_code == 404 and no_list.json()["ErrorInformation"]["code"] == Code.PRICE_LIST_NOT_FOUND
    no_key = call(sim, http, "POST", "/3/prices", {"Price": {"PriceList": "B", "Price": 1}})
    assert no_key.status_code == 400


def test_sales_price_and_price_list_a_stay_in_step(sim: FortnoxSimulator, http: requests.Session, clock: Clock) -> None:
    sim.add_article("MUG", "Mugg", sales_price="127.20")
    assert get(sim, http, "/3/prices/A/MUG")["Price"]["Price"] == 127.2

    clock.advance(minutes=5)
    call(sim, http, "PUT", "/3/articles/MUG", {"Article": {"SalesPrice": 139}})
    price = get(sim, http, "/3/prices/A/MUG/0")["Price"]
    assert price["Price"] == 139 and price["Date"].startswith("2026-03-02T09:05:00")

    clock.advance(minutes=5)
    assert call(sim, http, "PUT", "/3/prices/A/MUG", {"Price": {"Price": 149.5}}).status_code == 200
    assert get(sim, http, "/3/articles/MUG")["Article"]["SalesPrice"] == 149.5
    sim.set_price("A", "MUG", 151)
    assert get(sim, http, "/3/articles/MUG")["Article"]["SalesPrice"] == 151
    # A price change stamps the price, not the article.
    after_put = stamp(T0 + timedelta(minutes=6))
    assert get(sim, http, "/3/articles", lastmodified=after_put)["Articles"] == []
    changed = get(sim, http, "/3/prices/sublist/A", lastmodified=after_put)["Prices"]
    assert [(p["ArticleNumber"], p["Price"]) for p in changed] == [("MUG", 151)]
    # Other price lists and quantities leave SalesPrice alone.
    sim.set_price("A", "MUG", 99, from_quantity=10)
    assert get(sim, http, "/3/articles/MUG")["Article"]["SalesPrice"] == 151


def test_price_list_sublist_is_paged_in_article_order_and_filtered_by_lastmodified(
    sim: FortnoxSimulator, http: requests.Session, clock: Clock
) -> None:
    for number in ("B-2", "A-1", "10", "9", "C-3"):
        sim.add_article(number, f"Artikel {number}", sales_price=50)
    sim.set_price("A", "A-1", 40, from_quantity=5)
    first = get(sim, http, "/3/prices/sublist/A", limit=4)
    assert first["MetaInformation"] == {"@TotalResources": 6, "@TotalPages": 2, "@CurrentPage": 1}
    second = get(sim, http, "/3/prices/sublist/A", limit=4, page=2)
    keys = [(p["ArticleNumber"], p["FromQuantity"]) for p in first["Prices"] + second["Prices"]]
    assert keys == [("9", 0), ("10", 0), ("A-1", 0), ("A-1", 5), ("B-2", 0), ("C-3", 0)]

    moment = clock.advance(minutes=1)
    clock.advance(minutes=1)
    sim.set_price("A", "B-2", 55)
    changed = get(sim, http, "/3/prices/sublist/A", lastmodified=stamp(moment))
    assert [(p["ArticleNumber"], p["Price"]) for p in changed["Prices"]] == [("B-2", 55)]
    assert changed["MetaInformation"]["@TotalResources"] == 1
    assert call(sim, http, "GET", "/3/prices/sublist/NOPE").status_code == 404


# -- warehouse -------------------------------------------------------------------------------------------


def test_stock_balance_by_item_and_stock_point(sim: FortnoxSimulator, http: requests.Session) -> None:
    sim.add_article("MUG", "Mugg", StockGoods=True)
    sim.add_article("CUP", "Kopp", StockGoods=True)
    sim.set_stock("MUG", 10, reserved=3)
    sim.set_stock("MUG", 4, stock_point="STORE")
    sim.set_stock("CUP", 7)

    rows = get(sim, http, "/api/warehouse/status-v1/stockbalance", itemIds="MUG")
    assert rows == [
        {"itemId": "MUG", "stockPointCode": "MAIN", "availableStock": 7, "inStock": 10},
        {"itemId": "MUG", "stockPointCode": "STORE", "availableStock": 4, "inStock": 4},
    ]
    only_main = get(sim, http, "/api/warehouse/status-v1/stockbalance", itemIds="MUG,CUP", stockPointCodes="MAIN")
    assert [(r["itemId"], r["inStock"]) for r in only_main] == [("MUG", 10), ("CUP", 7)]
    everything = get(sim, http, "/api/warehouse/status-v1/stockbalance")
    assert [(r["itemId"], r["stockPointCode"]) for r in everything] == [
        ("CUP", "MAIN"),
        ("MUG", "MAIN"),
        ("MUG", "STORE"),
    ]
    store = get(sim, http, "/api/warehouse/status-v1/stockbalance", stockPointCodes="STORE")
    assert [(r["itemId"], r["inStock"]) for r in store] == [("MUG", 4)]

    article = get(sim, http, "/3/articles/MUG")["Article"]
    assert (article["QuantityInStock"], article["ReservedQuantity"], article["DisposableQuantity"]) == (14, 3, 11)
    # A PUT of the article's quantity lands on the default stock point; the others stay.
    call(sim, http, "PUT", "/3/articles/MUG", {"Article": {"QuantityInStock": 20}})
    balances = {
        r["stockPointCode"]: r["inStock"]
        for r in get(sim, http, "/api/warehouse/status-v1/stockbalance", itemIds="MUG")
    }
    assert balances == {"MAIN": 16, "STORE": 4}

    points = get(sim, http, "/api/warehouse/stockpoints-v1")
    assert [p["code"] for p in points] == ["MAIN", "STORE"] and points[0]["active"] is True
    assert [p["code"] for p in get(sim, http, "/api/warehouse/stockpoints-v1", q="stor")] == ["STORE"]


def test_warehouse_module_switched_off_answers_with_web_exceptions(
    sim: FortnoxSimulator, http: requests.Session
) -> None:
    assert get(sim, http, "/api/warehouse/tenants-v4") == {"activated": True, "tenantId": sim.tenant_id}
    requests.post(sim.url + "/_sim/settings", json={"warehouse_active": False}, timeout=5)
    assert get(sim, http, "/api/warehouse/tenants-v4")["activated"] is False
    for path in ("/api/warehouse/status-v1/stockbalance", "/api/warehouse/stockpoints-v1"):
        refused = call(sim, http, "GET", path)
        assert refused.status_code == 403
        body = refused.json()
        assert set(body) == {"error", "id", "message"} and body["error"] == "notactivated"

    unknown = call(sim, http, "GET", "/api/warehouse/nothing-v1")
    assert unknown.status_code == 404 and set(unknown.json()) == {"error", "id", "message"}
    anonymous = requests.get(sim.url + "/api/warehouse/tenants-v4", timeout=5)
    assert anonymous.status_code == 401 and "ErrorInformation" not in anonymous.json()


def test_stock_change_touches_the_article(sim: FortnoxSimulator, http: requests.Session, clock: Clock) -> None:
    sim.add_article("MUG", "Mugg")
    sim.add_article("CUP", "Kopp")
    since = clock.advance(minutes=1)
    clock.advance(minutes=1)
    sim.set_stock("CUP", 12, reserved=2)
    changed = get(sim, http, "/3/articles", lastmodified=stamp(since))["Articles"]
    assert [(a["ArticleNumber"], a["QuantityInStock"], a["DisposableQuantity"]) for a in changed] == [("CUP", 12, "10")]

    answer = requests.post(
        sim.url + "/_sim/stock", timeout=5, json={"ArticleNumber": "MUG", "InStock": 3, "StockPoint": "EAST"}
    )
    assert answer.status_code == 200 and answer.json()["Article"]["QuantityInStock"] == 3
    assert "EAST" in sim.stock_points
    assert (
        requests.post(sim.url + "/_sim/stock", json={"ArticleNumber": "NONE", "InStock": 1}, timeout=5).status_code
        == 404
    )


# -- articles list ---------------------------------------------------------------------------------------


def test_article_list_items_carry_the_webshop_fields(sim: FortnoxSimulator, http: requests.Session) -> None:
    sim.add_article(
        "MUG",
        "Mugg",
        sales_price="127.20",
        StockGoods=True,
        WebshopArticle=True,
        EAN="7312345678901",
        Manufacturer="Nordvik",
        ManufacturerArticleNumber="NV-1",
        Weight=350,
        Width=9,
        Height=10,
        Depth=9,
        quantity_in_stock=5,
    )
    item = get(sim, http, "/3/articles")["Articles"][0]
    wanted = {
        "Active",
        "Manufacturer",
        "ManufacturerArticleNumber",
        "EAN",
        "Unit",
        "VAT",
        "StockGoods",
        "QuantityInStock",
        "ReservedQuantity",
        "DisposableQuantity",
        "SalesPrice",
        "WebshopArticle",
        "Weight",
        "Width",
        "Height",
        "Depth",
        "Type",
    }
    assert wanted <= set(item)
    assert (item["SalesPrice"], item["VAT"], item["Width"], item["Manufacturer"]) == ("127.2", "25", 9, "Nordvik")


# -- generated catalogue --------------------------------------------------------------------------------


def test_generated_catalogue_reads_like_stored_articles(
    sim: FortnoxSimulator, http: requests.Session, clock: Clock
) -> None:
    sim.add_article("A-1", "Vanlig artikel")
    sim.seed_generated(100_000)
    first = get(sim, http, "/3/articles", limit=500)
    assert first["MetaInformation"] == {"@TotalResources": 100_001, "@TotalPages": 201, "@CurrentPage": 1}
    numbers = [a["ArticleNumber"] for a in first["Articles"]]
    assert numbers[:3] == ["A-1", "G00000001", "G00000002"] and numbers[-1] == "G00000499"
    last = get(sim, http, "/3/articles", limit=500, page=201)["Articles"]
    assert [a["ArticleNumber"] for a in last] == ["G00100000"]
    middle = get(sim, http, "/3/articles", limit=500, page=101)["Articles"]
    assert middle[0]["ArticleNumber"] == "G00050000" and len(middle) == 500

    item = middle[0]
    assert ean_is_valid(item["EAN"]) and item["Unit"] == "st" and item["VAT"] in ("25", "12", "6")
    assert item["Active"] is True and item["WebshopArticle"] is True and item["StockGoods"] is True
    assert float(item["SalesPrice"]) > 0 and item["Manufacturer"] and item["ManufacturerArticleNumber"]
    assert float(item["DisposableQuantity"]) == item["QuantityInStock"] - float(item["ReservedQuantity"])
    single = get(sim, http, "/3/articles/G00050000")["Article"]
    assert single["Description"] == item["Description"] and single["SalesPrice"] == float(item["SalesPrice"])
    assert call(sim, http, "GET", "/3/articles/G00100001").status_code == 404
    assert get(sim, http, "/3/prices/A/G00050000")["Price"]["Price"] == single["SalesPrice"]
    balance = get(sim, http, "/api/warehouse/status-v1/stockbalance", itemIds="G00050000")
    assert balance == [
        {
            "itemId": "G00050000",
            "stockPointCode": "MAIN",
            "inStock": single["QuantityInStock"],
            "availableStock": single["DisposableQuantity"],
        }
    ]
    # Reading is deterministic and stores nothing.
    assert get(sim, http, "/3/articles/G00050000")["Article"] == single
    assert sim.state_summary()["materialised_articles"] == 0

    seeded = clock.now
    assert get(sim, http, "/3/articles", lastmodified=stamp(seeded))["MetaInformation"]["@TotalResources"] == 0
    clock.advance(minutes=2)
    put = call(sim, http, "PUT", "/3/articles/G00070000", {"Article": {"Description": "Ny benämning"}})
    assert put.status_code == 200
    changed = get(sim, http, "/3/articles", lastmodified=stamp(seeded))
    assert [a["ArticleNumber"] for a in changed["Articles"]] == ["G00070000"]
    assert changed["Articles"][0]["Description"] == "Ny benämning"
    before = get(sim, http, "/3/articles", lastmodified=stamp(seeded - timedelta(minutes=1)), limit=3)
    assert before["MetaInformation"]["@TotalResources"] == 100_001
    assert sim.state_summary()["materialised_articles"] == 1

    sim.deactivate_article("G00000002")
    inactive = get(sim, http, "/3/articles", filter="inactive")["Articles"]
    assert [a["ArticleNumber"] for a in inactive] == ["G00000002"]
    active = get(sim, http, "/3/articles", filter="active", limit=3)
    assert [a["ArticleNumber"] for a in active["Articles"]] == ["A-1", "G00000001", "G00000003"]
    assert active["MetaInformation"]["@TotalResources"] == 100_000
    # Materialised articles keep their place in the order.
    page = get(sim, http, "/3/articles", limit=3, offset=69_999)["Articles"]
    assert [a["ArticleNumber"] for a in page[:3]] == ["G00069999", "G00070000", "G00070001"]


def test_generated_catalogue_search_sort_and_prices(sim: FortnoxSimulator, http: requests.Session) -> None:
    sim.seed_generated(2_000, prefix="X", start=500)
    descending = get(sim, http, "/3/articles", sortorder="descending", limit=2)["Articles"]
    assert [a["ArticleNumber"] for a in descending] == ["X00002499", "X00002498"]
    found = get(sim, http, "/3/articles", articlenumber="x0000123")["Articles"]
    assert [a["ArticleNumber"] for a in found] == [f"X0000123{d}" for d in range(10)]
    wanted = get(sim, http, "/3/articles/X00001000")["Article"]
    by_ean = get(sim, http, "/3/articles", ean=wanted["EAN"])["Articles"]
    assert [a["ArticleNumber"] for a in by_ean] == ["X00001000"]
    by_stock = get(sim, http, "/3/articles", sortby="quantityinstock", sortorder="descending", limit=5)["Articles"]
    quantities = [a["QuantityInStock"] for a in by_stock]
    assert quantities == sorted(quantities, reverse=True) and len(by_stock) == 5

    sim.set_price("A", "X00000600", 10)
    prices = get(sim, http, "/3/prices/sublist/A", limit=500)
    assert prices["MetaInformation"]["@TotalResources"] == 2_000
    listed = [p["ArticleNumber"] for p in prices["Prices"]]
    assert listed == sorted(listed) and listed[100] == "X00000600" and prices["Prices"][100]["Price"] == 10
    assert get(sim, http, "/3/articles/X00000600")["Article"]["SalesPrice"] == 10

    with pytest.raises(ValueError):
        sim.seed_generated(10, prefix="X", start=2_400)  # overlaps the first catalogue
    with pytest.raises(ValueError):
        sim.seed_generated(10, prefix="-")


def test_a_million_generated_articles_are_paged_in_full(sim: FortnoxSimulator, http: requests.Session) -> None:
    generated = requests.post(sim.url + "/_sim/generate", json={"articles": 1_000_000}, timeout=30).json()
    assert generated["catalogue"]["last"] == "G01000000"
    sim.set_stock("G00500000", 3)  # one materialised article in the middle
    seen: set[str] = set()
    previous = ""
    page, pages = 1, None
    while pages is None or page <= pages:
        body = get(
            sim, http, "/3/articles", limit=500, page=page, filter="active", lastmodified=stamp(T0 - timedelta(days=1))
        )
        pages = body["MetaInformation"]["@TotalPages"]
        numbers = [a["ArticleNumber"] for a in body["Articles"]]
        assert numbers[0] > previous
        previous = numbers[-1]
        seen.update(numbers)
        page += 1
    assert pages == 2_000 and len(seen) == 1_000_000
    tail = get(sim, http, "/3/prices/sublist/A", limit=500, page=2_000)
    assert tail["Prices"][-1]["ArticleNumber"] == "G01000000" and len(tail["Prices"]) == 500


# -- control API ----------------------------------------------------------------------------------------


def test_control_api_generates_and_sets_prices(sim: FortnoxSimulator, http: requests.Session) -> None:
    answer = requests.post(sim.url + "/_sim/generate", json={"articles": 1_000, "customers": 20}, timeout=10)
    assert answer.status_code == 200
    state = answer.json()["state"]
    assert (state["generated_articles"], state["customers"], state["stock_points"]) == (1_000, 20, 1)
    price = requests.post(
        sim.url + "/_sim/prices", timeout=5, json={"PriceList": "A", "ArticleNumber": "G00000005", "Price": 12.5}
    )
    assert price.status_code == 200 and price.json()["Price"]["Price"] == 12.5
    assert get(sim, http, "/3/articles/G00000005")["Article"]["SalesPrice"] == 12.5
    state = requests.get(sim.url + "/_sim/state", timeout=5).json()
    assert state["materialised_articles"] == 1 and state["prices"] == 1_000 and state["articles"] == 1_000


# -- customers ------------------------------------------------------------------------------------------


def test_customer_lists_filter_page_and_follow_lastmodified(
    sim: FortnoxSimulator, http: requests.Session, clock: Clock
) -> None:
    numbers = sim.seed_generated_customers(600, companies_share=0.3)
    assert len(numbers) == 600 and len(set(numbers)) == 600
    everyone = get(sim, http, "/3/customers", limit=1000)
    assert len(everyone["Customers"]) == 500 and everyone["MetaInformation"]["@TotalPages"] == 2

    customers = [c for p in (1, 2) for c in get(sim, http, "/3/customers", limit=500, page=p)["Customers"]]
    assert len({c["CustomerNumber"] for c in customers}) == 600
    fields = {
        "CustomerNumber",
        "Name",
        "Type",
        "OrganisationNumber",
        "Email",
        "Phone1",
        "Phone2",
        "Address1",
        "Address2",
        "ZipCode",
        "City",
        "CountryCode",
        "DeliveryName",
        "DeliveryAddress1",
        "DeliveryZipCode",
        "DeliveryCity",
        "DeliveryCountryCode",
        "VATNumber",
        "Active",
    }
    assert all(fields <= set(c) for c in customers)
    companies = [c for c in customers if c["Type"] == "COMPANY"]
    assert 120 <= len(companies) <= 240 and all(c["OrganisationNumber"] for c in companies)
    assert all(c["Type"] == "PRIVATE" and not c["OrganisationNumber"] for c in customers if c not in companies)
    assert all("@" in c["Email"] for c in customers)

    active = get(sim, http, "/3/customers", filter="active", limit=500)["MetaInformation"]["@TotalResources"]
    inactive = get(sim, http, "/3/customers", filter="inactive", limit=500)["Customers"]
    assert active + len(inactive) == 600 and inactive and all(c["Active"] is False for c in inactive)

    since = clock.advance(minutes=1)
    clock.advance(minutes=1)
    call(sim, http, "PUT", f"/3/customers/{numbers[10]}", {"Customer": {"City": "Kiruna"}})
    changed = get(sim, http, "/3/customers", lastmodified=stamp(since))["Customers"]
    assert [(c["CustomerNumber"], c["City"]) for c in changed] == [(numbers[10], "Kiruna")]
