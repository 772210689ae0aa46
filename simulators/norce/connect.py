"""Connect 4.0 imports for the Norce simulator: Product and Customer import methods,
the Job service and a lean in-memory catalogue, served by `NorceSimulator`.

    POST /commerce/connect/4.0/Product/ImportProducts        (+ legacy ImportProduct)
    POST /commerce/connect/4.0/Product/ImportSkuPriceLists   (+ ImportSkuPriceList)
    POST /commerce/connect/4.0/Product/ImportOnhands         (+ ImportOnhand)
    POST /commerce/connect/4.0/Customer/ImportCustomers      (+ ImportCustomer)
    POST /commerce/connect/4.0/Customer/ImportCompanies      (+ ImportCompany)
    GET  /commerce/connect/4.0/[api/]Job/Get?id=             JobDto
    GET  /commerce/connect/4.0/[api/]Job/GetLog?id=          [JobLogDto]
    POST /commerce/connect/4.0/[api/]Job/Restart?id=         JobResponse
    GET  /commerce/connect/4.0/[api/]Job/Ping
    GET  /commerce/query/2.0/Products/ProductSkus            Query 2.0 (OData) SKU listing

An import call is answered at once with a JobResponse (the job is Queued, StatusId
6); a worker thread processes the jobs in order after `job_delay` seconds and ends
each one Succeeded (2), Failed (3) or Validation failed (4), then posts a
`JobCompletedEvent`. Bodies are read as a stream and parsed item by item: the payload
is spooled to a file (the job's stored payload, re-read when the job is processed
or restarted), so neither the body text nor the parsed list is ever held whole.

Control endpoints (no auth, not rate limited):

    GET  /_sim/connect/state              counts and settings
    POST /_sim/connect/settings           {"job_delay", "fail_next_jobs", "reject_rows"}
    POST /_sim/connect/seed               {"skus": [...]} or [...]: SKUs not from any import
    GET  /_sim/connect/skus/<PartNo>      the SKU, its product, prices and onhands
    GET  /_sim/connect/customers/<Code>   GET /_sim/connect/companies/<Code>
    GET  /_sim/connect/jobs/<id>          the job, its log and its import record
    POST /_sim/connect/jobs/<id>/age      {"days": 15}: move the job's creation back
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from simulators.base import Request, Response

CONNECT_BASE = "/commerce/connect/4.0"
QUERY_BASE = "/commerce/query/2.0"

# -- enums (names and integers of the Connect contracts) -----------------------------------

PRODUCT_FIELD = {
    "ManufacturerCode": 0,
    "ManufacturerName": 1,
    "Alias": 2,
    "Code": 3,
    "Variants": 4,
    "Cultures": 5,
    "Categories": 6,
    "MainImage": 7,
    "AdditionalImages": 8,
    "Family": 9,
    "ProductParametrics": 10,
    "ProductParametricsCreateOnly": 11,
    "VariantDefinitionGroup": 12,
    "VariantDefinitionGroupCreateOnly": 13,
    "Assortment": 14,
    "CategoriesCreateOnly": 15,
    "CategoriesLimitedUpdate": 16,
    "AdditionalImagesCleanup": 17,
    "ParametricsCleanup": 18,
    "ImagesAndFilesCleanup": 19,
}
PRODUCT_CULTURE_FIELD = {
    "Name": 0,
    "NameCreateOnly": 1,
    "SubHeader": 2,
    "SubDescription": 3,
    "DescriptionHeader": 4,
    "Description": 5,
    "DescriptionCreateOnly": 6,
    "Synonyms": 7,
    "Title": 8,
    "Tags": 9,
    "MetaTags": 10,
    "MetaDescription": 11,
    "NameLimitedUpdate": 12,
    "UniqueUrlName": 13,
    "IsUniqueUrlNameManuallyMaintained": 14,
    "UniqueUrlNameCreateOnly": 15,
}
VARIANT_FIELD = {
    "ManufacturerPartNo": 0,
    "SortOrderValue": 1,
    "StockDisplayBreakPoint": 2,
    "IsDangerousGoods": 3,
    "Cultures": 4,
    "Skus": 5,
    "MainImage": 6,
    "AdditionalImages": 7,
    "VariantParametrics": 8,
    "VariantParametricsCreateOnly": 9,
    "NonParametricVariantDefinitions": 10,
    "NonParametricVariantDefinitionsCreateOnly": 11,
    "DeliveryMethods": 12,
    "DeliveryMethodsCreateOnly": 13,
    "AdditionalImagesCleanup": 14,
    "ParametricsCleanup": 15,
    "TranslationRequested": 16,
    "ImagesAndFilesCleanup": 17,
}
VARIANT_CULTURE_FIELD = {
    "CultureCode": 0,
    "Name": 1,
    "NameCreateOnly": 2,
    "NameLimitedUpdate": 3,
    "UniqueUrlName": 4,
    "IsUniqueUrlNameManuallyMaintained": 5,
    "UniqueUrlNameCreateOnly": 6,
    "SubHeader": 7,
    "SubDescription": 8,
    "DescriptionHeader": 9,
    "Description": 10,
    "DescriptionCreateOnly": 11,
    "Synonyms": 12,
    "Title": 13,
    "Tags": 14,
    "MetaTags": 15,
    "MetaDescription": 16,
}
SKU_FIELD = {
    "Status": 1,
    "Type": 2,
    "IntegrationPartNo": 3,
    "CommodityCode": 4,
    "EanCode": 5,
    "TrackingCode": 6,
    "UnitOfMeasurementType": 7,
    "UnitOfMeasurementCount": 8,
    "IsDropShipOnly": 9,
    "IsBuyable": 10,
    "DiscountClass": 11,
    "RecommendedSalesQty": 12,
    "IsRecommendedSalesQtyFixed": 13,
    "ActualWeight": 14,
    "VolumeWeight": 15,
    "LogisticWidth": 16,
    "LogisticHeight": 18,
    "LogisticDepth": 19,
    "StandardPrice": 20,
    "VatRate": 21,
    "StatusCreateOnly": 22,
    "StartDate": 23,
    "StopDate": 24,
    "StructureItems": 25,
    "PartNoCreateWhenMissing": 26,
}
SKU_CULTURE_FIELD = {"ErpName": 0, "ErpNameCreateOnly": 1, "Comment": 2, "CommentCreateOnly": 3}
SKU_PRICE_LIST_FIELD = {
    "PriceSale": 3,
    "CostPurchase": 4,
    "CostUnit": 5,
    "PriceRecommended": 6,
    "PricePrevious": 7,
    "PriceCatalog": 8,
    "IsPriceDiscountable": 9,
    "IsActive": 10,
    "IsPriceDiscountableCreateOnly": 11,
    "PriceRule": 12,
    "FullfileResetInheritance": 13,
}
SKU_ONHAND_FIELD = {
    "OnhandValue": 3,
    "IncomingValue": 4,
    "NextDeliveryDate": 5,
    "LeadTimeDayCount": 6,
    "OnOrderValue": 7,
    "MinimumValue": 8,
    "MaximumValue": 9,
    "IsActive": 10,
    "Infos": 11,
}
SKU_STRUCTURE_ITEM_FIELD = {"SortOrder": 0, "StandardStructureItemPrice": 1, "AdditionalInfo": 2}
IMAGE_CULTURE_FIELD = {"Name": 0, "Description": 1, "AltText": 2}
CUSTOMER_FIELD = {
    "ApplicationKey": 0,
    "Id": 1,
    "Code": 2,
    "EmailAddress": 3,
    "SocialSecurityNumber": 4,
    "Title": 5,
    "FirstName": 6,
    "MiddleName": 7,
    "LastName": 8,
    "PhoneNumber": 9,
    "CellPhoneNumber": 10,
    "IsActive": 11,
    "InvoiceAddress": 12,
    "DeliveryAddresses": 13,
    "Accounts": 14,
    "AdditionalInfo": 15,
    "Flags": 16,
    "PriceLists": 17,
    "SearchOnlyByCode": 18,
    "Companies": 19,
    "CrmId": 20,
    "PreserveFlags": 21,
}
COMPANY_FIELD = {
    "ApplicationKey": 0,
    "Id": 1,
    "Code": 2,
    "OrganizationNo": 3,
    "Name": 4,
    "EmailAddress": 5,
    "PhoneNumber": 6,
    "LogoImage": 7,
    "ParentCompanyCode": 8,
    "IsActive": 9,
    "InvoiceAddress": 10,
    "DeliveryAddresses": 11,
    "AdditionalInfo": 12,
    "Contacts": 13,
    "Customers": 14,
    "DeliveryMethods": 15,
    "Discounts": 16,
    "Flags": 17,
    "PaymentMethods": 18,
    "PriceLists": 19,
    "SearchOnlyByCode": 20,
    "VatNo": 21,
    "PreserveFlags": 22,
}
ACCOUNT_FIELD = {"PasswordCreateOnly": 0, "Status": 1, "StatusCreateOnly": 2, "Roles": 3, "RolesCreateOnly": 4}
SKU_STATUS = {"Active": 1, "Coming": 2, "Expiring": 3, "Hidden": 4, "Inactive": 5, "NotActivated": 6}
SKU_TYPE = {
    "ErpStandard": 1,
    "ErpRefurbished": 2,
    "Freight": 3,
    "Insurance": 4,
    "Download": 7,
    "Structure": 8,
    "Invoice": 9,
    "Service": 11,
    "Standard": 14,
    "ErpExtended": 15,
    "ErpStandardNoStock": 16,
    "ErpPackage": 17,
    "Donations": 18,
    "ErpTempOutOfStock": 19,
    "EnvironmentalFee": 20,
    "PackingFee": 21,
    "Configuration": 22,
    "ErpPackageWithCalc": 24,
    "DisplayOnly": 25,
    "ErpDownload": 26,
    "ErpDownloadNoStock": 27,
    "ErpDownloadTempNoStock": 28,
    "ErpStandard2": 29,
    "Standard2": 30,
    "ErpStandardNoStock2": 31,
    "ErpTempOutOfStock2": 32,
    "License": 33,
    "CentRounding": 34,
    "SalesTax": 35,
    "FreightStructure": 36,
    "ManagedStructure": 37,
    "ManagedErpPackage": 38,
    "ManagedErpPackageWithCalc": 39,
    "Virtual": 40,
    "PspGiftCard": 41,
    "PayLater": 42,
    "GiftCardPaymentPlaceHolder": 43,
    "Compensation": 44,
}
UNIT_OF_MEASUREMENT_TYPE = {
    "Pieces": 1,
    "Hour": 2,
    "Kilogram": 3,
    "Litre": 4,
    "Pair": 5,
    "SquareMeter": 6,
    "Meter": 7,
    "Boxes": 8,
    "Rolls": 9,
}
ACCOUNT_STATUS = {"Active": 1, "Inactive": 2}
SERIALIZATION_TYPE = {"Json": 0, "DataContractSerializer": 1}

JOB_INITIALIZED, JOB_SUCCEEDED, JOB_FAILED, JOB_VALIDATION_FAILED, JOB_VALIDATING, JOB_QUEUED = 1, 2, 3, 4, 5, 6
INFORMATION, WARNING, ERROR = 1, 2, 3  # JobLog SeverityId

RESTART_WINDOW = 14 * 24 * 3600  # Norce keeps a job's payload, and so restarts it, for two weeks
QUERY_PAGE_SIZE = 500
KEEP_ITEMS_UP_TO = 1000  # an import record keeps its items only for calls this small
MAX_WARNINGS = 1000  # per job; further ignored rows are summed up in one entry
MAX_ITEM_CHARS = 16 << 20  # one item larger than this is treated as invalid JSON
BATCH = 2000  # rows applied per hold of the catalogue lock


# -- the methods and their headers -------------------------------------------------------------


@dataclass(frozen=True)
class ImportMethod:
    name: str
    service: str
    kind: str  # products | prices | onhands | customers | companies
    lists: dict[str, dict[str, int]]  # header list property → its field enum
    full_file: bool  # whether FullFile means anything for the method


_PRODUCT_LISTS = {
    "ProductFieldsThatAreSet": PRODUCT_FIELD,
    "ProductCultureFieldsThatAreSet": PRODUCT_CULTURE_FIELD,
    "VariantFieldsThatAreSet": VARIANT_FIELD,
    "VariantCultureFieldsThatAreSet": VARIANT_CULTURE_FIELD,
    "SkuFieldsThatAreSet": SKU_FIELD,
    "SkuCultureFieldsThatAreSet": SKU_CULTURE_FIELD,
    "SkuPriceListFieldsThatAreSet": SKU_PRICE_LIST_FIELD,
    "IgnoreSkuPriceListFieldsWhenEmpty": SKU_PRICE_LIST_FIELD,
    "SkuStructureItemFieldsThatAreSet": SKU_STRUCTURE_ITEM_FIELD,
    "ImageCultureFieldsThatAreSet": IMAGE_CULTURE_FIELD,
}
_CUSTOMER_LISTS = {
    "CustomerFieldsThatAreSet": CUSTOMER_FIELD,
    "CompanyFieldsThatAreSet": COMPANY_FIELD,
    "AccountFieldsThatAreSet": ACCOUNT_FIELD,
}
METHODS: dict[str, ImportMethod] = {
    m.name.lower(): m
    for m in (
        ImportMethod("ImportProducts", "Product", "products", _PRODUCT_LISTS, True),
        ImportMethod(
            "ImportSkuPriceLists",
            "Product",
            "prices",
            {
                "SkuPriceListFieldsThatAreSet": SKU_PRICE_LIST_FIELD,
                "IgnoreSkuPriceListFieldsWhenEmpty": SKU_PRICE_LIST_FIELD,
            },
            True,
        ),
        ImportMethod("ImportOnhands", "Product", "onhands", {"SkuOnhandFieldsThatAreSet": SKU_ONHAND_FIELD}, True),
        ImportMethod("ImportCustomers", "Customer", "customers", _CUSTOMER_LISTS, False),
        ImportMethod("ImportCompanies", "Customer", "companies", _CUSTOMER_LISTS, False),
    )
}
# The singular route names of the older WCF contracts.
LEGACY_ALIASES = {
    "importproduct": "importproducts",
    "importskupricelist": "importskupricelists",
    "importonhand": "importonhands",
    "importcustomer": "importcustomers",
    "importcompany": "importcompanies",
}
# Base header properties every method takes. FullFile is in the product headers; the
# customer header has none, but a FullFile sent there is accepted and ignored.
BASE_HEADER = ("AccountId", "SupplierId", "JobId", "StorageName", "SerializationType", "FullFile")


class HeaderError(ValueError):
    """An X-StormConnect-Header the method cannot take: answered with 400."""


def _enum_value(table: dict[str, int], value: Any) -> int | None:
    """An enum given as number (5, "5") or name (any case, as Newtonsoft reads it); None if unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in table.values() else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text) if int(text) in table.values() else None
        wanted = text.lower()
        return next((number for name, number in table.items() if name.lower() == wanted), None)
    return None


def _enum_name(table: dict[str, int], number: int) -> str:
    return next(name for name, value in table.items() if value == number)


def parse_header(method: ImportMethod, text: str | None) -> dict[str, Any]:
    """The X-StormConnect-Header of `method`, with property names in their canonical
    spelling and enum lists as integers. Raises HeaderError."""
    if text is None or not text.strip():
        raise HeaderError("The X-StormConnect-Header header is required")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HeaderError(f"X-StormConnect-Header is not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(raw, dict):
        raise HeaderError("X-StormConnect-Header must be a JSON object")
    known = {name.lower(): name for name in (*BASE_HEADER, *method.lists)}
    header: dict[str, Any] = {}
    for key, value in raw.items():
        name = known.get(str(key).lower())
        if name is None:
            raise HeaderError(f"Unknown X-StormConnect-Header property {key!r} for {method.name}")
        header[name] = value
    account = header.get("AccountId")
    if isinstance(account, str) and account.strip().isdigit():
        account = int(account)
    if not isinstance(account, int) or isinstance(account, bool):
        raise HeaderError("X-StormConnect-Header: AccountId (an integer) is required")
    header["AccountId"] = account
    if header.get("FullFile") is not None and not isinstance(header["FullFile"], bool):
        raise HeaderError(f"X-StormConnect-Header: FullFile must be true or false, not {header['FullFile']!r}")
    header["FullFile"] = bool(header.get("FullFile"))
    if header.get("SerializationType") is not None:
        serialization = _enum_value(SERIALIZATION_TYPE, header["SerializationType"])
        if serialization is None:
            raise HeaderError(f"X-StormConnect-Header: unknown SerializationType {header['SerializationType']!r}")
        if serialization != 0:
            raise HeaderError("X-StormConnect-Header: only SerializationType 0 (Json) is supported")
        header["SerializationType"] = serialization
    if header.get("StorageName"):
        raise HeaderError(
            "X-StormConnect-Header: StorageName (an import file on Norce's file area) is not "
            "supported; send the items in the body"
        )
    for name, table in method.lists.items():
        value = header.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise HeaderError(f"X-StormConnect-Header: {name} must be a list")
        numbers = []
        for entry in value:
            number = _enum_value(table, entry)
            if number is None:
                enum = name.replace("FieldsThatAreSet", "Field").replace(
                    "IgnoreSkuPriceListFieldsWhenEmpty", "SkuPriceListField"
                )
                raise HeaderError(
                    f"X-StormConnect-Header: {entry!r} in {name} is not a {enum} "
                    f"(valid: {', '.join(f'{v} {n}' for n, v in sorted(table.items(), key=lambda i: i[1]))})"
                )
            numbers.append(number)
        header[name] = numbers
    return header


# -- which body properties a header lets through --------------------------------------------

# Enum names that name no property of their own: structure (always walked), cleanup and
# matching switches, and StandardPrice (written as a price row).
_NOT_DATA = {
    "Variants",
    "Skus",
    "Cultures",
    "CultureCode",
    "AdditionalImagesCleanup",
    "ParametricsCleanup",
    "ImagesAndFilesCleanup",
    "PartNoCreateWhenMissing",
    "FullfileResetInheritance",
    "SearchOnlyByCode",
    "PreserveFlags",
    "StandardPrice",
    "PasswordCreateOnly",
}
_RENAMES = {"VatRate": "VatRates", "Assortment": "AssortmentCode"}  # SkuField / ProductField → body property


@dataclass(frozen=True)
class FieldPlan:
    """The body properties a `…FieldsThatAreSet` list writes: always, or only on create."""

    names: frozenset[str]  # the enum names listed
    always: frozenset[str]
    create_only: frozenset[str]

    @classmethod
    def of(cls, table: dict[str, int], numbers: Iterable[int] | None) -> FieldPlan:
        names = frozenset(_enum_name(table, n) for n in numbers or ())
        always, create_only = set(), set()
        for name in names:
            if name in _NOT_DATA:
                continue
            target = always
            for suffix in ("CreateOnly", "LimitedUpdate"):
                if name.endswith(suffix):
                    target = create_only if suffix == "CreateOnly" else always
                    name = name[: -len(suffix)]
            target.add(_RENAMES.get(name, name))
        if "PriceRule" in always:
            always.add("PriceRuleValue")
        return cls(names, frozenset(always), frozenset(create_only - always))

    def __contains__(self, name: str) -> bool:
        return name in self.always or name in self.create_only

    def fields(self, created: bool) -> frozenset[str]:
        return self.always | self.create_only if created else self.always


def _plans(method: ImportMethod, header: dict[str, Any]) -> dict[str, FieldPlan]:
    return {name: FieldPlan.of(table, header.get(name)) for name, table in method.lists.items()}


# -- body properties, read case-insensitively (as ASP.NET binds them) ------------------------

_KNOWN_PROPERTIES = {
    "PartNo",
    "ManufacturerCode",
    "ManufacturerPartNo",
    "Code",
    "Variants",
    "Skus",
    "Cultures",
    "CultureCode",
    "PriceListCode",
    "QuantityBreak",
    "CurrencyCode",
    "WarehouseCode",
    "LocationCode",
    "StandardPrice",
    "VatRates",
    "AssortmentCode",
    "PriceRuleValue",
    "LoginName",
    "Password",
    "Roles",
    "Status",
    "Customers",
    *(
        _RENAMES.get(n, n)
        for table in (
            PRODUCT_FIELD,
            PRODUCT_CULTURE_FIELD,
            VARIANT_FIELD,
            VARIANT_CULTURE_FIELD,
            SKU_FIELD,
            SKU_CULTURE_FIELD,
            SKU_PRICE_LIST_FIELD,
            SKU_ONHAND_FIELD,
            CUSTOMER_FIELD,
            COMPANY_FIELD,
            ACCOUNT_FIELD,
        )
        for n in table
    ),
}
_CANONICAL = {name.lower(): name for name in _KNOWN_PROPERTIES}


def _norm(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with known property names in their canonical case (unchanged if already so)."""
    for key in data:
        if key not in _KNOWN_PROPERTIES:
            break
    else:
        return data
    return {_CANONICAL.get(k.lower(), k) if isinstance(k, str) else k: v for k, v in data.items()}


def _ident(value: Any) -> str | None:
    """An identifier as a string; None when missing or empty."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> int | float | None:
    """A JSON number, or a numeric string (as .NET's decimal binding takes it); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return int(number) if number.is_integer() and "." not in value else number
    return None


def _valid_ean(value: Any) -> bool:
    text = str(value).strip()
    return text.isdigit() and len(text) in (8, 12, 13, 14)


def _timestamp(epoch: float | None) -> str | None:
    """A JobDto time: UTC, as a .NET DateTime renders without an offset."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _run_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# -- incremental body parsing ---------------------------------------------------------------


class BodyError(ValueError):
    """A body that is not a JSON array or back-to-back JSON objects: answered with 400."""


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def iter_json_items(
    read: Callable[[int], bytes], *, chunk_size: int = 1 << 20, tee: Callable[[bytes], Any] | None = None
) -> Iterator[Any]:
    """The items of a body read in chunks: a JSON array (``[{...}, {...}]``) or JSON
    values back to back with no brackets or commas (``{...}{...}``), as the older .NET
    client streams them. Only a window of the text is held at a time. `tee` gets every
    chunk as read. Raises BodyError where the body stops being JSON.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    buffer, position, consumed, eof = "", 0, 0, False

    def more() -> None:
        nonlocal buffer, position, consumed, eof
        data = read(chunk_size)
        if tee is not None and data:
            tee(data)
        try:
            text = utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise BodyError(f"the body is not UTF-8: {exc.reason}") from None
        eof = not data
        consumed += position
        buffer, position = buffer[position:] + text, 0

    def skip_whitespace() -> bool:
        """Move past whitespace; False at the end of the body."""
        nonlocal position
        while True:
            position = _WHITESPACE.match(buffer, position).end()
            if position < len(buffer):
                return True
            if eof:
                return False
            more()

    def fail(message: str) -> BodyError:
        return BodyError(f"invalid JSON body at character {consumed + position}: {message}")

    if not skip_whitespace():
        return
    array = buffer[position] == "["
    if array:
        position += 1
    first = True
    while True:
        if not skip_whitespace():
            if array:
                raise fail("the array is not closed")
            return
        if array:
            char = buffer[position]
            if char == "]":
                position += 1
                if skip_whitespace():
                    raise fail("data after the closing ']'")
                return
            if not first:
                if char != ",":
                    raise fail(f"expected ',' or ']' but found {char!r}")
                position += 1
                if not skip_whitespace():
                    raise fail("the array is not closed")
        elif buffer[position] not in "{[":
            raise fail("expected a JSON array or JSON objects")
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if eof or len(buffer) - position > MAX_ITEM_CHARS:
                    raise fail(exc.msg) from None
                more()
                continue
            if end == len(buffer) and not eof and not isinstance(value, (dict, list)):
                more()  # a number may go on in the next chunk
                continue
            break
        position, first = end, False
        yield value


# -- the import service -----------------------------------------------------------------------


class ConnectImports:
    """Connect 4.0 imports, jobs and the catalogue they write; made by NorceSimulator as `sim.connect`.

    Stored shapes (only identifiers and written fields, to stay lean at a million SKUs):

    - `skus[PartNo]`: {"PartNo", "Product" (product key or None), "ManufacturerPartNo",
      "Status" (int, 1 when created unless written), written SkuFields by body property
      name (Type and UnitOfMeasurementType as ints, "VatRates", "EanCode", ...), and
      "Cultures": {culture code: {"ErpName", "Comment"}} once one is written}
    - `products[key]` (key = Code, or "ManufacturerCode:ManufacturerPartNo" without one):
      {"Key", "Code", "ManufacturerCode", written ProductFields, "Cultures": {...}}
    - `variants[ManufacturerPartNo]`: {"ManufacturerPartNo", "Product", written VariantFields,
      "Cultures"}, only for variants with written fields
    - `prices[(PartNo, PriceListCode, QuantityBreak)]`: {"PartNo", "PriceListCode",
      "QuantityBreak", "CurrencyCode", "IsActive" (True when created), written fields}
    - `onhands[(PartNo, WarehouseCode, LocationCode)]`: {"PartNo", "WarehouseCode",
      "LocationCode", "IsActive" (True when created), written fields}
    - `customers[Code]` / `companies[Code]`: {"Code", written fields}
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim  # the NorceSimulator: send_event, error_response, client and application ids
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time  # the simulator's clock (the restart window reads it)
        # Settings.
        self.job_delay = 0.5  # seconds a job waits in the queue before it is processed
        self.fail_next_jobs = 0  # the next N jobs fail (StatusId 3) without applying anything
        self.reject_rows: dict[str, str] = {}  # identifier → message: rows to reject in validation
        # The catalogue.
        self.skus: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.variants: dict[str, dict[str, Any]] = {}
        self.prices: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.onhands: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        self._product_codes: dict[str, str] = {}  # product Code → product key
        self._sorted_part_nos: list[str] | None = None  # Query's stable order, rebuilt after SKUs are added
        # Jobs.
        self.jobs: dict[int, dict[str, Any]] = {}
        self.imports: list[dict[str, Any]] = []
        self._next_job_id = 100001
        self._queue: deque[int] = deque()
        self._busy: int | None = None
        self._wake = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._payloads = tempfile.mkdtemp(prefix="norce-connect-")

    # -- routes (registered by NorceSimulator) --------------------------------------------------
    ROUTES: tuple[tuple[str, str, str, bool], ...] = (
        ("POST", CONNECT_BASE + r"/(?P<service>Product|Customer)/(?P<method>Import\w+)", "handle_import", True),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/Get", "handle_job_get", False),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/GetLog", "handle_job_log", False),
        ("POST", CONNECT_BASE + r"(?:/api)?/Job/Restart", "handle_job_restart", False),
        ("GET", CONNECT_BASE + r"(?:/api)?/Job/Ping", "handle_job_ping", False),
        ("GET", QUERY_BASE + r"/Products/ProductSkus", "handle_query_product_skus", False),
        ("GET", r"/_sim/connect/state", "control_state", False),
        ("POST", r"/_sim/connect/settings", "control_settings", False),
        ("POST", r"/_sim/connect/seed", "control_seed", False),
        ("GET", r"/_sim/connect/skus/(?P<key>[^/]+)", "control_sku", False),
        ("GET", r"/_sim/connect/customers/(?P<key>[^/]+)", "control_customer", False),
        ("GET", r"/_sim/connect/companies/(?P<key>[^/]+)", "control_company", False),
        ("GET", r"/_sim/connect/jobs/(?P<key>\d+)", "control_job", False),
        ("POST", r"/_sim/connect/jobs/(?P<key>\d+)/age", "control_age_job", False),
    )

    # -- inspection --------------------------------------------------------------------------------
    def sku(self, part_no: str) -> dict[str, Any] | None:
        with self.lock:
            return self.skus.get(str(part_no))

    def product_of(self, part_no: str) -> dict[str, Any] | None:
        with self.lock:
            sku = self.skus.get(str(part_no))
            return self.products.get(sku["Product"]) if sku and sku.get("Product") is not None else None

    def product(self, code: str) -> dict[str, Any] | None:
        """A product by its Code (or its key)."""
        with self.lock:
            return self.products.get(self._product_codes.get(code, code))

    def variant(self, manufacturer_part_no: str) -> dict[str, Any] | None:
        with self.lock:
            return self.variants.get(manufacturer_part_no)

    def price(self, part_no: str, price_list_code: str, quantity_break: int = 1) -> dict[str, Any] | None:
        with self.lock:
            return self.prices.get((str(part_no), str(price_list_code), int(quantity_break)))

    def onhand(self, part_no: str, warehouse: str, location: str) -> dict[str, Any] | None:
        with self.lock:
            return self.onhands.get((str(part_no), str(warehouse), str(location)))

    def customer(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            return self.customers.get(str(code))

    def company(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            return self.companies.get(str(code))

    def job_log(self, job_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.jobs[int(job_id)]["log"])

    def counts(self) -> dict[str, Any]:
        with self.lock:
            statuses: dict[int, int] = {}
            for job in self.jobs.values():
                statuses[job["StatusId"]] = statuses.get(job["StatusId"], 0) + 1
            return {
                "skus": len(self.skus),
                "products": len(self.products),
                "variants": len(self.variants),
                "prices": len(self.prices),
                "onhands": len(self.onhands),
                "customers": len(self.customers),
                "companies": len(self.companies),
                "imports": len(self.imports),
                "jobs": len(self.jobs),
                "job_statuses": statuses,
                "queued": len(self._queue) + (self._busy is not None),
            }

    def settings(self) -> dict[str, Any]:
        with self.lock:
            return {
                "job_delay": self.job_delay,
                "fail_next_jobs": self.fail_next_jobs,
                "reject_rows": dict(self.reject_rows),
            }

    def update_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - {"job_delay", "fail_next_jobs", "reject_rows"})
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        with self.lock:
            if "job_delay" in values:
                self.job_delay = float(values["job_delay"])
            if "fail_next_jobs" in values:
                self.fail_next_jobs = int(values["fail_next_jobs"])
            if "reject_rows" in values:
                self.reject_rows = {str(k): str(v) for k, v in (values["reject_rows"] or {}).items()}
            self._wake.notify_all()
        return self.settings()

    def age_job(self, job_id: int, days: float) -> None:
        """Move a job's creation `days` back in time (the restart window is 14 days)."""
        with self.lock:
            self.jobs[int(job_id)]["created"] -= days * 24 * 3600

    def seed_skus(self, skus: Iterable[str | dict[str, Any]]) -> int:
        """Create SKUs that come from no import (as if made in Norce Admin): PartNo strings
        or dicts with "PartNo" and optionally "Status" (int or name), "ManufacturerPartNo",
        "ProductCode" and "ManufacturerCode". Returns how many were new."""
        created = 0
        with self.lock:
            for entry in skus:
                data = {"PartNo": entry} if isinstance(entry, str) else _norm(dict(entry))
                part_no = _ident(data.get("PartNo"))
                if part_no is None:
                    raise ValueError(f"a seeded SKU needs a PartNo: {entry!r}")
                status = _enum_value(SKU_STATUS, data.get("Status", 1))
                if status is None:
                    raise ValueError(f"unknown SkuStatus {data.get('Status')!r}")
                product_code = _ident(data.get("ProductCode") or data.get("Code"))
                if product_code is not None and self._product_codes.get(product_code) is None:
                    self.products[product_code] = {
                        "Key": product_code,
                        "Code": product_code,
                        "ManufacturerCode": _ident(data.get("ManufacturerCode")),
                    }
                    self._product_codes[product_code] = product_code
                record = self.skus.get(part_no)
                if record is None:
                    created += 1
                    record = self.skus[part_no] = {"PartNo": part_no, "Product": None, "ManufacturerPartNo": None}
                    self._sorted_part_nos = None
                record["Status"] = status
                if product_code is not None:
                    record["Product"] = self._product_codes[product_code]
                if _ident(data.get("ManufacturerPartNo")):
                    record["ManufacturerPartNo"] = _ident(data.get("ManufacturerPartNo"))
        return created

    # -- lifecycle ----------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every job has finished; True if they all did in time."""
        deadline = time.time() + timeout
        with self._wake:
            while self._queue or self._busy is not None:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.1))
        return True

    def stop_worker(self) -> None:
        """Stop processing (queued jobs stay queued; the worker starts again with the next job)."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=10)
        self._worker = None
        self._stop.clear()

    def close(self) -> None:
        """Stop the worker and drop the stored payloads (reset)."""
        self.stop_worker()
        self._stop.set()
        shutil.rmtree(self._payloads, ignore_errors=True)

    def resume(self) -> None:
        """Start the worker again if jobs are waiting (after the simulator is started again)."""
        with self.lock:
            if self._queue:
                self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._stop.is_set():
            return
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="norce-connect-jobs", daemon=True)
            self._worker.start()

    # -- HTTP: imports ------------------------------------------------------------------------------
    def _connect_error(self, status: int, message: str) -> Response:
        return self.sim.error_response(status, message)

    def handle_import(self, request: Request) -> Response:
        name = request.params["method"].lower()
        method = METHODS.get(LEGACY_ALIASES.get(name, name))
        if method is None or method.service.lower() != request.params["service"].lower():
            return self._connect_error(
                404, f"{request.params['service']}/{request.params['method']} is not an import method of the simulator"
            )
        try:
            header = parse_header(method, request.header("x-stormconnect-header", None))
        except HeaderError as exc:
            return self._connect_error(400, str(exc))
        if "xml" in request.header("content-type").lower():
            return self._connect_error(400, "Only JSON bodies are supported by the simulator")

        with self.lock:
            job_id = self._next_job_id
            self._next_job_id += 1
        path = os.path.join(self._payloads, f"job-{job_id}.json")
        reader = request.stream.read if request.stream is not None else _BytesReader(request.body).read
        total, failures, messages, items = 0, 0, [], []
        try:
            with open(path, "wb") as spool:
                for value in iter_json_items(reader, tee=spool.write):
                    total += 1
                    if not isinstance(value, dict):
                        failures += 1
                        if len(messages) < 100:
                            messages.append(f"Row {total}: expected a JSON object, got {type(value).__name__}")
                    if items is not None:
                        items.append(value)
                        if len(items) > KEEP_ITEMS_UP_TO:
                            items = None
        except BodyError as exc:
            os.unlink(path)
            return self._connect_error(400, str(exc))
        except BaseException:  # the client went away mid-body, or the disk is full
            if os.path.exists(path):
                os.unlink(path)
            raise

        now = self.clock()
        summary = {"NrOfItemsInTotal": total, "NrOfValidationFailures": failures, "Messages": messages}
        with self.lock:
            fail = self.fail_next_jobs > 0
            if fail:
                self.fail_next_jobs -= 1
            self.jobs[job_id] = {
                "JobId": job_id,
                "StatusId": JOB_QUEUED,
                "StorageName": f"connect/{method.name}/{job_id}.json",
                "Totals": total,
                "Insert": 0,
                "Inserts": 0,
                "Updates": 0,
                "Fail": 0,
                "Start": None,
                "Stop": None,
                "LastUpdated": _timestamp(now),
                "IsFinished": False,
                "RunTime": "00:00:00",
                # The simulator's own bookkeeping.
                "method": method.name,
                "header": header,
                "full_file": header["FullFile"] and method.full_file,
                "created": now,
                "queued": time.time(),
                "started": None,
                "ignored": 0,
                "deactivated": 0,
                "restarts": 0,
                "log": [],
                "validation": summary,
                "path": path,
                "fail_fault": fail,
            }
            self.imports.append(
                {
                    "method": method.name,
                    "header": header,
                    "count": total,
                    "job_id": job_id,
                    "full_file": header["FullFile"],
                    "time": now,
                    "items": items,
                }
            )
            self._queue.append(job_id)
            self._ensure_worker()
            self._wake.notify_all()
        # JobResponse.StatusCode's literal values are undocumented; "Accepted" says what
        # happened (stored and queued), and clients should rely on the HTTP status and JobId.
        return Response(
            body={
                "StatusCode": "Accepted",
                "Description": f"{method.name}: {total} item(s) received, job {job_id} queued",
                "JobId": str(job_id),
                "ValidationSummary": summary,
            }
        )

    # -- HTTP: the Job service ---------------------------------------------------------------------
    def _job_of(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        text = request.query.get("id") or request.query.get("Id") or request.query.get("jobId") or ""
        if not text.strip().lstrip("-").isdigit():
            return None, self._connect_error(400, "The id query parameter (a job id) is required")
        with self.lock:
            job = self.jobs.get(int(text))
        if job is None:
            return None, self._connect_error(404, f"Job {text} not found")
        return job, None

    def render_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job as Job/Get returns it (JobDto, with both Insert and Inserts)."""
        with self.lock:
            dto = {
                key: job[key]
                for key in (
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
                )
            }
            dto["Insert"] = job["Inserts"]  # the docs' name; the contracts say Inserts: both are sent
            if job["started"] is not None and not job["IsFinished"]:
                dto["RunTime"] = _run_time(time.time() - job["started"])
            return dto

    def handle_job_get(self, request: Request) -> Response:
        job, error = self._job_of(request)
        return error or Response(body=self.render_job(job))

    def handle_job_log(self, request: Request) -> Response:
        job, error = self._job_of(request)
        if error:
            return error
        with self.lock:
            return Response(body=list(job["log"]))

    def handle_job_restart(self, request: Request) -> Response:
        job, error = self._job_of(request)
        if error:
            return error
        with self.lock:
            job_id = job["JobId"]
            if not job["IsFinished"]:
                return self._connect_error(
                    400,
                    f"Job {job_id} is not finished (StatusId {job['StatusId']}); only finished jobs can be restarted",
                )
            if job["StatusId"] not in (JOB_SUCCEEDED, JOB_FAILED):
                return self._connect_error(
                    400,
                    f"Job {job_id} has StatusId {job['StatusId']}; only jobs that "
                    "succeeded (2) or failed (3) can be restarted",
                )
            if self.clock() - job["created"] > RESTART_WINDOW:
                return self._connect_error(
                    400,
                    f"Job {job_id} was created more than 14 days ago; its payload "
                    "is no longer kept and it cannot be restarted",
                )
            now = self.clock()
            job.update(
                StatusId=JOB_QUEUED,
                IsFinished=False,
                Insert=0,
                Inserts=0,
                Updates=0,
                Fail=0,
                Start=None,
                Stop=None,
                LastUpdated=_timestamp(now),
                RunTime="00:00:00",
                started=None,
                ignored=0,
                deactivated=0,
                log=[],
                fail_fault=False,
                queued=time.time(),
                restarts=job["restarts"] + 1,
            )
            self._queue.append(job_id)
            self._ensure_worker()
            self._wake.notify_all()
            return Response(
                body={
                    "StatusCode": "Accepted",
                    "Description": f"Job {job_id} restarted and queued",
                    "JobId": str(job_id),
                    "ValidationSummary": job["validation"],
                }
            )

    def handle_job_ping(self, request: Request) -> Response:
        return Response(body={"StatusCode": "OK", "Description": "Pong"})

    # -- HTTP: Query 2.0 Products/ProductSkus ----------------------------------------------------
    QUERY_SKU_PROPERTIES = (
        "PartNo",
        "StatusId",
        "ManufacturerPartNo",
        "ProductCode",
        "ManufacturerCode",
        "EanCode",
        "SkuTypeId",
    )

    def handle_query_product_skus(self, request: Request) -> Response:
        application = request.header("applicationid") or request.header("application-id")
        if not application:
            return self.sim.error_response(400, "The applicationId header is required")
        if not application.strip().isdigit() or int(application) != self.sim.application_id:
            return self.sim.error_response(400, f"Unknown application {application!r}")
        params = request.query
        unsupported = sorted(
            k for k in params if k.startswith("$") and k not in ("$select", "$top", "$skip", "$count", "$orderby")
        )
        if unsupported:
            return self.sim.error_response(400, f"Query option {unsupported[0]} is not supported")
        select = [name.strip() for name in params.get("$select", "").split(",") if name.strip()]
        for name in select:
            if name not in self.QUERY_SKU_PROPERTIES:
                return self.sim.error_response(400, f"$select: ProductSku has no property {name!r}")
        if params.get("$orderby", "PartNo").strip() not in ("PartNo", "PartNo asc"):
            return self.sim.error_response(400, "$orderby: only PartNo is supported")
        numbers = {}
        for option, default in (("$top", QUERY_PAGE_SIZE), ("$skip", 0)):
            text = params.get(option, str(default))
            if not text.isdigit():
                return self.sim.error_response(400, f"{option} must be a non-negative integer")
            numbers[option] = int(text)
        top, skip = min(numbers["$top"], QUERY_PAGE_SIZE), numbers["$skip"]
        count = params.get("$count", "false")
        if count not in ("true", "false"):
            return self.sim.error_response(400, "$count must be true or false")
        with self.lock:
            if self._sorted_part_nos is None:
                self._sorted_part_nos = sorted(self.skus)
            ordered = self._sorted_part_nos
            page = [self._query_sku(self.skus[part_no], select) for part_no in ordered[skip : skip + top]]
            total = len(ordered)
        base = f"http://{request.header('host') or f'{self.sim.host}:{self.sim.port}'}"
        body: dict[str, Any] = {"@odata.context": f"{base}{QUERY_BASE}/Products/$metadata#ProductSkus", "value": page}
        if count == "true":
            body["@odata.count"] = total
        if top and skip + top < total:
            following = dict(params, **{"$skip": str(skip + top), "$top": str(top)})
            body["@odata.nextLink"] = f"{base}{request.path}?{urlencode(following, quote_via=quote, safe='$(),:')}"
        return Response(body=body)

    def _query_sku(self, sku: dict[str, Any], select: list[str]) -> dict[str, Any]:
        product = self.products.get(sku.get("Product")) if sku.get("Product") is not None else None
        row = {
            "PartNo": sku["PartNo"],
            "StatusId": sku.get("Status", 1),
            "ManufacturerPartNo": sku.get("ManufacturerPartNo"),
            "ProductCode": product.get("Code") if product else None,
            "ManufacturerCode": product.get("ManufacturerCode") if product else None,
            "EanCode": sku.get("EanCode"),
            "SkuTypeId": sku.get("Type"),
        }
        return {name: row[name] for name in select} if select else row

    # -- HTTP: control ------------------------------------------------------------------------------
    def control_state(self, request: Request) -> Response:
        return Response(body={**self.counts(), "settings": self.settings()})

    def control_settings(self, request: Request) -> Response:
        try:
            return Response(body=self.update_settings(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return Response(status=400, body={"error": str(exc)})

    def control_seed(self, request: Request) -> Response:
        body = request.json() or {}
        skus = body.get("skus", []) if isinstance(body, dict) else body
        try:
            created = self.seed_skus(skus)
        except (TypeError, ValueError) as exc:
            return Response(status=400, body={"error": str(exc)})
        return Response(body={"created": created, "skus": len(self.skus)})

    def control_sku(self, request: Request) -> Response:
        part_no = request.params["key"]
        with self.lock:
            sku = self.skus.get(part_no)
            if sku is None:
                return Response(status=404, body={"error": f"no SKU {part_no!r}"})
            prices = [dict(p) for key, p in self.prices.items() if key[0] == part_no]
            onhands = [dict(o) for key, o in self.onhands.items() if key[0] == part_no]
            return Response(
                body={
                    "sku": sku,
                    "product": self.product_of(part_no),
                    "variant": self.variants.get(sku.get("ManufacturerPartNo") or ""),
                    "prices": prices,
                    "onhands": onhands,
                }
            )

    def control_customer(self, request: Request) -> Response:
        customer = self.customer(request.params["key"])
        return Response(body=customer) if customer else Response(status=404, body={"error": "no such customer"})

    def control_company(self, request: Request) -> Response:
        company = self.company(request.params["key"])
        return Response(body=company) if company else Response(status=404, body={"error": "no such company"})

    def control_job(self, request: Request) -> Response:
        with self.lock:
            job = self.jobs.get(int(request.params["key"]))
            if job is None:
                return Response(status=404, body={"error": "no such job"})
            record = next((dict(i, items=None) for i in self.imports if i["job_id"] == job["JobId"]), None)
            extra = {k: v for k, v in job.items() if k not in ("path",)}
            return Response(body={"job": self.render_job(job), **extra, "import": record})

    def control_age_job(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            self.age_job(int(request.params["key"]), float(body.get("days", 15)))
        except KeyError:
            return Response(status=404, body={"error": "no such job"})
        return self.control_job(request)

    # -- the worker -----------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                if not self._queue:
                    self._wake.wait(0.5)
                    continue
                job = self.jobs.get(self._queue[0])
                if job is None:
                    self._queue.popleft()
                    continue
                due = job["queued"] + self.job_delay - time.time()
                if due > 0:
                    self._wake.wait(min(due, 0.5))
                    continue
                self._queue.popleft()
                self._busy = job["JobId"]
                job["started"] = time.time()
                job["Start"] = job["LastUpdated"] = _timestamp(self.clock())
            try:
                status = self._process(job)
            except _Stopped:
                with self._wake:  # back to the queue for when the worker runs again
                    job.update(started=None, Start=None)
                    self._queue.appendleft(job["JobId"])
                    self._busy = None
                    self._wake.notify_all()
                return
            except Exception as exc:  # a simulator bug fails the job rather than the worker
                with self.lock:
                    job["log"].append(self._log_entry(ERROR, f"Processing error: {exc!r}", None))
                status = JOB_FAILED
            with self._wake:
                now = self.clock()
                job.update(
                    StatusId=status,
                    IsFinished=True,
                    Stop=_timestamp(now),
                    LastUpdated=_timestamp(now),
                    RunTime=_run_time(time.time() - job["started"]),
                    Insert=job["Inserts"],
                )
                self._busy = None
                self._wake.notify_all()
            self.sim.send_event(
                "JobCompletedEvent",
                {
                    "ClientId": self.sim.client_id,
                    "ApplicationId": self.sim.application_id,
                    "JobId": job["JobId"],
                    "StatusId": status,
                },
            )

    def _log_entry(self, severity: int, message: str, row: int | None) -> dict[str, Any]:
        return {"SeverityId": severity, "Message": message, "TimeStamp": _timestamp(self.clock()), "ImportedRow": row}

    def _process(self, job: dict[str, Any]) -> int:
        """Apply a job's stored payload; return its final StatusId."""
        if job["fail_fault"]:
            with self.lock:
                job["Fail"] = job["Totals"]
                job["log"].append(self._log_entry(ERROR, "Simulated processing failure", None))
            return JOB_FAILED
        method = METHODS[job["method"].lower()]
        run = _Run(self, job, method)
        with open(job["path"], "rb") as payload:
            batch: list[tuple[int, Any]] = []
            for row_no, item in enumerate(iter_json_items(payload.read), start=1):
                batch.append((row_no, item))
                if len(batch) >= BATCH:
                    run.apply(batch)
                    batch = []
                    if self._stop.is_set():
                        raise _Stopped
            run.apply(batch)
        run.finish()
        return JOB_VALIDATION_FAILED if job["Fail"] else JOB_SUCCEEDED


class _Stopped(Exception):
    """The worker was stopped in the middle of a job."""


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        self.offset += len(chunk)
        return chunk


class RowError(Exception):
    """A row that fails validation: not applied, logged with SeverityId 3."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label, self.message = label, message


class _Run:
    """One processing of a job: validates and applies rows, then FullFile deactivation."""

    def __init__(self, imports: ConnectImports, job: dict[str, Any], method: ImportMethod) -> None:
        self.imports, self.job, self.method = imports, job, method
        self.plans = _plans(method, job["header"])
        self.full_file = job["full_file"]
        self.seen: set[Any] = set()  # what the job names (for FullFile)
        self.scopes: set[Any] = set()  # price lists / warehouse-location pairs the job names
        self.warnings = 0
        self.apply_row: Callable[[dict[str, Any]], None] = getattr(self, f"_{method.kind}")

    # -- bookkeeping --------------------------------------------------------------------------------
    def apply(self, batch: list[tuple[int, Any]]) -> None:
        if not batch:
            return
        imports = self.imports
        with imports.lock:
            for row_no, item in batch:
                self.row_no = row_no
                try:
                    if not isinstance(item, dict):
                        raise RowError("", f"expected a JSON object, got {type(item).__name__}")
                    self.apply_row(_norm(item))
                except RowError as exc:
                    self.job["Fail"] += 1
                    label = f" ({exc.label})" if exc.label else ""
                    self.job["log"].append(imports._log_entry(ERROR, f"Row {row_no}{label}: {exc.message}", row_no))
            self.job["LastUpdated"] = _timestamp(imports.clock())

    def ignored(self, label: str, message: str) -> None:
        self.job["ignored"] += 1
        self.warnings += 1
        if self.warnings <= MAX_WARNINGS:
            self.job["log"].append(
                self.imports._log_entry(WARNING, f"Row {self.row_no} ({label}): {message}", self.row_no)
            )

    def counted(self, created: bool) -> None:
        if created:
            self.job["Inserts"] += 1
        else:
            self.job["Updates"] += 1

    def check_rejected(self, *identifiers: tuple[str, str | None]) -> None:
        rejects = self.imports.reject_rows
        if not rejects:
            return
        for kind, value in identifiers:
            if value is not None and value in rejects:
                raise RowError(f"{kind} {value}", rejects[value])

    def finish(self) -> None:
        imports, job = self.imports, self.job
        with imports.lock:
            if self.full_file:
                # FullFile read as the older Norce documentation words it: whatever the
                # job does not name is deactivated (the newer text only speaks of SKUs
                # leaving a variant cluster, and the price/onhand pages look copied).
                deactivated = getattr(self, f"_deactivate_{self.method.kind}")()
                job["deactivated"] += deactivated
                job["Updates"] += deactivated
                if deactivated:
                    job["log"].append(
                        imports._log_entry(
                            INFORMATION, f"FullFile: {deactivated} record(s) not in the job were deactivated", None
                        )
                    )
            if self.warnings > MAX_WARNINGS:
                job["log"].append(
                    imports._log_entry(WARNING, f"... and {self.warnings - MAX_WARNINGS} more row(s) ignored", None)
                )
            job["log"].append(
                imports._log_entry(
                    INFORMATION,
                    f"{job['Totals']} row(s): {job['Inserts']} inserted, {job['Updates']} updated, "
                    f"{job['Fail']} failed, {job['ignored']} ignored",
                    None,
                )
            )

    @staticmethod
    def write(
        record: dict[str, Any],
        data: dict[str, Any],
        plan: FieldPlan,
        created: bool,
        convert: Callable[[str, Any], Any] | None = None,
    ) -> None:
        """Copy the listed, non-null properties of `data` onto `record`."""
        for name in plan.fields(created):
            value = data.get(name)
            if value is not None:
                record[name] = convert(name, value) if convert else value

    def write_cultures(self, record: dict[str, Any], cultures: Any, plan: FieldPlan, created: bool) -> None:
        if not plan.always and not plan.create_only or not isinstance(cultures, list):
            return
        for culture in cultures:
            if not isinstance(culture, dict):
                continue
            culture = _norm(culture)
            code = _ident(culture.get("CultureCode"))
            if code is None:
                continue
            target = record.setdefault("Cultures", {})
            known = code in target
            entry = target.setdefault(code, {})
            self.write(entry, culture, plan, created or not known)
            if not entry:
                del target[code]
            if not target:
                del record["Cultures"]

    # -- ImportProducts ------------------------------------------------------------------------------
    _SKU_ENUMS = {"Status": SKU_STATUS, "Type": SKU_TYPE, "UnitOfMeasurementType": UNIT_OF_MEASUREMENT_TYPE}

    def _products(self, row: dict[str, Any]) -> None:
        imports, plans = self.imports, self.plans
        code, manufacturer = _ident(row.get("Code")), _ident(row.get("ManufacturerCode"))
        variants = row.get("Variants") or []
        if not isinstance(variants, list):
            raise RowError(f"Code {code}" if code else "", "Variants must be a list")
        skus: list[tuple[dict[str, Any], str | None, dict[str, Any], str | None]] = []  # variant, MPN, sku, PartNo
        for variant in variants:
            if not isinstance(variant, dict):
                raise RowError(f"Code {code}" if code else "", "a variant is not a JSON object")
            variant = _norm(variant)
            mpn = _ident(variant.get("ManufacturerPartNo"))
            for sku in variant.get("Skus") or []:
                if not isinstance(sku, dict):
                    raise RowError(f"ManufacturerPartNo {mpn}" if mpn else "", "a SKU is not a JSON object")
                sku = _norm(sku)
                skus.append((variant, mpn, sku, _ident(sku.get("PartNo"))))
        for _, _, _, part_no in skus:
            if part_no is not None:
                self.seen.add(part_no)
        label = next((f"PartNo {p}" for *_, p in skus if p), None) or (
            f"Code {code}" if code else f"ManufacturerCode {manufacturer}" if manufacturer else ""
        )

        # Validation: the whole row or nothing.
        self.check_rejected(
            ("Code", code), *(("PartNo", p) for *_, p in skus), *(("ManufacturerPartNo", m) for _, m, _, _ in skus)
        )
        sku_plan, price_plan = plans["SkuFieldsThatAreSet"], plans["SkuPriceListFieldsThatAreSet"]
        for _, mpn, sku, part_no in skus:
            if part_no is None:
                raise RowError(label, "a SKU has no PartNo")
            where = f"PartNo {part_no}"
            if part_no not in imports.skus and (manufacturer is None or mpn is None):
                raise RowError(where, "a new SKU needs ManufacturerCode (product) and ManufacturerPartNo (variant)")
            ean = sku.get("EanCode")
            if "EanCode" in sku_plan and ean not in (None, "") and not _valid_ean(ean):
                raise RowError(where, f"EanCode {ean!r} is not a valid EAN (8, 12, 13 or 14 digits)")
            for name, table in self._SKU_ENUMS.items():
                value = sku.get(name)
                if name in sku_plan and value is not None and _enum_value(table, value) is None:
                    enum = {"Status": "SkuStatus", "Type": "SkuType"}.get(name, "UnitOfMeasurementType")
                    raise RowError(where, f"{name} {value!r} is not a known {enum}")
            standard = sku.get("StandardPrice")
            if "StandardPrice" in sku_plan.names and standard is not None:
                if not isinstance(standard, dict):
                    raise RowError(where, "StandardPrice is not a JSON object")
                self._check_price(_norm(standard), where, price_plan)
        key = self._product_key(code, manufacturer, skus)
        if key is None:
            if not code and not manufacturer:
                raise RowError(label, "the product has no identifier (Code, ManufacturerCode or a SKU PartNo)")
            raise RowError(label, "product not found, and the row has no SKU to create it with")

        # Apply.
        product = imports.products.get(key)
        product_created = product is None
        if product is None:
            product = imports.products[key] = {"Key": key, "Code": code, "ManufacturerCode": manufacturer}
        else:
            if code is not None:
                product["Code"] = code
            if manufacturer is not None:
                product["ManufacturerCode"] = manufacturer
        if code is not None:
            imports._product_codes[code] = key
        self.write(product, row, plans["ProductFieldsThatAreSet"], product_created)
        self.write_cultures(product, row.get("Cultures"), plans["ProductCultureFieldsThatAreSet"], product_created)

        variant_plan, variant_cultures = plans["VariantFieldsThatAreSet"], plans["VariantCultureFieldsThatAreSet"]
        sku_cultures = plans["SkuCultureFieldsThatAreSet"]
        done_variants: set[int] = set()
        for variant, mpn, sku, part_no in skus:
            record = imports.skus.get(part_no)
            created = record is None
            if created:
                record = imports.skus[part_no] = {
                    "PartNo": part_no,
                    "Product": key,
                    "ManufacturerPartNo": mpn,
                    "Status": SKU_STATUS["Active"],
                }
                imports._sorted_part_nos = None
            elif mpn is not None:
                record["ManufacturerPartNo"] = mpn
            self.write(record, sku, sku_plan, created, self._sku_value)
            self.write_cultures(record, sku.get("Cultures"), sku_cultures, created)
            standard = sku.get("StandardPrice")
            if "StandardPrice" in sku_plan.names and isinstance(standard, dict):
                self._write_price(part_no, _norm(standard), price_plan, count=False)
            self.counted(created)
            if (
                mpn is not None
                and id(variant) not in done_variants
                and (
                    variant_plan.always
                    or variant_cultures.always
                    or variant_plan.create_only
                    or variant_cultures.create_only
                )
            ):
                done_variants.add(id(variant))
                stored = imports.variants.get(mpn)
                new_variant = stored is None
                stored = dict(stored or {"ManufacturerPartNo": mpn, "Product": key})
                self.write(stored, variant, variant_plan, new_variant)
                self.write_cultures(stored, variant.get("Cultures"), variant_cultures, new_variant)
                if len(stored) > 2:
                    imports.variants[mpn] = stored

    def _product_key(self, code: str | None, manufacturer: str | None, skus: list[tuple[Any, ...]]) -> str | None:
        imports = self.imports
        if code is not None and code in imports._product_codes:
            return imports._product_codes[code]
        for _, _, _, part_no in skus:
            existing = imports.skus.get(part_no)
            if existing is not None and existing.get("Product") is not None:
                return existing["Product"]
        new_skus = [(mpn, part_no) for _, mpn, _, part_no in skus if part_no not in imports.skus]
        if not new_skus and not any(p in imports.skus for *_, p in skus):
            return None
        if code is not None:
            return code
        if manufacturer is not None:
            first_mpn = next((mpn for mpn, _ in new_skus if mpn), None) or next(
                (mpn for _, mpn, _, _ in skus if mpn), None
            )
            return f"{manufacturer}:{first_mpn}" if first_mpn else None
        return None

    def _sku_value(self, name: str, value: Any) -> Any:
        table = self._SKU_ENUMS.get(name)
        if table is not None:
            return _enum_value(table, value)
        if name == "EanCode":
            return str(value).strip()
        return value

    # -- ImportSkuPriceLists --------------------------------------------------------------------------
    _PRICE_NUMBERS = (
        "PriceSale",
        "CostPurchase",
        "CostUnit",
        "PriceRecommended",
        "PricePrevious",
        "PriceCatalog",
        "PriceRuleValue",
    )

    def _check_price(self, row: dict[str, Any], label: str, plan: FieldPlan) -> None:
        if _ident(row.get("PriceListCode")) is None:
            raise RowError(label, "PriceListCode is missing")
        quantity = row.get("QuantityBreak")
        number = _number(quantity)
        if quantity is not None and (number is None or not float(number).is_integer() or number < 0):
            raise RowError(label, f"QuantityBreak {quantity!r} is not a whole number")
        for name in self._PRICE_NUMBERS:
            value = row.get(name)
            if name in plan and value is not None and _number(value) is None:
                raise RowError(label, f"{name} {value!r} is not a number")
        sale = _number(row.get("PriceSale"))
        if "PriceSale" in plan and sale is not None and sale < 0:
            raise RowError(label, f"PriceSale {row.get('PriceSale')} is negative")

    def _prices(self, row: dict[str, Any]) -> None:
        part_no = _ident(row.get("PartNo"))
        price_list = _ident(row.get("PriceListCode"))
        if price_list is not None:
            self.scopes.add(price_list)
        label = f"PartNo {part_no}" if part_no else ""
        if part_no is None:
            raise RowError(label, "PartNo is missing")
        self.seen.add((part_no, price_list, _quantity_break(row)))
        self.check_rejected(("PartNo", part_no))
        plan = self.plans["SkuPriceListFieldsThatAreSet"]
        self._check_price(row, label, plan)
        if part_no not in self.imports.skus:
            # Prices for SKUs that do not exist are ignored, not an error.
            self.ignored(label, f"SKU does not exist; price for {price_list} ignored")
            return
        self._write_price(part_no, row, plan, count=True)

    def _write_price(self, part_no: str, row: dict[str, Any], plan: FieldPlan, *, count: bool) -> None:
        price_list, quantity = _ident(row.get("PriceListCode")), _quantity_break(row)
        for name in self.plans["IgnoreSkuPriceListFieldsWhenEmpty"].fields(True):
            if _empty_price_value(row.get(name)):
                if count:
                    self.ignored(f"PartNo {part_no}", f"{name} is empty; price row for {price_list} skipped")
                return
        key = (part_no, price_list, quantity)
        record = self.imports.prices.get(key)
        created = record is None
        if created:
            record = self.imports.prices[key] = {
                "PartNo": part_no,
                "PriceListCode": price_list,
                "QuantityBreak": quantity,
                "IsActive": True,
            }
        if _ident(row.get("CurrencyCode")):
            record["CurrencyCode"] = _ident(row.get("CurrencyCode"))
        for name in plan.fields(created):
            value = row.get(name)
            if name in self._PRICE_NUMBERS:
                # "Values that are null or 0 will be ignored" (SkuPriceListHeader).
                number = _number(value)
                if number:
                    record[name] = number
            elif value is not None:
                record[name] = value
        if count:
            self.counted(created)

    # -- ImportOnhands ---------------------------------------------------------------------------------
    _ONHAND_NUMBERS = (
        "OnhandValue",
        "IncomingValue",
        "LeadTimeDayCount",
        "OnOrderValue",
        "MinimumValue",
        "MaximumValue",
    )

    def _onhands(self, row: dict[str, Any]) -> None:
        part_no = _ident(row.get("PartNo"))
        warehouse, location = _ident(row.get("WarehouseCode")), _ident(row.get("LocationCode"))
        label = f"PartNo {part_no}" if part_no else ""
        if warehouse is not None and location is not None:
            self.scopes.add((warehouse, location))
            if part_no is not None:
                self.seen.add((part_no, warehouse, location))
        if part_no is None:
            raise RowError(label, "PartNo is missing")
        self.check_rejected(("PartNo", part_no))
        if warehouse is None:
            raise RowError(label, "WarehouseCode is missing")
        if location is None:
            raise RowError(label, "LocationCode is missing")
        plan = self.plans["SkuOnhandFieldsThatAreSet"]
        for name in self._ONHAND_NUMBERS:
            value = row.get(name)
            if name in plan and value is not None and _number(value) is None:
                raise RowError(label, f"{name} {value!r} is not a number")
        if part_no not in self.imports.skus:
            # Stock for SKUs that do not exist is ignored, not an error.
            self.ignored(label, f"SKU does not exist; stock for {warehouse}/{location} ignored")
            return
        key = (part_no, warehouse, location)
        record = self.imports.onhands.get(key)
        created = record is None
        if created:
            record = self.imports.onhands[key] = {
                "PartNo": part_no,
                "WarehouseCode": warehouse,
                "LocationCode": location,
                "IsActive": True,
            }
        self.write(
            record, row, plan, created, lambda name, value: _number(value) if name in self._ONHAND_NUMBERS else value
        )
        self.counted(created)

    # -- ImportCustomers / ImportCompanies ---------------------------------------------------------------
    def _customers(self, row: dict[str, Any]) -> None:
        code = _ident(row.get("Code"))
        if code is None:
            raise RowError("", "the customer has no Code")
        self.check_rejected(("Code", code))
        self._write_customer(code, row)

    def _write_customer(self, code: str, row: dict[str, Any]) -> None:
        record = self.imports.customers.get(code)
        created = record is None
        if created:
            record = self.imports.customers[code] = {"Code": code}
        plan = self.plans["CustomerFieldsThatAreSet"]
        self.write(record, row, plan, created)
        if "Accounts" in plan and isinstance(row.get("Accounts"), list):
            record["Accounts"] = [self._account(a, created) for a in row["Accounts"] if isinstance(a, dict)]
        self.counted(created)

    def _account(self, account: dict[str, Any], created: bool) -> dict[str, Any]:
        """An account's login and the listed AccountFields (never the password)."""
        account = _norm(account)
        plan = self.plans["AccountFieldsThatAreSet"]
        stored = {"LoginName": account.get("LoginName")}
        if "Status" in plan.fields(created) and account.get("Status") is not None:
            stored["Status"] = _enum_value(ACCOUNT_STATUS, account["Status"]) or account["Status"]
        if "Roles" in plan.fields(created) and account.get("Roles") is not None:
            stored["Roles"] = account["Roles"]
        return stored

    def _companies(self, row: dict[str, Any]) -> None:
        code = _ident(row.get("Code"))
        if code is None:
            raise RowError("", "the company has no Code")
        self.check_rejected(("Code", code))
        record = self.imports.companies.get(code)
        created = record is None
        if created:
            record = self.imports.companies[code] = {"Code": code}
        plan = self.plans["CompanyFieldsThatAreSet"]
        self.write(record, row, plan, created)
        if "Customers" in plan and isinstance(row.get("Customers"), list):
            # Customers inside a company are imported with CustomerFieldsThatAreSet.
            codes = []
            for customer in row["Customers"]:
                customer_code = _ident(_norm(customer).get("Code")) if isinstance(customer, dict) else None
                if customer_code is not None:
                    self.imports.customers.setdefault(customer_code, {"Code": customer_code})
                    self.write(
                        self.imports.customers[customer_code],
                        _norm(customer),
                        self.plans["CustomerFieldsThatAreSet"],
                        False,
                    )
                    codes.append(customer_code)
            record["Customers"] = codes
        self.counted(created)

    # -- FullFile ---------------------------------------------------------------------------------------
    def _deactivate_products(self) -> int:
        count = 0
        for part_no, sku in self.imports.skus.items():
            if part_no not in self.seen and sku.get("Status") != SKU_STATUS["Inactive"]:
                sku["Status"] = SKU_STATUS["Inactive"]
                count += 1
        return count

    def _deactivate_prices(self) -> int:
        count = 0
        for key, price in self.imports.prices.items():
            if key[1] in self.scopes and key not in self.seen and price.get("IsActive") is not False:
                price["IsActive"] = False
                count += 1
        return count

    def _deactivate_onhands(self) -> int:
        count = 0
        for key, onhand in self.imports.onhands.items():
            if (
                key[1:] in self.scopes
                and key not in self.seen
                and (onhand.get("IsActive") is not False or onhand.get("OnhandValue"))
            ):
                onhand["OnhandValue"], onhand["IsActive"] = 0, False
                count += 1
        return count

    def _deactivate_customers(self) -> int:
        return 0

    _deactivate_companies = _deactivate_customers


def _quantity_break(row: dict[str, Any]) -> int:
    """QuantityBreak, 1 when absent (or 0)."""
    number = _number(row.get("QuantityBreak"))
    return int(number) if number else 1


def _empty_price_value(value: Any) -> bool:
    if value is None or value == "":
        return True
    number = _number(value)
    return number == 0 and not isinstance(value, bool)
