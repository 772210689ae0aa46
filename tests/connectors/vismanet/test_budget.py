"""What the Visma.net connector spends of the company's hourly budget: VAT codes kept across
tasks, large list pages, prices' VAT rates read in bulk, and a reserve left in the window."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from connectors.vismanet.client import LARGE_PAGE_SIZE, Page, VismaNetClient
from connectors.vismanet.master import ITEM_READS, ItemVatCodes, VismaNetMasterData
from connectors.vismanet.settings import validate_settings
from integrations.engine.clients import client_for
from integrations.engine.tokens import ConnectorTokens
from tests.conftest import price_settings
from tests.connectors.vismanet.conftest import make_vismanet, session_for
from tests.connectors.vismanet.fake_http import TENANT, VAT, query
from tests.connectors.vismanet.test_client import RecordingLimiter

RATE_CODES = {"MP1": Decimal(25), "MP2": Decimal(12), "MP3": Decimal(6), "MF": Decimal(0)}


def api_calls(fake) -> list[str]:
    """The API requests sent (the token request is not counted against the budget)."""
    return [r.path_url.split("?")[0] for r in fake.sent if "/connect/token" not in r.url]


def listing(records: list[dict], max_page_size: int):
    """A list resource answering pageNumber/pageSize as Visma does: capped at max_page_size."""

    def reply(request):
        sent = query(request)
        size = min(int(sent["pageSize"]), max_page_size)
        start = (int(sent["pageNumber"]) - 1) * size
        meta = {"totalCount": len(records), "maxPageSize": max_page_size}
        return (200, [{**r, "metadata": meta} for r in records[start : start + size]])

    return reply


def items(n: int) -> list[dict]:
    codes = list(RATE_CODES)
    return [
        {"inventoryNumber": f"A{i:05d}", "description": f"Item {i}", "vatCode": {"id": codes[i % 4]}} for i in range(n)
    ]


def prices(n: int) -> list[dict]:
    return [{"priceType": "Base", "inventoryId": f"A{i:05d}", "price": 100, "breakQty": 0} for i in range(n)]


# -- 1. VAT codes across tasks --------------------------------------------------------------------
def test_vat_codes_are_read_once_for_every_task_of_the_connector(connector, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    for _ in range(5):  # each task builds its own client
        client = client_for(connector, session=session_for(fake))
        assert client.vat_code_for(Decimal(25)) == "MP1" and client.vat_rate("MP3") == Decimal(6)
    assert len(fake.calls("GET", "/v1/vat")) == 1


def test_a_vat_code_unknown_to_the_kept_list_reads_it_again_once(connector, fake):
    added = {"vatId": "MP9", "type": "Sales", "schedules": [{"startDate": "2000-01-01", "vatRate": 12}]}
    fake.on("GET", "/v1/vat", (200, VAT), (200, [*VAT, added]))
    client_for(connector, session=session_for(fake)).vat_codes()
    later = client_for(connector, session=session_for(fake))
    assert later.vat_rate("MP9") == Decimal(12)  # added in Visma.net meanwhile: found
    assert later.vat_rate("ZZ") is None and later.vat_rate("ZY") is None  # no such code: one read stands
    assert len(fake.calls("GET", "/v1/vat")) == 2
    assert client_for(connector, session=session_for(fake)).vat_rate("MP9") == Decimal(12)  # kept for the next
    assert len(fake.calls("GET", "/v1/vat")) == 2


def test_a_rate_without_a_code_in_the_kept_list_reads_it_again_once(connector, fake):
    fake.on("GET", "/v1/vat", (200, VAT[:1]), (200, VAT))
    client_for(connector, session=session_for(fake)).vat_codes()
    later = client_for(connector, session=session_for(fake))
    assert later.vat_code_for(Decimal(6)) == "MP3"
    assert later.vat_code_for(Decimal(7)) is None
    assert len(fake.calls("GET", "/v1/vat")) == 2


def test_vat_codes_are_kept_per_company(connector, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    client_for(connector, session=session_for(fake)).vat_codes()
    connector.settings = {**connector.settings, "tenant_id": "0f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"}
    client_for(connector, session=session_for(fake)).vat_codes()
    assert len(fake.calls("GET", "/v1/vat")) == 2


def test_a_client_built_without_a_shared_cache_keeps_them_itself(connector, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    client = VismaNetClient(
        connector, store=ConnectorTokens(connector), limiter=RecordingLimiter(), session=session_for(fake)
    )
    client.vat_rate("MP1"), client.vat_code_for(Decimal(12)), client.vat_rate("MF")
    assert len(fake.calls("GET", "/v1/vat")) == 1


# -- 2. page sizes ----------------------------------------------------------------------------------
def test_inventory_is_read_in_pages_of_5000(client, fake):
    fake.on("GET", "/v1/inventory", listing(items(12_000), 5000))
    pages = list(client.inventory_pages())
    assert [len(p.items) for p in pages] == [5000, 5000, 2000]
    assert {query(r)["pageSize"] for r in fake.calls("GET", "/v1/inventory")} == {str(LARGE_PAGE_SIZE)}
    list(client.inventory_pages(stock=True))
    assert query(fake.calls("GET", "/v1/inventory")[-1])["pageSize"] == "5000"


def test_prices_and_customers_ask_for_large_pages_and_follow_a_smaller_cap(client, fake):
    fake.on("GET", "/v1/customerSalesPrice", listing(prices(2500), 1000))
    fake.on("GET", "/v1/customer", listing([{"number": str(n)} for n in range(1500)], 1000))
    read = list(client.price_pages({"priceType": "Base"}))
    assert [(p.number, p.total_pages, len(p.items)) for p in read] == [(1, 3, 1000), (2, 3, 1000), (3, 3, 500)]
    assert [i["inventoryId"] for p in read for i in p.items] == [f"A{i:05d}" for i in range(2500)]
    assert sum(len(p.items) for p in client.customer_pages()) == 1500
    for path in ("/v1/customerSalesPrice", "/v1/customer"):
        assert {query(r)["pageSize"] for r in fake.calls("GET", path)} == {"5000"}


def test_a_list_without_a_count_goes_on_after_a_page_of_the_common_cap(client, fake):
    rows = [{"number": str(n)} for n in range(1500)]

    def capped(request):  # capped at 1000 silently, and no metadata
        start = (int(query(request)["pageNumber"]) - 1) * 1000
        return (200, rows[start : start + 1000])

    fake.on("GET", "/v1/customer", capped)
    assert sum(len(p.items) for p in client.customer_pages()) == 1500


# -- 3. prices' VAT rates in bulk -----------------------------------------------------------------
def price_world(fake, n: int) -> None:
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on("GET", "/v1/customerSalesPrice", listing(prices(n), 1000))
    fake.on("GET", "/v1/inventory", listing(items(n), 5000))


def test_a_full_file_of_prices_with_vat_rates_costs_calls_per_page_not_per_item(connector, fake):
    n = 2500
    price_world(fake, n)
    source = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    read = [item for page in source.pages("price", price_settings(), with_vat_rates=True) for item in page.items]
    assert len(read) == n and all(item.error is None for item in read)
    codes = list(RATE_CODES)
    assert all(item.record.vat_rate == RATE_CODES[codes[i % 4]] for i, item in enumerate(read))
    calls = api_calls(fake)
    assert calls.count("/v1/customerSalesPrice") == math.ceil(n / 1000)
    assert calls.count("/v1/inventory") == math.ceil(n / 5000)
    assert calls.count("/v1/vat") == 1
    assert len(calls) == 3 + 1 + 1  # O(pages): no GET /v1/inventory/{n}


def test_a_full_file_resumed_in_another_task_uses_the_kept_vat_codes_of_the_items(connector, fake):
    price_world(fake, 2500)
    first = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    next(first.pages("price", price_settings(), with_vat_rates=True))
    fake.sent.clear()
    again = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    read = [i for p in again.pages("price", price_settings(), start_page=2, with_vat_rates=True) for i in p.items]
    assert read[0].key == "A01000" and read[0].record.vat_rate == Decimal(25)
    assert api_calls(fake) == ["/v1/customerSalesPrice", "/v1/customerSalesPrice"]


def test_a_few_changed_prices_read_their_items_one_by_one(connector, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on("GET", "/v1/customerSalesPrice", listing(prices(3), 1000))
    for item in items(3):
        fake.on("GET", f"/v1/inventory/{item['inventoryNumber']}", (200, item))
    source = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    read = [i for p in source.pages("price", price_settings(), with_vat_rates=True) for i in p.items]
    assert [i.record.vat_rate for i in read] == [Decimal(25), Decimal(12), Decimal(6)]
    assert "/v1/inventory" not in api_calls(fake)
    assert len([c for c in api_calls(fake) if c.startswith("/v1/inventory/")]) == 3 <= ITEM_READS


def test_an_item_missing_from_the_kept_list_is_read_on_its_own(connector, fake):
    price_world(fake, 2500)
    VismaNetMasterData(client_for(connector, session=session_for(fake)))._item_codes_for(ITEM_READS + 1)
    fake.on("GET", "/v1/customerSalesPrice", listing([*prices(2500), *prices(2501)[-1:]], 1000))
    fake.on("GET", "/v1/inventory/A02500", (200, {"inventoryNumber": "A02500", "vatCode": {"id": "MP2"}}))
    source = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    last = list(source.pages("price", price_settings(), start_page=3, with_vat_rates=True))[-1].items[-1]
    assert last.key == "A02500" and last.record.vat_rate == Decimal(12)
    assert len(fake.calls("GET", "/v1/inventory/A02500")) == 1


def test_a_price_of_an_item_not_in_the_list_just_read_has_no_rate_and_costs_no_call(connector, fake):
    price_world(fake, 2500)
    fake.on("GET", "/v1/customerSalesPrice", listing([*prices(2500), {"inventoryId": "GONE", "price": 1}], 1000))
    source = VismaNetMasterData(client_for(connector, session=session_for(fake)))
    read = {i.key: i for p in source.pages("price", price_settings(), with_vat_rates=True) for i in p.items}
    assert read["GONE"].record.vat_rate is None
    assert not [c for c in api_calls(fake) if c.startswith("/v1/inventory/")]


def test_the_vat_codes_of_items_are_compact_and_read_back_from_the_cache():
    page = Page(1, 1, [*items(1000), {"inventoryNumber": "NONE", "description": "No VAT"}])
    codes = ItemVatCodes.read([page])
    assert len(codes.entries.tobytes()) == 8 * 1001
    assert codes.code("A00001") == "MP2" and codes.code("NONE") == "" and codes.code("B1") is None
    kept = ItemVatCodes.from_kept(codes.kept())
    assert kept is not None and kept.code("A00003") == "MF" and kept.holds("A00999")
    assert ItemVatCodes.from_kept({"entries": b"123", "codes": []}) is None
    assert ItemVatCodes.from_kept(None) is None


def test_items_of_more_codes_than_kept_are_read_on_their_own():
    many = [{"inventoryNumber": f"B{i}", "vatCode": {"id": f"C{i}"}} for i in range(300)]
    codes = ItemVatCodes.read([Page(1, 1, many)])
    assert codes.code("B0") == "C0" and codes.code("B254") == "C254"
    assert codes.code("B299") is None and codes.holds("B299")


# -- 4. the rate window's reserve -------------------------------------------------------------------
def limited(connector, fake) -> tuple[VismaNetClient, RecordingLimiter]:
    limiter = RecordingLimiter()
    client = VismaNetClient(connector, store=ConnectorTokens(connector), limiter=limiter, session=session_for(fake))
    return client, limiter


@pytest.mark.parametrize(("remaining", "held"), [("3", False), ("2", True), ("1", True), ("0", True)])
def test_a_nearly_spent_window_holds_every_worker_back_until_it_resets(connector, fake, remaining, held):
    client, limiter = limited(connector, fake)
    headers = {"X-RateLimit-Limit": "3600", "X-RateLimit-Remaining": remaining, "X-RateLimit-Reset": "42"}
    fake.on("GET", "/v1/organization", (200, [{"name": "Demo AB"}], headers))
    client.organization()
    assert limiter.penalties == ([(f"vismanet:{connector.pk}", 42.0)] if held else [])


def test_the_reserve_is_a_connector_setting(integration, fake):
    connector = make_vismanet(integration.connectors.get(role="erp"), rate_limit_reserve=5)
    client, limiter = limited(connector, fake)
    fake.on("GET", "/v1/organization", (200, [{}], {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "9"}))
    client.organization()
    assert limiter.penalties == [(f"vismanet:{connector.pk}", 9.0)]
    none = make_vismanet(integration.connectors.get(role="erp"), rate_limit_reserve=0)
    client, limiter = limited(none, fake)
    fake.on("GET", "/v1/organization", (200, [{}], {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "9"}))
    client.organization()
    assert limiter.penalties == []


def test_a_reset_of_zero_holds_nobody_back(connector, fake):
    client, limiter = limited(connector, fake)
    fake.on("GET", "/v1/organization", (200, [{}], {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}))
    client.organization()
    assert limiter.penalties == []


def test_the_reserve_is_a_whole_number_of_zero_or_more():
    assert validate_settings({"tenant_id": TENANT, "rate_limit_reserve": "4"})["rate_limit_reserve"] == 4
    with pytest.raises(ValueError, match="rate_limit_reserve"):
        validate_settings({"tenant_id": TENANT, "rate_limit_reserve": -1})


def test_two_items_of_one_hash_never_share_a_rate(monkeypatch):
    # Force the rare case: every number hashes alike.
    monkeypatch.setattr(ItemVatCodes, "_hash", staticmethod(lambda number: 42))
    differ = ItemVatCodes.read(
        [
            Page(1, 1, [{"inventoryNumber": "X1", "vatCode": {"id": "MP1"}}]),
            Page(2, 2, [{"inventoryNumber": "X2", "vatCode": {"id": "MP2"}}]),
        ]
    )
    assert len(differ.entries) == 1
    assert differ.holds("X1") and differ.code("X1") is None and differ.code("X2") is None  # read on their own
    agree = ItemVatCodes.read(
        [
            Page(
                1,
                1,
                [
                    {"inventoryNumber": "Y1", "vatCode": {"id": "MP1"}},
                    {"inventoryNumber": "Y2", "vatCode": {"id": "MP1"}},
                ],
            )
        ]
    )
    assert agree.code("Y1") == agree.code("Y2") == "MP1"
