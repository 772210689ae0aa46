"""Fortnox articles, prices, stock and customers read as Brygga's records and mapped to Norce
Connect records, composed as the master-data flows compose them (source, then target)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from connectors.fortnox import master
from connectors.norce import catalogue, connect
from core.errors import SyncError
from integrations.flows.master_settings import FlowSettings
from tests.conftest import customer_settings, price_settings, product_settings, stock_settings


def _price_record(part_no, price, settings, *, from_quantity=0, vat=None):
    read = master.price(
        part_no, price, includes_vat=settings.source_prices_include_vat, quantity=from_quantity, vat=vat
    )
    return catalogue.price_record(read, settings)


to_norce = SimpleNamespace(
    product_record=lambda article, settings: catalogue.product_record(master.product(article), settings),
    price_record=_price_record,
    stock_record=lambda part_no, quantity, settings: catalogue.stock_record(
        master.stock_level(part_no, quantity), settings
    ),
    article_stock=master.article_stock,
    customer_record=lambda customer, settings: catalogue.customer_record(master.account(customer, settings), settings),
    vat_factor=lambda vat, settings: catalogue.vat_factor(
        vat,
        source_includes_vat=settings.source_prices_include_vat,
        target_includes_vat=settings.target_prices_include_vat,
    ),
)


def article(**fields):
    return {
        "ArticleNumber": "A-100",
        "Description": "Löparsko Pro",
        "VAT": 25,
        "Active": True,
        "Expired": False,
        "StockGoods": True,
        "Type": "STOCK",
        "Unit": "st",
        "EAN": "7300000000017",
        "Manufacturer": "Acme Sport AB",
        "Weight": 850,
        "WebshopArticle": True,
        **fields,
    }


def product(settings: FlowSettings | None = None, **fields):
    return to_norce.product_record(article(**fields), settings or product_settings())


# -- products -------------------------------------------------------------------------------------


def test_product_record_fields_and_identity():
    record = product()
    assert record.method == connect.PRODUCTS
    assert record.source_id == "A-100" and record.reference == "A-100" and record.label == "Löparsko Pro"
    assert record.identity == {
        "ManufacturerCode": "ACME-SPORT-AB",
        "Code": "A-100",
        "ManufacturerPartNo": "A-100",
        "PartNo": "A-100",
        "CultureCode": "sv-SE",
    }
    assert record.fields == {
        "Product.ManufacturerCode": "ACME-SPORT-AB",
        "Product.ManufacturerName": "Acme Sport AB",
        "Product.Code": "A-100",
        "ProductCulture.Name": "Löparsko Pro",
        "SkuCulture.ErpName": "Löparsko Pro",
        "Sku.Status": 1,
        "Sku.Type": 1,
        "Sku.UnitOfMeasurementType": 1,
        "Sku.UnitOfMeasurementCount": 1,
        "Sku.VatRates": [{"SalesArea": 1, "Rate": 25}],
        "Sku.EanCode": "7300000000017",
        "Sku.ActualWeight": 0.85,
    }
    # Every field the mapping sets is one Norce's header can list.
    connect.check_fields(connect.PRODUCTS, record.fields)


@pytest.mark.parametrize(
    "fields, status",
    [
        ({}, 1),
        ({"Active": False}, 5),
        ({"Active": "false"}, 5),
        ({"Expired": True}, 5),
        ({"Active": None}, 1),  # absent from the list item: active
    ],
)
def test_status_active_inactive_expired(fields, status):
    assert product(**fields).fields["Sku.Status"] == status


def test_custom_statuses_from_settings():
    settings = product_settings(active_status=2, inactive_status=4)
    assert product(settings).fields["Sku.Status"] == 2
    assert product(settings, Active=False).fields["Sku.Status"] == 4


@pytest.mark.parametrize("webshop, status", [(True, 1), ("true", 1), (False, 5), (None, 5)])
def test_webshop_only_deactivates_articles_not_marked_for_the_webshop(webshop, status):
    settings = product_settings(webshop_only=True)
    assert product(settings, WebshopArticle=webshop).fields["Sku.Status"] == status
    # Without the setting the mark does not matter.
    assert product(WebshopArticle=webshop).fields["Sku.Status"] == 1


def test_webshop_only_keeps_inactive_articles_inactive():
    assert product(product_settings(webshop_only=True), Active=False).fields["Sku.Status"] == 5


@pytest.mark.parametrize("vat, rate", [(25, 25), (12, 12), (6, 6), (0, 0), ("25", 25), ("12.0", 12), ("6,00", 6)])
def test_vat_rates(vat, rate):
    assert product(VAT=vat).fields["Sku.VatRates"] == [{"SalesArea": 1, "Rate": rate}]


def test_sales_area_from_settings():
    assert product(product_settings(sales_area=3)).fields["Sku.VatRates"] == [{"SalesArea": 3, "Rate": 25}]


@pytest.mark.parametrize("vat", [None, ""])
def test_missing_vat_is_product_vat_missing(vat):
    with pytest.raises(SyncError) as raised:
        product(VAT=vat)
    assert raised.value.code == "product.vat_missing" and raised.value.permanent
    assert "A-100" in raised.value.message


@pytest.mark.parametrize("vat", [7, 24, "abc"])
def test_non_swedish_or_unreadable_vat_is_product_vat_missing(vat):
    with pytest.raises(SyncError) as raised:
        product(VAT=vat)
    assert raised.value.code == "product.vat_missing"


@pytest.mark.parametrize("description", ["", "   ", None])
def test_empty_description_is_product_invalid(description):
    with pytest.raises(SyncError) as raised:
        product(Description=description)
    assert raised.value.code == "product.invalid" and "description" in raised.value.message


def test_missing_or_too_long_article_number_is_product_invalid():
    with pytest.raises(SyncError) as raised:
        product(ArticleNumber="")
    assert raised.value.code == "product.invalid"
    with pytest.raises(SyncError) as raised:
        product(ArticleNumber="X" * 51)
    assert raised.value.code == "product.invalid" and "50" in raised.value.message
    assert product(ArticleNumber="X" * 50).fields["Product.Code"] == "X" * 50


@pytest.mark.parametrize("ean", ["", "  ", None])
def test_blank_ean_is_omitted(ean):
    assert "Sku.EanCode" not in product(EAN=ean).fields


def test_ean_is_trimmed():
    assert product(EAN=" 7300000000017 ").fields["Sku.EanCode"] == "7300000000017"


@pytest.mark.parametrize(
    "unit, number",
    [
        ("st", 1),
        ("ST", 1),
        ("pcs", 1),
        ("tim", 2),
        ("kg", 3),
        ("liter", 4),
        ("par", 5),
        ("kvm", 6),
        ("m", 7),
        ("kartong", 8),
        ("rulle", 9),
        (" Kg ", 3),
        ("furlong", 1),
        ("", 1),
        (None, 1),
    ],
)
def test_unit_mapping(unit, number):
    assert product(Unit=unit).fields["Sku.UnitOfMeasurementType"] == number


@pytest.mark.parametrize("grams, kilograms", [(850, 0.85), ("1500", 1.5), (1, 0.001), ("2000", 2), (1234.5, 1.235)])
def test_weight_grams_to_kilograms(grams, kilograms):
    assert product(Weight=grams).fields["Sku.ActualWeight"] == kilograms


@pytest.mark.parametrize("weight", [None, "", 0, "0"])
def test_no_weight_is_omitted(weight):
    assert "Sku.ActualWeight" not in product(Weight=weight).fields


def test_unreadable_weight_is_product_invalid():
    with pytest.raises(SyncError) as raised:
        product(Weight="tung")
    assert raised.value.code == "product.invalid"


@pytest.mark.parametrize(
    "manufacturer, code",
    [
        ("Acme Sport AB", "ACME-SPORT-AB"),
        ("  åäö & Co.  ", "CO"),  # non-ASCII letters are not kept
        ("", "ERP"),
        (None, "ERP"),
        ("---", "ERP"),
        ("x" * 80, "X" * 50),
    ],
)
def test_manufacturer_code_derived_from_the_manufacturer(manufacturer, code):
    record = product(Manufacturer=manufacturer)
    assert record.fields["Product.ManufacturerCode"] == code
    assert record.identity["ManufacturerCode"] == code


def test_manufacturer_code_setting_and_fallback():
    fixed = product(product_settings(manufacturer_code="SHOP"), Manufacturer="Acme")
    assert fixed.fields["Product.ManufacturerCode"] == "SHOP" and fixed.fields["Product.ManufacturerName"] == "Acme"
    assert (
        product(product_settings(fallback_manufacturer_code="OWN"), Manufacturer="").identity["ManufacturerCode"]
        == "OWN"
    )


@pytest.mark.parametrize(
    "fields, sku_type",
    [
        ({}, 1),
        ({"StockGoods": False}, 16),
        ({"Type": "SERVICE"}, 16),
        ({"StockGoods": "true"}, 1),
    ],
)
def test_sku_type_stock_and_service(fields, sku_type):
    assert product(**fields).fields["Sku.Type"] == sku_type


def test_culture_code_from_settings():
    record = product(product_settings(culture_code="en-GB"))
    assert record.identity["CultureCode"] == "en-GB"
    item = connect.build_item(record, ["ProductCulture.Name"])
    assert item["Cultures"] == [{"CultureCode": "en-GB", "Name": "Löparsko Pro"}]


# -- prices ---------------------------------------------------------------------------------------


def test_price_record_without_conversion():
    record = to_norce.price_record("A-100", "199.90", price_settings())
    assert record.method == connect.PRICES
    assert record.source_id == "A-100@SEK-STD/1"
    assert record.identity == {"PartNo": "A-100", "PriceListCode": "SEK-STD", "QuantityBreak": 1, "CurrencyCode": "SEK"}
    assert record.fields == {"SkuPriceList.PriceSale": 199.9, "SkuPriceList.IsActive": True}


def test_price_excluding_vat_to_price_including_vat():
    settings = price_settings(source_prices_include_vat=False, target_prices_include_vat=True)
    assert to_norce.price_record("A-100", 100, settings, vat=25).fields["SkuPriceList.PriceSale"] == 125
    assert to_norce.price_record("A-100", 100, settings, vat=12).fields["SkuPriceList.PriceSale"] == 112
    assert to_norce.price_record("A-100", "79.20", settings, vat=25).fields["SkuPriceList.PriceSale"] == 99
    # What the buyer pays is whole öre: 27.36 × 1.06 = 29.0016 → 29.00; 88.39 × 1.12 = 98.9968 → 99.00
    assert to_norce.price_record("A-100", "27.36", settings, vat=6).fields["SkuPriceList.PriceSale"] == 29
    assert to_norce.price_record("A-100", "88.39", settings, vat=12).fields["SkuPriceList.PriceSale"] == 99
    assert to_norce.price_record("A-100", "10.05", settings, vat=25).fields["SkuPriceList.PriceSale"] == 12.56


def test_price_including_vat_to_price_excluding_vat():
    settings = price_settings(source_prices_include_vat=True, target_prices_include_vat=False)
    assert to_norce.price_record("A-100", 125, settings, vat=25).fields["SkuPriceList.PriceSale"] == 100
    assert to_norce.price_record("A-100", 106, settings, vat=6).fields["SkuPriceList.PriceSale"] == 100
    # Four decimals are kept.
    assert to_norce.price_record("A-100", 100, settings, vat=25).fields["SkuPriceList.PriceSale"] == 80
    assert to_norce.price_record("A-100", 99, settings, vat=12).fields["SkuPriceList.PriceSale"] == 88.3929


def test_both_including_vat_is_not_converted():
    settings = price_settings(source_prices_include_vat=True, target_prices_include_vat=True)
    assert to_norce.price_record("A-100", 125, settings).fields["SkuPriceList.PriceSale"] == 125


def test_conversion_without_vat_rate_is_product_vat_missing():
    settings = price_settings(source_prices_include_vat=False, target_prices_include_vat=True)
    with pytest.raises(SyncError) as raised:
        to_norce.price_record("A-100", 100, settings, vat=None)
    assert raised.value.code == "product.vat_missing"


@pytest.mark.parametrize("price", [-1, "-0.01"])
def test_negative_price_is_price_invalid(price):
    with pytest.raises(SyncError) as raised:
        to_norce.price_record("A-100", price, price_settings())
    assert raised.value.code == "price.invalid" and raised.value.permanent


def test_unreadable_price_is_price_invalid():
    with pytest.raises(SyncError) as raised:
        to_norce.price_record("A-100", "gratis", price_settings())
    assert raised.value.code == "price.invalid"


def test_zero_price_is_allowed():
    assert to_norce.price_record("A-100", 0, price_settings()).fields["SkuPriceList.PriceSale"] == 0


@pytest.mark.parametrize("from_quantity, quantity_break", [(0, 1), (None, 1), (1, 1), ("10", 10), (25.0, 25)])
def test_quantity_breaks(from_quantity, quantity_break):
    record = to_norce.price_record(
        "A-100", 50, price_settings(norce_price_list_code="B2B"), from_quantity=from_quantity
    )
    assert record.identity["QuantityBreak"] == quantity_break
    assert record.source_id == f"A-100@B2B/{quantity_break}"


def test_vat_factor():
    assert to_norce.vat_factor(25, price_settings()) == Decimal(1)
    assert to_norce.vat_factor(25, price_settings(target_prices_include_vat=True)) == Decimal("1.25")
    assert to_norce.vat_factor(25, price_settings(source_prices_include_vat=True)) == Decimal(1) / Decimal("1.25")


# -- stock ----------------------------------------------------------------------------------------


def stock_article(**fields):
    return {
        "ArticleNumber": "A-100",
        "StockGoods": True,
        "Type": "STOCK",
        "QuantityInStock": 10,
        "ReservedQuantity": 3,
        "DisposableQuantity": 7,
        **fields,
    }


def test_available_stock_is_disposable_quantity():
    assert to_norce.article_stock(stock_article(), stock_settings()) == 7


def test_available_stock_without_disposable_is_in_stock_minus_reserved():
    value = to_norce.article_stock(stock_article(DisposableQuantity=None), stock_settings())
    assert value == Decimal(7)


def test_in_stock_quantity_ignores_reservations():
    assert to_norce.article_stock(stock_article(), stock_settings(quantity="in_stock")) == 10


@pytest.mark.parametrize("fields", [{"StockGoods": False}, {"StockGoods": None}, {"Type": "SERVICE"}])
def test_non_stock_goods_have_no_stock(fields):
    assert to_norce.article_stock(stock_article(**fields), stock_settings()) is None


def test_stock_record():
    record = to_norce.stock_record("A-100", 7, stock_settings(warehouse_code="WH", location_code="L1"))
    assert record.method == connect.ONHANDS
    assert record.source_id == "A-100@WH/L1"
    assert record.identity == {"PartNo": "A-100", "WarehouseCode": "WH", "LocationCode": "L1"}
    assert record.fields == {"SkuOnhand.OnhandValue": 7, "SkuOnhand.IsActive": True}


def test_negative_stock_is_sent_as_zero_unless_told_otherwise():
    assert to_norce.stock_record("A-100", -4, stock_settings()).fields["SkuOnhand.OnhandValue"] == 0
    available = to_norce.article_stock(stock_article(DisposableQuantity=-2), stock_settings())
    assert to_norce.stock_record("A-100", available, stock_settings()).fields["SkuOnhand.OnhandValue"] == 0
    kept = to_norce.stock_record("A-100", -4, stock_settings(negative_as_zero=False))
    assert kept.fields["SkuOnhand.OnhandValue"] == -4


def test_fractional_stock_and_unreadable_stock():
    assert to_norce.stock_record("A-100", "2.5", stock_settings()).fields["SkuOnhand.OnhandValue"] == 2.5
    with pytest.raises(SyncError) as raised:
        to_norce.stock_record("A-100", "many", stock_settings())
    assert raised.value.code == "stock.invalid"


# -- customers ------------------------------------------------------------------------------------


def private_customer(**fields):
    return {
        "CustomerNumber": "1",
        "Name": "Anna Maria Svensson",
        "Email": "anna@example.se",
        "Type": "PRIVATE",
        "Address1": "Vasagatan 12",
        "Address2": "lgh 1101",
        "ZipCode": "411 24",
        "City": "Göteborg",
        "CountryCode": "",
        "Phone1": "031-123456",
        "Phone2": "070-1234567",
        "Active": True,
        **fields,
    }


def company_customer(**fields):
    return {
        "CustomerNumber": "2",
        "Name": "Norrlands Kontor AB",
        "OrganisationNumber": "556123-4567",
        "Email": "faktura@norrlandskontor.se",
        "Type": "COMPANY",
        "Address1": "Storgatan 5",
        "ZipCode": "903 26",
        "City": "Umeå",
        "CountryCode": "SE",
        "Phone1": "090-11111",
        "VATNumber": "SE556123456701",
        "DeliveryAddress1": "Lagervägen 1",
        "DeliveryZipCode": "903 30",
        "DeliveryCity": "Umeå",
        "DeliveryCountryCode": "se",
        **fields,
    }


def test_private_customer_goes_to_import_customers():
    record = to_norce.customer_record(private_customer(), customer_settings())
    assert record.method == connect.CUSTOMERS
    assert record.identity == {"Type": 1, "Code": "1"}
    assert record.label == "Anna Maria Svensson"
    fields = record.fields
    assert fields["Customer.FirstName"] == "Anna" and fields["Customer.LastName"] == "Maria Svensson"
    assert fields["Customer.EmailAddress"] == "anna@example.se"
    assert fields["Customer.PhoneNumber"] == "031-123456" and fields["Customer.CellPhoneNumber"] == "070-1234567"
    assert fields["Customer.IsActive"] is True
    assert fields["Customer.InvoiceAddress"] == {
        "AddressLine1": "Vasagatan 12",
        "AddressLine2": "lgh 1101",
        "ZipCode": "41124",
        "City": "Göteborg",
        "CountryCode": "SE",
    }
    assert fields["Customer.DeliveryAddresses"] == []
    connect.check_fields(connect.CUSTOMERS, fields)


def test_one_word_name_has_empty_last_name():
    fields = to_norce.customer_record(private_customer(Name="Cher"), customer_settings()).fields
    assert fields["Customer.FirstName"] == "Cher" and fields["Customer.LastName"] == ""


def test_company_goes_to_import_companies():
    record = to_norce.customer_record(company_customer(), customer_settings())
    assert record.method == connect.COMPANIES
    assert record.identity == {"Code": "2"}
    fields = record.fields
    assert fields["Company.Name"] == "Norrlands Kontor AB"
    assert fields["Company.OrganizationNo"] == "556123-4567"
    assert fields["Company.VatNo"] == "SE556123456701"
    assert fields["Company.InvoiceAddress"] == {
        "AddressLine1": "Storgatan 5",
        "AddressLine2": "",
        "ZipCode": "90326",
        "City": "Umeå",
        "CountryCode": "SE",
    }
    assert fields["Company.DeliveryAddresses"] == [
        {"AddressLine1": "Lagervägen 1", "AddressLine2": "", "ZipCode": "90330", "City": "Umeå", "CountryCode": "SE"}
    ]
    assert not any(key.startswith("Customer.") for key in fields)
    connect.check_fields(connect.COMPANIES, fields)


def test_default_country_code_from_settings():
    fields = to_norce.customer_record(private_customer(), customer_settings(default_country_code="no")).fields
    assert fields["Customer.InvoiceAddress"]["CountryCode"] == "NO"


def test_inactive_customer_sent_inactive_or_not_at_all():
    record = to_norce.customer_record(private_customer(Active=False), customer_settings())
    assert record.fields["Customer.IsActive"] is False
    assert to_norce.customer_record(private_customer(Active=False), customer_settings(send_inactive=False)) is None


@pytest.mark.parametrize("name", ["", "  ", None])
def test_customer_without_name_is_customer_invalid(name):
    with pytest.raises(SyncError) as raised:
        to_norce.customer_record(private_customer(Name=name), customer_settings())
    assert raised.value.code == "customer.invalid" and "name" in raised.value.message


def test_customer_without_number_is_customer_invalid():
    with pytest.raises(SyncError) as raised:
        to_norce.customer_record(company_customer(CustomerNumber=""), customer_settings())
    assert raised.value.code == "customer.invalid"
