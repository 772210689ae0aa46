"""Settings of the master-data flows (ERP → webshop): products, prices, stock, customers.

A flow's settings JSON holds the flow's own settings (below, the same for every system) and
the parts the systems declare for that data type (SystemDeclaration.flow_settings: Fortnox
where it reads prices and stock, Norce its catalogue's codes). Every setting has a default
that suits a typical Swedish shop; the admin shows the effective values and refuses unknown
keys or wrong types, naming them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core import settings as schema
from integrations import registry

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
    # Only articles the ERP marks as sold online are active in the webshop; the others are deactivated.
    webshop_only: bool = False


@dataclass
class PriceSettings(MasterSettings):
    # Whether the ERP's prices include VAT, and whether the webshop's price list expects them to.
    # ERPs keep prices excluding VAT unless the company chose otherwise; Norce's PriceSale is
    # normally excluding VAT, but a price list can be set up either way.
    source_prices_include_vat: bool = False
    target_prices_include_vat: bool = False
    batch_size: int = 1000


@dataclass
class StockSettings(MasterSettings):
    # "available" (in stock − reserved) or "in_stock".
    quantity: str = "available"
    negative_as_zero: bool = True
    batch_size: int = 1000
    max_wait_seconds: int = 0
    stale_after_minutes: int = 15
    job_wait_seconds: int = 20


@dataclass
class CustomerSettings(MasterSettings):
    send_inactive: bool = True  # inactive customers are sent, with IsActive false
    default_country_code: str = "SE"


SETTINGS_CLASSES: dict[str, type[MasterSettings]] = {
    "products_to_commerce": ProductSettings,
    "prices_to_commerce": PriceSettings,
    "stock_to_commerce": StockSettings,
    "customers_to_commerce": CustomerSettings,
}
DATA_TYPES = {
    "products_to_commerce": "product",
    "prices_to_commerce": "price",
    "stock_to_commerce": "stock",
    "customers_to_commerce": "customer",
}
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {"stock_to_commerce": {"quantity": ("available", "in_stock")}}

# The master-data flow kinds (ERP → webshop), in the order admin and the demo list them.
MASTER_KINDS: tuple[str, ...] = tuple(SETTINGS_CLASSES)


class FlowSettings:
    """A master-data flow's settings: its own (`flow`) and each system's part, read as one.

    An attribute is the flow's own setting of that name, else the part's that has it; each
    connector reads the settings it declared, and the flow only its own. The values are set
    on the object once, so reading one (per record, a million times in a full file) is a
    plain attribute read."""

    def __init__(self, flow: MasterSettings, parts: dict[str, Any]) -> None:
        self.flow = flow
        self.parts = parts
        for name, value in self.as_dict().items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in self.parts.values():
            merged.update(asdict(part))
        merged.update(asdict(self.flow))  # the flow's own setting wins over a part's of the same name
        return merged

    def __getattr__(self, name: str) -> Any:  # only for names that are no setting
        raise AttributeError(f"no master-data setting {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FlowSettings) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"FlowSettings({self.as_dict()!r})"


def system_parts(data_type: str) -> dict[str, type]:
    """The settings classes the declared systems read from flows of `data_type`, by system."""
    return {
        key: registry.import_string(system.flow_settings[data_type])
        for key, system in registry.systems().items()
        if data_type in system.flow_settings
    }


def parse_settings(kind: str, raw: dict[str, Any] | None) -> FlowSettings:
    """Typed settings for a flow kind; raises ValueError naming every problem."""
    own, problems = schema.read(SETTINGS_CLASSES[kind], raw, choices=CHOICES.get(kind))
    known = schema.field_names(SETTINGS_CLASSES[kind])
    parts: dict[str, Any] = {}
    for key, part_class in system_parts(DATA_TYPES[kind]).items():
        parts[key], found = schema.read(part_class, raw, choices=getattr(part_class, "CHOICES", None))
        problems += found
        known += schema.field_names(part_class)
    extra = schema.unknown(raw, known)
    if extra:
        problems.insert(0, extra)
    if own.batch_size < 1 or own.batch_size > 10000:
        problems.append("batch_size must be between 1 and 10000")
    if problems:
        raise ValueError("; ".join(problems))
    return FlowSettings(own, parts)


def validate_settings_for(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def validate(raw: dict[str, Any]) -> dict[str, Any]:
        return parse_settings(kind, raw).as_dict()

    return validate


validate_products = validate_settings_for("products_to_commerce")
validate_prices = validate_settings_for("prices_to_commerce")
validate_stock = validate_settings_for("stock_to_commerce")
validate_customers = validate_settings_for("customers_to_commerce")
