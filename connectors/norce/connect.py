"""Norce Commerce Connect 4.0 imports: records, headers and request bodies.

A record to import is kept flat: its identifiers (always in the body) and its fields
as ``"<Level>.<Field>"`` keys, e.g. ``"Sku.EanCode"`` or ``"ProductCulture.Name"``.
Flat fields make two things simple:

- comparing what changed since the target last confirmed a record (a dict diff);
- sending exactly those fields: :func:`build_item` nests the chosen fields into the
  method's JSON shape and :func:`build_header` lists exactly them (plus the structure
  they sit in) in ``X-StormConnect-Header``, so Norce writes nothing else.

Enum numbers are Norce's (Storm.Connect.Contracts); the header sends them as integers,
which both JSON and XML serialisations accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.records import CatalogueRecord, canonical_json

PRODUCTS = "Product/ImportProducts"
PRICES = "Product/ImportSkuPriceLists"
ONHANDS = "Product/ImportOnhands"
CUSTOMERS = "Customer/ImportCustomers"
COMPANIES = "Customer/ImportCompanies"
METHODS = (PRODUCTS, PRICES, ONHANDS, CUSTOMERS, COMPANIES)
# Methods whose header has FullFile (customers and companies have none).
FULL_FILE_METHODS = (PRODUCTS, PRICES, ONHANDS)


@dataclass(frozen=True)
class FieldSpec:
    header_list: str  # e.g. "SkuFieldsThatAreSet"
    number: int  # the field's enum value
    name: str  # JSON property on its level


def _fields(
    level: str, header_list: str, numbers: dict[str, int], names: dict[str, str] | None = None
) -> dict[str, FieldSpec]:
    names = names or {}
    return {
        f"{level}.{field_name}": FieldSpec(header_list, number, names.get(field_name, field_name))
        for field_name, number in numbers.items()
    }


FIELDS: dict[str, FieldSpec] = {
    **_fields(
        "Product", "ProductFieldsThatAreSet", {"ManufacturerCode": 0, "ManufacturerName": 1, "Code": 3, "Categories": 6}
    ),
    **_fields(
        "ProductCulture", "ProductCultureFieldsThatAreSet", {"Name": 0, "SubHeader": 2, "Description": 5, "Title": 8}
    ),
    **_fields("Variant", "VariantFieldsThatAreSet", {"SortOrderValue": 1}),
    **_fields(
        "Sku",
        "SkuFieldsThatAreSet",
        {
            "Status": 1,
            "Type": 2,
            "IntegrationPartNo": 3,
            "CommodityCode": 4,
            "EanCode": 5,
            "UnitOfMeasurementType": 7,
            "UnitOfMeasurementCount": 8,
            "IsBuyable": 10,
            "ActualWeight": 14,
            "LogisticWidth": 16,
            "LogisticHeight": 18,
            "LogisticDepth": 19,
            "VatRates": 21,
        },
    ),
    **_fields("SkuCulture", "SkuCultureFieldsThatAreSet", {"ErpName": 0, "Comment": 2}),
    **_fields(
        "SkuPriceList",
        "SkuPriceListFieldsThatAreSet",
        {
            "PriceSale": 3,
            "CostPurchase": 4,
            "CostUnit": 5,
            "PriceRecommended": 6,
            "PricePrevious": 7,
            "PriceCatalog": 8,
            "IsPriceDiscountable": 9,
            "IsActive": 10,
        },
    ),
    **_fields(
        "SkuOnhand",
        "SkuOnhandFieldsThatAreSet",
        {"OnhandValue": 3, "IncomingValue": 4, "NextDeliveryDate": 5, "LeadTimeDayCount": 6, "IsActive": 10},
    ),
    **_fields(
        "Customer",
        "CustomerFieldsThatAreSet",
        {
            "Code": 2,
            "EmailAddress": 3,
            "SocialSecurityNumber": 4,
            "FirstName": 6,
            "LastName": 8,
            "PhoneNumber": 9,
            "CellPhoneNumber": 10,
            "IsActive": 11,
            "InvoiceAddress": 12,
            "DeliveryAddresses": 13,
        },
    ),
    **_fields(
        "Company",
        "CompanyFieldsThatAreSet",
        {
            "Code": 2,
            "OrganizationNo": 3,
            "Name": 4,
            "EmailAddress": 5,
            "PhoneNumber": 6,
            "IsActive": 9,
            "InvoiceAddress": 10,
            "DeliveryAddresses": 11,
            "VatNo": 21,
        },
    ),
}

# Structure fields: listing a nested level's fields also lists the container it sits in.
PRODUCT_VARIANTS = 4  # ProductField.Variants
PRODUCT_CULTURES = 5  # ProductField.Cultures
VARIANT_SKUS = 5  # VariantField.Skus

METHOD_LEVELS: dict[str, tuple[str, ...]] = {
    PRODUCTS: ("Product", "ProductCulture", "Variant", "Sku", "SkuCulture"),
    PRICES: ("SkuPriceList",),
    ONHANDS: ("SkuOnhand",),
    CUSTOMERS: ("Customer",),
    COMPANIES: ("Company",),
}


def check_fields(method: str, keys: Iterable[str]) -> None:
    levels = METHOD_LEVELS[method]
    for key in keys:
        if key not in FIELDS or key.split(".", 1)[0] not in levels:
            raise ValueError(f"{key!r} is not a field of {method}")


# -- headers ---------------------------------------------------------------------------------
def build_header(method: str, keys: Iterable[str], *, account_id: int, full_file: bool | None = None) -> dict[str, Any]:
    """The X-StormConnect-Header object listing exactly `keys` (and the containers they need)."""
    keys = set(keys)
    check_fields(method, keys)
    lists: dict[str, set[int]] = {}
    for key in keys:
        spec = FIELDS[key]
        lists.setdefault(spec.header_list, set()).add(spec.number)
    if method == PRODUCTS:
        levels = {key.split(".", 1)[0] for key in keys}
        if levels & {"Variant", "Sku", "SkuCulture"}:
            lists.setdefault("ProductFieldsThatAreSet", set()).add(PRODUCT_VARIANTS)
        if levels & {"Sku", "SkuCulture"}:
            lists.setdefault("VariantFieldsThatAreSet", set()).add(VARIANT_SKUS)
        if "ProductCulture" in levels:
            lists.setdefault("ProductFieldsThatAreSet", set()).add(PRODUCT_CULTURES)
    header: dict[str, Any] = {"AccountId": account_id}
    if method in FULL_FILE_METHODS:
        header["FullFile"] = bool(full_file)
    for name in sorted(lists):
        header[name] = sorted(lists[name])
    return header


def header_value(header: dict[str, Any]) -> str:
    """The header on one line, as Norce requires."""
    return json.dumps(header, separators=(",", ":"))


# -- items -----------------------------------------------------------------------------------
def _pick(fields: dict[str, Any], keys: set[str], level: str) -> dict[str, Any]:
    prefix = level + "."
    return {FIELDS[k].name: fields[k] for k in sorted(keys) if k.startswith(prefix) and k in fields}


def build_item(record: CatalogueRecord | dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The record as the method's JSON item with its identifiers and the fields in `keys`."""
    if isinstance(record, dict):
        method, identity, fields = record["method"], record["identity"], record["fields"]
    else:
        method, identity, fields = record.method, record.identity, record.fields
    keys = set(keys)
    if method == PRODUCTS:
        return _product_item(identity, fields, keys)
    level = METHOD_LEVELS[method][0]
    item = dict(identity)
    item.update(_pick(fields, keys, level))
    return item


def _product_item(identity: dict[str, Any], fields: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    culture = identity.get("CultureCode")
    product: dict[str, Any] = {"ManufacturerCode": identity["ManufacturerCode"]}
    if identity.get("Code"):
        product["Code"] = identity["Code"]
    product.update(_pick(fields, keys, "Product"))
    product_culture = _pick(fields, keys, "ProductCulture")
    if product_culture and culture:
        product["Cultures"] = [{"CultureCode": culture, **product_culture}]
    sku: dict[str, Any] = {"PartNo": identity["PartNo"]}
    sku.update(_pick(fields, keys, "Sku"))
    sku_culture = _pick(fields, keys, "SkuCulture")
    if sku_culture and culture:
        sku["Cultures"] = [{"CultureCode": culture, **sku_culture}]
    variant: dict[str, Any] = {"ManufacturerPartNo": identity["ManufacturerPartNo"]}
    variant.update(_pick(fields, keys, "Variant"))
    variant["Skus"] = [sku]
    product["Variants"] = [variant]
    return product


# -- bodies ----------------------------------------------------------------------------------
def json_array_chunks(items: Iterable[dict[str, Any]], *, chunk_bytes: int = 64 * 1024) -> Iterator[bytes]:
    """A JSON array written piece by piece while it is sent (bounded memory for any size)."""
    buffer: list[bytes] = [b"["]
    size = 1
    first = True
    for item in items:
        encoded = canonical_json(item).encode("utf-8")
        if not first:
            buffer.append(b",")
            size += 1
        first = False
        buffer.append(encoded)
        size += len(encoded)
        if size >= chunk_bytes:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append(b"]")
    yield b"".join(buffer)


# -- jobs ------------------------------------------------------------------------------------
# Norce's job StatusId values (Job/Get and JobCompletedEvent).
JOB_INITIALIZED, JOB_SUCCEEDED, JOB_FAILED, JOB_VALIDATION_FAILED, JOB_VALIDATING, JOB_QUEUED = 1, 2, 3, 4, 5, 6
JOB_STATUS_NAMES = {
    JOB_INITIALIZED: "running",
    JOB_SUCCEEDED: "succeeded",
    JOB_FAILED: "failed",
    JOB_VALIDATION_FAILED: "validation_failed",
    JOB_VALIDATING: "running",
    JOB_QUEUED: "queued",
}
FINISHED_JOB_STATUSES = (JOB_SUCCEEDED, JOB_FAILED, JOB_VALIDATION_FAILED)
# Job/Restart is accepted only for finished jobs, within two weeks (Norce discards the payload then).
RESTARTABLE_JOB_STATUSES = (JOB_SUCCEEDED, JOB_FAILED)
RESTART_WINDOW_DAYS = 14
