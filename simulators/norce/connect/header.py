"""The import methods and their X-StormConnect-Header: which header properties each takes,
and which body properties a header's ``…FieldsThatAreSet`` lists let through."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from simulators.norce.connect.enums import (
    ACCOUNT_FIELD,
    COMPANY_FIELD,
    CUSTOMER_FIELD,
    IMAGE_CULTURE_FIELD,
    PRODUCT_CULTURE_FIELD,
    PRODUCT_FIELD,
    SERIALIZATION_TYPE,
    SKU_CULTURE_FIELD,
    SKU_FIELD,
    SKU_ONHAND_FIELD,
    SKU_PRICE_LIST_FIELD,
    SKU_STRUCTURE_ITEM_FIELD,
    VARIANT_CULTURE_FIELD,
    VARIANT_FIELD,
)


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
