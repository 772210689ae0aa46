"""Fortnox master data (articles, prices, stock, customers) as Norce Connect records.

Each function takes one Fortnox list item and the flow's settings and returns a
ConnectRecord with every field the mapping sets, or raises SyncError with a code
and a hint when the item cannot be sent (that record fails; the others go on).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from connectors.norce import connect
from connectors.norce.connect import ConnectRecord
from core.errors import SyncError, register
from integrations.flows.master_settings import CustomerSettings, PriceSettings, ProductSettings, StockSettings

PRODUCT_INVALID = register(
    "product.invalid",
    "Article cannot be sent to Norce",
    "Correct the article in Fortnox (the message names the field); it is sent with the next run.",
    permanent=True,
    system="fortnox",
)
PRODUCT_VAT_MISSING = register(
    "product.vat_missing",
    "Article has no VAT rate",
    "Set the article's VAT (25, 12, 6 or 0) in Fortnox; it is sent with the next run.",
    permanent=True,
    system="fortnox",
)
PRICE_INVALID = register(
    "price.invalid",
    "Price cannot be sent to Norce",
    "Correct the price in Fortnox (a number ≥ 0); it is sent with the next run.",
    permanent=True,
    system="fortnox",
)
STOCK_INVALID = register(
    "stock.invalid",
    "Stock value cannot be sent to Norce",
    "Correct the article's stock in Fortnox; it is sent with the next run.",
    permanent=True,
    system="fortnox",
)
CUSTOMER_INVALID = register(
    "customer.invalid",
    "Customer cannot be sent to Norce",
    "Correct the customer in Fortnox (the message names the field); it is sent with the next run.",
    permanent=True,
    system="fortnox",
)

# Fortnox article units (free text, usually Swedish) → Norce UnitOfMeasurementType.
UNITS = {
    "st": 1,
    "styck": 1,
    "pcs": 1,
    "h": 2,
    "tim": 2,
    "timme": 2,
    "kg": 3,
    "l": 4,
    "liter": 4,
    "lit": 4,
    "par": 5,
    "pair": 5,
    "m2": 6,
    "kvm": 6,
    "m": 7,
    "meter": 7,
    "ask": 8,
    "box": 8,
    "kartong": 8,
    "rulle": 9,
    "rl": 9,
}
VAT_RATES = (0, 6, 12, 25)
PART_NO_MAX = 50


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value: Any, *, code: str, what: str, source_id: str) -> Decimal:
    try:
        number = Decimal(str(value).replace(",", ".").strip() or "0")
    except (InvalidOperation, ValueError):
        raise SyncError(code, f"{what} of {source_id} is not a number: {value!r}", permanent=True) from None
    if not number.is_finite():
        raise SyncError(code, f"{what} of {source_id} is not a number: {value!r}", permanent=True)
    return number


def _number(value: Decimal, places: int = 4) -> float | int:
    """A JSON number: whole numbers as ints, others rounded to `places` decimals."""
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _active(item: dict[str, Any]) -> bool:
    return item.get("Active") in (True, "true", "True", None) and item.get("Expired") not in (True, "true", "True")


def _part_no(item: dict[str, Any], code: str) -> str:
    part_no = _text(item.get("ArticleNumber"))
    if not part_no:
        raise SyncError(code, "A Fortnox item has no ArticleNumber", permanent=True)
    if len(part_no) > PART_NO_MAX:
        raise SyncError(
            code, f"Article number {part_no!r} is longer than Norce's {PART_NO_MAX} characters", permanent=True
        )
    return part_no


def manufacturer_code(name: str, settings: ProductSettings) -> str:
    if settings.manufacturer_code:
        return settings.manufacturer_code
    code = re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[:50]
    return code or settings.fallback_manufacturer_code


# -- products ----------------------------------------------------------------------------------
def product_record(article: dict[str, Any], settings: ProductSettings) -> ConnectRecord:
    part_no = _part_no(article, "product.invalid")
    description = _text(article.get("Description"))
    if not description:
        raise SyncError(
            PRODUCT_INVALID.code, f"Article {part_no} has no description (Norce needs a name)", permanent=True
        )
    vat_raw = article.get("VAT")
    if vat_raw in (None, ""):
        raise SyncError(PRODUCT_VAT_MISSING.code, f"Article {part_no} has no VAT rate", permanent=True)
    vat = _decimal(vat_raw, code=PRODUCT_VAT_MISSING.code, what="VAT", source_id=part_no)
    if vat not in VAT_RATES:
        raise SyncError(
            PRODUCT_VAT_MISSING.code,
            f"Article {part_no} has VAT {vat_raw}, not a Swedish rate ({', '.join(map(str, VAT_RATES))})",
            permanent=True,
        )
    manufacturer = _text(article.get("Manufacturer"))
    active = _active(article) and (not settings.webshop_only or article.get("WebshopArticle") in (True, "true"))
    stock_goods = article.get("StockGoods") in (True, "true") and _text(article.get("Type")).upper() != "SERVICE"
    unit = _text(article.get("Unit")).lower()
    fields: dict[str, Any] = {
        "Product.ManufacturerCode": manufacturer_code(manufacturer, settings),
        "Product.ManufacturerName": manufacturer,
        "Product.Code": part_no,
        "ProductCulture.Name": description,
        "SkuCulture.ErpName": description,
        "Sku.Status": settings.active_status if active else settings.inactive_status,
        "Sku.Type": settings.stock_sku_type if stock_goods else settings.service_sku_type,
        "Sku.UnitOfMeasurementType": UNITS.get(unit, 1),
        "Sku.UnitOfMeasurementCount": 1,
        "Sku.VatRates": [{"SalesArea": settings.sales_area, "Rate": int(vat)}],
    }
    ean = _text(article.get("EAN"))
    if ean:
        fields["Sku.EanCode"] = ean
    weight = article.get("Weight")
    if weight not in (None, "", 0, "0"):
        # Fortnox keeps the weight in grams; Norce's ActualWeight is read as kilograms.
        grams = _decimal(weight, code=PRODUCT_INVALID.code, what="Weight", source_id=part_no)
        fields["Sku.ActualWeight"] = _number(grams / 1000, 3)
    identity = {
        "ManufacturerCode": fields["Product.ManufacturerCode"],
        "Code": part_no,
        "ManufacturerPartNo": part_no,
        "PartNo": part_no,
        "CultureCode": settings.culture_code,
    }
    return ConnectRecord(
        method=connect.PRODUCTS,
        source_id=part_no,
        identity=identity,
        fields=fields,
        reference=part_no,
        label=description[:200],
    )


# -- prices ------------------------------------------------------------------------------------
def vat_factor(vat: Decimal | int | None, settings: PriceSettings) -> Decimal:
    """What a Fortnox price is multiplied by to become the Norce price (VAT in or out)."""
    if settings.fortnox_prices_include_vat == settings.norce_prices_include_vat:
        return Decimal(1)
    rate = Decimal(1) + Decimal(vat or 0) / 100
    return 1 / rate if settings.fortnox_prices_include_vat else rate


def price_record(
    part_no: str, price: Any, settings: PriceSettings, *, from_quantity: Any = 0, vat: Decimal | int | None = None
) -> ConnectRecord:
    part_no = _part_no({"ArticleNumber": part_no}, "price.invalid")
    amount = _decimal(price, code=PRICE_INVALID.code, what="Price", source_id=part_no)
    if amount < 0:
        raise SyncError(PRICE_INVALID.code, f"Price of {part_no} is negative ({amount})", permanent=True)
    if vat is None and settings.fortnox_prices_include_vat != settings.norce_prices_include_vat:
        raise SyncError(
            PRODUCT_VAT_MISSING.code, f"Article {part_no} has no VAT rate to convert its price with", permanent=True
        )
    quantity = _decimal(from_quantity or 0, code=PRICE_INVALID.code, what="FromQuantity", source_id=part_no)
    quantity_break = max(1, int(quantity))
    sale = amount * vat_factor(vat, settings)
    identity = {
        "PartNo": part_no,
        "PriceListCode": settings.norce_price_list_code,
        "QuantityBreak": quantity_break,
        "CurrencyCode": settings.currency,
    }
    fields = {"SkuPriceList.PriceSale": _number(sale), "SkuPriceList.IsActive": True}
    source_id = f"{part_no}@{settings.norce_price_list_code}/{quantity_break}"
    return ConnectRecord(
        method=connect.PRICES,
        source_id=source_id,
        identity=identity,
        fields=fields,
        reference=part_no,
        label=f"{settings.norce_price_list_code} {_number(sale)}",
    )


# -- stock -------------------------------------------------------------------------------------
def stock_record(part_no: str, quantity: Any, settings: StockSettings) -> ConnectRecord:
    part_no = _part_no({"ArticleNumber": part_no}, "stock.invalid")
    value = _decimal(quantity, code=STOCK_INVALID.code, what="Stock", source_id=part_no)
    if value < 0 and settings.negative_as_zero:
        value = Decimal(0)
    identity = {"PartNo": part_no, "WarehouseCode": settings.warehouse_code, "LocationCode": settings.location_code}
    fields = {"SkuOnhand.OnhandValue": _number(value), "SkuOnhand.IsActive": True}
    return ConnectRecord(
        method=connect.ONHANDS,
        source_id=f"{part_no}@{settings.warehouse_code}/{settings.location_code}",
        identity=identity,
        fields=fields,
        reference=part_no,
        label=f"{_number(value)} in stock",
    )


def article_stock(article: dict[str, Any], settings: StockSettings) -> Any | None:
    """The article's stock value to send, or None for articles that are not stock goods."""
    if article.get("StockGoods") not in (True, "true") or _text(article.get("Type")).upper() == "SERVICE":
        return None
    if settings.quantity == "in_stock":
        return article.get("QuantityInStock") or 0
    disposable = article.get("DisposableQuantity")
    if disposable in (None, ""):
        in_stock = _decimal(
            article.get("QuantityInStock") or 0,
            code=STOCK_INVALID.code,
            what="Stock",
            source_id=_text(article.get("ArticleNumber")),
        )
        reserved = _decimal(
            article.get("ReservedQuantity") or 0,
            code=STOCK_INVALID.code,
            what="Reserved",
            source_id=_text(article.get("ArticleNumber")),
        )
        return in_stock - reserved
    return disposable


# -- customers ---------------------------------------------------------------------------------
def _address(line1: Any, line2: Any, zip_code: Any, city: Any, country: Any, default_country: str) -> dict[str, Any]:
    return {
        "AddressLine1": _text(line1),
        "AddressLine2": _text(line2),
        "ZipCode": _text(zip_code).replace(" ", ""),
        "City": _text(city),
        "CountryCode": (_text(country) or default_country).upper(),
    }


def customer_record(customer: dict[str, Any], settings: CustomerSettings) -> ConnectRecord | None:
    """A private customer for ImportCustomers, a company for ImportCompanies (None: not sent)."""
    code = _text(customer.get("CustomerNumber"))
    if not code:
        raise SyncError(CUSTOMER_INVALID.code, "A Fortnox customer has no CustomerNumber", permanent=True)
    name = _text(customer.get("Name"))
    if not name:
        raise SyncError(CUSTOMER_INVALID.code, f"Customer {code} has no name", permanent=True)
    active = customer.get("Active") not in (False, "false", "False")
    if not active and not settings.send_inactive:
        return None
    email = _text(customer.get("Email"))
    invoice = _address(
        customer.get("Address1"),
        customer.get("Address2"),
        customer.get("ZipCode"),
        customer.get("City"),
        customer.get("CountryCode"),
        settings.default_country_code,
    )
    deliveries = []
    if _text(customer.get("DeliveryAddress1")):
        deliveries.append(
            _address(
                customer.get("DeliveryAddress1"),
                customer.get("DeliveryAddress2"),
                customer.get("DeliveryZipCode"),
                customer.get("DeliveryCity"),
                customer.get("DeliveryCountryCode"),
                settings.default_country_code,
            )
        )
    phone = _text(customer.get("Phone1") or customer.get("Phone"))
    if _text(customer.get("Type")).upper() == "COMPANY":
        fields: dict[str, Any] = {
            "Company.Code": code,
            "Company.Name": name,
            "Company.OrganizationNo": _text(customer.get("OrganisationNumber")),
            "Company.EmailAddress": email,
            "Company.PhoneNumber": phone,
            "Company.IsActive": active,
            "Company.InvoiceAddress": invoice,
            "Company.DeliveryAddresses": deliveries,
            "Company.VatNo": _text(customer.get("VATNumber")),
        }
        return ConnectRecord(
            method=connect.COMPANIES,
            source_id=code,
            identity={"Code": code},
            fields=fields,
            reference=code,
            label=name[:200],
        )
    first, _, last = name.partition(" ")
    fields = {
        "Customer.Code": code,
        "Customer.EmailAddress": email,
        "Customer.FirstName": first,
        "Customer.LastName": last.strip(),
        "Customer.PhoneNumber": phone,
        "Customer.CellPhoneNumber": _text(customer.get("Phone2")),
        "Customer.IsActive": active,
        "Customer.InvoiceAddress": invoice,
        "Customer.DeliveryAddresses": deliveries,
    }
    return ConnectRecord(
        method=connect.CUSTOMERS,
        source_id=code,
        identity={"Type": 1, "Code": code},
        fields=fields,
        reference=code,
        label=name[:200],
    )
