"""The master-data source port's contract, run against every adapter (Fortnox over HTTP to its
simulator, and the fake ERP): products, prices and stock levels as Brygga's records, page by
page, changed since a cursor, read again one by one, and an unreadable item reported on itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.records import Price, Product, StockLevel
from tests.conftest import price_settings, product_settings, stock_settings

T0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)


def read_all(harness, data_type: str, settings, **options) -> dict:
    items = {}
    pages = list(harness.source.pages(data_type, settings, **options))
    assert pages and all(page.total_pages == pages[0].total_pages for page in pages)
    assert [page.number for page in pages] == list(range(pages[0].number, pages[0].number + len(pages)))
    for page in pages:
        for item in page.items:
            assert item.key not in items, f"{item.key} read twice"
            items[item.key] = item
    return items


def seed(harness) -> None:
    harness.at(T0)
    harness.put("CT-100", "Kaffe Mörkrost 500 g", vat="12", price="88.39", stock="14")
    harness.put("CT-200", "Löparsko Pro", vat="25", price="799.20", stock="3")
    harness.put("CT-300", "Presentinslagning", vat="25", price="20.00", stock=None)


def test_products_are_read_with_name_vat_and_whether_they_are_kept_in_stock(master_data_source):
    seed(master_data_source)
    items = read_all(master_data_source, "product", product_settings())
    coffee, shoe, wrapping = (items[k].record for k in ("CT-100", "CT-200", "CT-300"))
    assert isinstance(coffee, Product) and coffee.name == "Kaffe Mörkrost 500 g"
    assert coffee.vat_rate == Decimal(12) and shoe.vat_rate == Decimal(25)
    assert coffee.stock_item and not wrapping.stock_item
    assert all(items[k].error is None for k in ("CT-100", "CT-200", "CT-300"))


def test_prices_are_exact_and_say_whether_they_include_vat(master_data_source):
    seed(master_data_source)
    items = read_all(master_data_source, "price", price_settings(), with_vat_rates=True)
    coffee = items["CT-100"].record
    assert isinstance(coffee, Price)
    assert coffee.amount == Decimal("88.39") and coffee.includes_vat is False
    assert coffee.from_quantity == 1 and coffee.vat_rate == Decimal(12)


def test_stock_levels_are_read_for_stock_items_only(master_data_source):
    seed(master_data_source)
    items = read_all(master_data_source, "stock", stock_settings())
    assert isinstance(items["CT-100"].record, StockLevel)
    assert items["CT-100"].record.quantity == Decimal(14) and items["CT-200"].record.quantity == Decimal(3)
    wrapping = items["CT-300"]
    assert wrapping.record is None and wrapping.error is None


def test_only_what_changed_after_the_cursor_is_read(master_data_source):
    seed(master_data_source)
    cursor = T0 + timedelta(hours=1)
    master_data_source.at(cursor + timedelta(minutes=30))
    master_data_source.put("CT-200", "Löparsko Pro 2", vat="25", price="849.00", stock="3")
    items = read_all(master_data_source, "product", product_settings(), since=cursor)
    assert "CT-200" in items and items["CT-200"].record.name == "Löparsko Pro 2"
    assert "CT-100" not in items and "CT-300" not in items


def test_one_item_is_read_again_as_the_source_holds_it_now(master_data_source):
    seed(master_data_source)
    master_data_source.put("CT-100", "Kaffe Ljusrost 500 g", vat="12", price="88.39", stock="9")
    again = master_data_source.source.reread("product", "CT-100", product_settings())
    assert again.key == "CT-100" and again.record.name == "Kaffe Ljusrost 500 g"
    stock = master_data_source.source.reread("stock", "CT-100", stock_settings(source="articles"))
    assert stock.record.quantity == Decimal(9)
    assert master_data_source.source.reread("product", "CT-999", product_settings()) is None


def test_an_item_that_cannot_be_read_is_reported_on_itself_and_the_others_go_on(master_data_source):
    seed(master_data_source)
    master_data_source.break_item("CT-200")
    items = read_all(master_data_source, "product", product_settings())
    broken = items["CT-200"]
    assert broken.record is None and broken.error is not None
    assert broken.error.code == "product.vat_missing" and broken.error.permanent
    assert items["CT-100"].record is not None and items["CT-300"].record is not None
