"""Settings of the master-data flows (ERP → Norce): products, prices, stock, customers.

Every setting has a default that suits a typical Swedish Fortnox + Norce shop; the
admin shows the effective values and refuses unknown keys or wrong types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Norce's guidance is to send accumulated batches; it publishes no size. Imports of a
# few hundred to a thousand rows keep each job small enough to follow and restart,
# while 60 requests a minute still carry tens of thousands of rows.


@dataclass
class MasterSettings:
    batch_size: int = 500  # records per import call
    # A change waits at most this long for others to share its import call (0 = send at once).
    # Scheduled reads already gather the changes of a whole interval; the wait matters when
    # runs come close together (run now, retries, continuations).
    max_wait_seconds: int = 10
    # Incremental reads start this many minutes before the last one (Fortnox stamps to the minute).
    overlap_minutes: int = 5
    # The flow is flagged stale when its last successful run is older than this.
    stale_after_minutes: int = 24 * 60
    # Seconds a run waits for its import jobs before leaving them to a follow-up.
    job_wait_seconds: int = 30


@dataclass
class ProductSettings(MasterSettings):
    # Norce needs a manufacturer code to create a product. Empty: derived from the
    # article's Manufacturer, else `fallback_manufacturer_code`.
    manufacturer_code: str = ""
    fallback_manufacturer_code: str = "ERP"
    culture_code: str = "sv-SE"
    # Norce SkuStatus for active and for inactive/expired articles (1 Active, 5 Inactive, 4 Hidden, …).
    active_status: int = 1
    inactive_status: int = 5
    # Only articles marked "webshop article" are active in Norce; the others are deactivated.
    webshop_only: bool = False
    # Norce SkuType for stock goods and for services/non-stock articles (1 ErpStandard, 16 ErpStandardNoStock).
    stock_sku_type: int = 1
    service_sku_type: int = 16
    sales_area: int = 1  # Norce SalesArea of the VAT rate (1 Sweden)


@dataclass
class PriceSettings(MasterSettings):
    # "price_list": the Fortnox price list's prices (/3/prices); "article": the article's SalesPrice.
    source: str = "price_list"
    fortnox_price_list: str = "A"
    norce_price_list_code: str = "SEK-STD"
    currency: str = "SEK"
    # Whether Fortnox prices include VAT, and whether the Norce price list expects them to.
    # Fortnox keeps prices excluding VAT unless the company chose otherwise; Norce's
    # PriceSale is normally excluding VAT, but a price list can be set up either way.
    fortnox_prices_include_vat: bool = False
    norce_prices_include_vat: bool = False
    batch_size: int = 1000


@dataclass
class StockSettings(MasterSettings):
    # "articles": the article's quantities (read by lastmodified);
    # "warehouse": the warehouse module's stock balance per stock point.
    source: str = "articles"
    # "available" (in stock − reserved) or "in_stock".
    quantity: str = "available"
    stock_points: list[str] = field(default_factory=list)  # warehouse source: Fortnox stock points summed
    warehouse_code: str = "MAIN"
    location_code: str = "MAIN"
    negative_as_zero: bool = True
    batch_size: int = 1000
    max_wait_seconds: int = 0
    stale_after_minutes: int = 15
    job_wait_seconds: int = 20


@dataclass
class CustomerSettings(MasterSettings):
    send_inactive: bool = True  # inactive Fortnox customers are sent with IsActive false
    default_country_code: str = "SE"


SETTINGS_CLASSES: dict[str, type[MasterSettings]] = {
    "products_to_commerce": ProductSettings,
    "prices_to_commerce": PriceSettings,
    "stock_to_commerce": StockSettings,
    "customers_to_commerce": CustomerSettings,
}

# The master-data flow kinds (ERP → Norce), in the order admin and the demo list them.
MASTER_KINDS: tuple[str, ...] = tuple(SETTINGS_CLASSES)

CHOICES = {
    "source": {"prices_to_commerce": ("price_list", "article"), "stock_to_commerce": ("articles", "warehouse")},
    "quantity": {"stock_to_commerce": ("available", "in_stock")},
}


def parse_settings(kind: str, raw: dict[str, Any] | None) -> MasterSettings:
    """Typed settings for a flow kind; raises ValueError with a readable message."""
    cls = SETTINGS_CLASSES[kind]
    raw = dict(raw or {})
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}")
    defaults = cls()
    values: dict[str, Any] = {}
    for name, value in raw.items():
        expected = type(getattr(defaults, name))
        if expected is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
        elif expected is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number ≥ 0")
        elif expected is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{name} must be a list of strings")
        elif not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        values[name] = value
    settings = cls(**values)
    if settings.batch_size < 1 or settings.batch_size > 10000:
        raise ValueError("batch_size must be between 1 and 10000")
    for name, by_kind in CHOICES.items():
        allowed = by_kind.get(kind)
        if allowed and getattr(settings, name) not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    if isinstance(settings, PriceSettings) and not settings.norce_price_list_code.strip():
        raise ValueError("norce_price_list_code is required")
    if isinstance(settings, StockSettings) and not (settings.warehouse_code and settings.location_code):
        raise ValueError("warehouse_code and location_code are required")
    return settings


def validate_settings_for(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def validate(raw: dict[str, Any]) -> dict[str, Any]:
        return asdict(parse_settings(kind, raw))

    return validate


validate_products = validate_settings_for("products_to_commerce")
validate_prices = validate_settings_for("prices_to_commerce")
validate_stock = validate_settings_for("stock_to_commerce")
validate_customers = validate_settings_for("customers_to_commerce")
