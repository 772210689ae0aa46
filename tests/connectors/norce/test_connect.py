"""Connect 4.0 import records: headers list exactly the chosen fields, items nest them, bodies stream."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from connectors.norce import connect
from connectors.norce.connect import build_header, build_item, json_array_chunks
from core.records import CatalogueRecord, changed_fields, content_hash

PRODUCT_IDENTITY = {
    "ManufacturerCode": "ACME",
    "Code": "P-1",
    "ManufacturerPartNo": "M-1",
    "PartNo": "SKU-1",
    "CultureCode": "sv-SE",
}
PRODUCT_FIELDS = {
    "Product.ManufacturerCode": "ACME",
    "Product.ManufacturerName": "Acme AB",
    "Product.Code": "P-1",
    "ProductCulture.Name": "Löparsko",
    "SkuCulture.ErpName": "Löparsko 42",
    "Sku.Status": 1,
    "Sku.Type": 1,
    "Sku.EanCode": "7300000000017",
    "Sku.VatRates": [{"SalesArea": 1, "Rate": 25}],
    "Variant.SortOrderValue": 3,
}


def product_record(**fields) -> CatalogueRecord:
    return CatalogueRecord(
        method=connect.PRODUCTS, source_id="SKU-1", identity=dict(PRODUCT_IDENTITY), fields={**PRODUCT_FIELDS, **fields}
    )


# -- headers ------------------------------------------------------------------------------------


def test_sku_field_lists_the_variant_and_sku_containers():
    header = build_header(connect.PRODUCTS, ["Sku.EanCode"], account_id=10000)
    assert header == {
        "AccountId": 10000,
        "FullFile": False,
        "ProductFieldsThatAreSet": [4],
        "VariantFieldsThatAreSet": [5],
        "SkuFieldsThatAreSet": [5],
    }


def test_product_culture_field_lists_the_cultures_container():
    header = build_header(connect.PRODUCTS, ["ProductCulture.Name"], account_id=7)
    assert header == {
        "AccountId": 7,
        "FullFile": False,
        "ProductCultureFieldsThatAreSet": [0],
        "ProductFieldsThatAreSet": [5],
    }
    assert "VariantFieldsThatAreSet" not in header and "SkuFieldsThatAreSet" not in header


def test_sku_culture_field_lists_variants_and_skus_but_not_product_cultures():
    header = build_header(connect.PRODUCTS, ["SkuCulture.ErpName"], account_id=1)
    assert header["SkuCultureFieldsThatAreSet"] == [0]
    assert header["ProductFieldsThatAreSet"] == [4]
    assert header["VariantFieldsThatAreSet"] == [5]
    assert "ProductCultureFieldsThatAreSet" not in header


def test_variant_field_alone_lists_variants_but_not_skus():
    header = build_header(connect.PRODUCTS, ["Variant.SortOrderValue"], account_id=1)
    assert header["ProductFieldsThatAreSet"] == [4]
    assert header["VariantFieldsThatAreSet"] == [1]
    assert "SkuFieldsThatAreSet" not in header


def test_product_level_field_needs_no_container():
    header = build_header(connect.PRODUCTS, ["Product.ManufacturerName"], account_id=1)
    assert header == {"AccountId": 1, "FullFile": False, "ProductFieldsThatAreSet": [1]}


def test_every_product_field_is_listed_sorted_with_all_containers():
    header = build_header(connect.PRODUCTS, PRODUCT_FIELDS.keys(), account_id=10000, full_file=True)
    assert header == {
        "AccountId": 10000,
        "FullFile": True,
        "ProductCultureFieldsThatAreSet": [0],
        "ProductFieldsThatAreSet": [0, 1, 3, 4, 5],
        "SkuCultureFieldsThatAreSet": [0],
        "SkuFieldsThatAreSet": [1, 2, 5, 21],
        "VariantFieldsThatAreSet": [1, 5],
    }


@pytest.mark.parametrize(
    "method, keys, expected_list, numbers",
    [
        (connect.PRICES, ["SkuPriceList.PriceSale", "SkuPriceList.IsActive"], "SkuPriceListFieldsThatAreSet", [3, 10]),
        (connect.ONHANDS, ["SkuOnhand.OnhandValue"], "SkuOnhandFieldsThatAreSet", [3]),
        (connect.CUSTOMERS, ["Customer.EmailAddress", "Customer.FirstName"], "CustomerFieldsThatAreSet", [3, 6]),
        (connect.COMPANIES, ["Company.Name", "Company.VatNo"], "CompanyFieldsThatAreSet", [4, 21]),
    ],
)
def test_other_methods_list_only_their_own_level(method, keys, expected_list, numbers):
    header = build_header(method, keys, account_id=10000)
    lists = {k: v for k, v in header.items() if k.endswith("FieldsThatAreSet")}
    assert lists == {expected_list: numbers}


@pytest.mark.parametrize("method", [connect.PRODUCTS, connect.PRICES, connect.ONHANDS])
@pytest.mark.parametrize("full_file", [True, False, None])
def test_full_file_only_for_catalogue_methods(method, full_file):
    key = {
        connect.PRODUCTS: "Sku.Status",
        connect.PRICES: "SkuPriceList.PriceSale",
        connect.ONHANDS: "SkuOnhand.OnhandValue",
    }[method]
    header = build_header(method, [key], account_id=1, full_file=full_file)
    assert header["FullFile"] is bool(full_file)


@pytest.mark.parametrize("method, key", [(connect.CUSTOMERS, "Customer.Code"), (connect.COMPANIES, "Company.Code")])
def test_customers_and_companies_have_no_full_file(method, key):
    assert "FullFile" not in build_header(method, [key], account_id=1, full_file=True)
    assert "FullFile" not in build_header(method, [key], account_id=1)


@pytest.mark.parametrize(
    "method, key",
    [
        (connect.PRODUCTS, "Sku.Colour"),
        (connect.PRODUCTS, "Customer.Code"),  # a known field of another method
        (connect.PRICES, "SkuOnhand.OnhandValue"),
        (connect.CUSTOMERS, "Company.Name"),
        (connect.ONHANDS, "OnhandValue"),
    ],
)
def test_unknown_field_is_refused(method, key):
    with pytest.raises(ValueError, match="is not a field of"):
        build_header(method, [key], account_id=1)


def test_header_value_is_one_line_json():
    header = build_header(connect.PRODUCTS, PRODUCT_FIELDS.keys(), account_id=10000)
    text = connect.header_value(header)
    assert "\n" not in text and " " not in text
    assert json.loads(text) == header


# -- items --------------------------------------------------------------------------------------


def test_product_item_nests_product_variant_sku_with_only_chosen_fields():
    item = build_item(product_record(), ["Sku.EanCode", "ProductCulture.Name"])
    assert item == {
        "ManufacturerCode": "ACME",
        "Code": "P-1",
        "Cultures": [{"CultureCode": "sv-SE", "Name": "Löparsko"}],
        "Variants": [{"ManufacturerPartNo": "M-1", "Skus": [{"PartNo": "SKU-1", "EanCode": "7300000000017"}]}],
    }


def test_product_item_with_no_fields_keeps_the_identifiers():
    item = build_item(product_record(), [])
    assert item == {
        "ManufacturerCode": "ACME",
        "Code": "P-1",
        "Variants": [{"ManufacturerPartNo": "M-1", "Skus": [{"PartNo": "SKU-1"}]}],
    }


def test_product_item_with_every_field():
    item = build_item(product_record(), PRODUCT_FIELDS.keys())
    assert item["ManufacturerName"] == "Acme AB"
    assert item["Cultures"] == [{"CultureCode": "sv-SE", "Name": "Löparsko"}]
    variant = item["Variants"][0]
    assert variant["SortOrderValue"] == 3 and variant["ManufacturerPartNo"] == "M-1"
    sku = variant["Skus"][0]
    assert sku == {
        "PartNo": "SKU-1",
        "Status": 1,
        "Type": 1,
        "EanCode": "7300000000017",
        "VatRates": [{"SalesArea": 1, "Rate": 25}],
        "Cultures": [{"CultureCode": "sv-SE", "ErpName": "Löparsko 42"}],
    }


def test_chosen_key_missing_from_the_record_is_left_out():
    record = product_record()
    del record.fields["Sku.EanCode"]
    sku = build_item(record, ["Sku.EanCode", "Sku.Status"])["Variants"][0]["Skus"][0]
    assert sku == {"PartNo": "SKU-1", "Status": 1}


def test_item_from_a_stored_payload_dict_equals_item_from_record():
    record = product_record()
    keys = ["Sku.Status", "SkuCulture.ErpName"]
    assert build_item(record.payload(), keys) == build_item(record, keys)


def test_flat_methods_put_identity_and_chosen_fields_side_by_side():
    record = CatalogueRecord(
        method=connect.PRICES,
        source_id="SKU-1@SEK/1",
        identity={"PartNo": "SKU-1", "PriceListCode": "SEK", "QuantityBreak": 1, "CurrencyCode": "SEK"},
        fields={"SkuPriceList.PriceSale": 99.5, "SkuPriceList.IsActive": True},
    )
    assert build_item(record, ["SkuPriceList.PriceSale"]) == {
        "PartNo": "SKU-1",
        "PriceListCode": "SEK",
        "QuantityBreak": 1,
        "CurrencyCode": "SEK",
        "PriceSale": 99.5,
    }


def test_company_item():
    record = CatalogueRecord(
        method=connect.COMPANIES,
        source_id="2",
        identity={"Code": "2"},
        fields={"Company.Name": "Kontor AB", "Company.VatNo": "SE556"},
    )
    assert build_item(record, ["Company.Name"]) == {"Code": "2", "Name": "Kontor AB"}


# -- bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 500])
def test_json_array_chunks_parse_as_the_same_array(count):
    items = [{"PartNo": f"SKU-{n}", "Name": 'Åsa "quoted" ✓', "Price": Decimal("12.50"), "n": n} for n in range(count)]
    body = b"".join(json_array_chunks(iter(items), chunk_bytes=256))
    expected = [{**item, "Price": 12.5} for item in items]
    assert json.loads(body.decode("utf-8")) == expected


def test_big_input_is_sent_in_several_chunks_each_bounded():
    items = ({"PartNo": f"SKU-{n:06d}", "Description": "x" * 100} for n in range(2000))
    chunks = list(json_array_chunks(items, chunk_bytes=4096))
    assert len(chunks) > 10
    # A chunk closes as soon as it passes the bound, so it overshoots by less than one item.
    assert all(len(chunk) < 4096 + 200 for chunk in chunks)
    parsed = json.loads(b"".join(chunks))
    assert len(parsed) == 2000 and parsed[-1]["PartNo"] == "SKU-001999"


def test_empty_input_is_one_empty_array():
    assert list(json_array_chunks([])) == [b"[]"]


# -- comparison -----------------------------------------------------------------------------------


def test_changed_fields_lists_only_differences_and_new_keys():
    confirmed = {"Sku.Status": 1, "Sku.EanCode": "111", "Sku.VatRates": [{"SalesArea": 1, "Rate": 25}]}
    fields = {
        "Sku.Status": 1,
        "Sku.EanCode": "222",
        "Sku.VatRates": [{"SalesArea": 1, "Rate": 25}],
        "Sku.ActualWeight": 0.5,
    }
    assert changed_fields(fields, confirmed) == {"Sku.EanCode", "Sku.ActualWeight"}


def test_changed_fields_nothing_changed_and_nothing_confirmed():
    fields = {"Sku.Status": 1, "Sku.Type": 1}
    assert changed_fields(fields, dict(fields)) == set()
    assert changed_fields(fields, {}) == {"Sku.Status", "Sku.Type"}
    # A key Norce has but the record no longer sets is not a change to send.
    assert changed_fields({"Sku.Status": 1}, {"Sku.Status": 1, "Sku.EanCode": "1"}) == set()


def test_changed_fields_compares_nested_values():
    before = {"Customer.InvoiceAddress": {"City": "Umeå", "ZipCode": "90326"}}
    after = {"Customer.InvoiceAddress": {"City": "Umeå", "ZipCode": "90327"}}
    assert changed_fields(after, before) == {"Customer.InvoiceAddress"}


def test_content_hash_ignores_key_order_and_sees_values():
    a = content_hash({"b": 1, "a": [1, 2]})
    assert a == content_hash({"a": [1, 2], "b": 1})
    assert a != content_hash({"a": [2, 1], "b": 1})
    assert content_hash({"x": Decimal("2.0")}) == content_hash({"x": 2})
    record = product_record()
    assert record.hash == product_record().hash
    assert record.hash != product_record(**{"Sku.Status": 5}).hash
