"""One place mapping a connector system to its declaration and a flow kind to its code.

Systems come from the packages listed in settings.BRYGGA_CONNECTORS (each package's
``system.SYSTEM``); flows ask for a capability and get the adapter of the integration's
connector that declares it. Entries are dotted paths, imported lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.systems import SystemDeclaration

# Modules outside the connector packages that register error codes in core.errors.CATALOGUE on import.
ERROR_MODULES: list[str] = [
    "core.errors",
    "bookkeeping.vat",
    "integrations.flows.order_life",
]


@cache
def systems() -> dict[str, SystemDeclaration]:
    """Every declared system by key, in the order settings list their packages."""
    declared: dict[str, SystemDeclaration] = {}
    for package in settings.BRYGGA_CONNECTORS:
        system = import_module(f"{package}.system").SYSTEM
        if system.key in declared:
            raise ImproperlyConfigured(f"Two connector packages declare the system {system.key!r}")
        declared[system.key] = system
    return declared


@receiver(setting_changed)
def _connectors_changed(*, setting: str, **_: Any) -> None:
    if setting == "BRYGGA_CONNECTORS":
        systems.cache_clear()


def system(key: str) -> SystemDeclaration | None:
    return systems().get(key)


def oauth_module(key: str) -> ModuleType | None:
    """The OAuth module (authorization_url, make_state, read_state) of a system staff connect by consent."""
    declared = system(key)
    return import_module(declared.oauth) if declared and declared.oauth else None


def adapter_class(key: str, capability: str) -> type | None:
    """The adapter class with which system `key` serves `capability`, or None when it does not."""
    declared = system(key)
    path = declared.capabilities.get(capability) if declared else None
    return import_string(path) if path else None


@dataclass(frozen=True)
class FlowSpec:
    kind: str
    label: str
    data_type: str
    direction: str
    source_role: str
    target_role: str
    # dotted path to `def run(task: Task, ctx: FlowContext) -> None`
    runner: str
    # dotted path to `def validate_settings(settings: dict) -> dict` (returns normalised settings, raises ValueError)
    settings_validator: str | None = None
    # Its scheduled runs are short fail-safe polls that must run on time, even when the queue
    # is long: they go to the priority queue (settings.Q_PRIORITY_CLUSTER), and the records
    # they find are worked through by a follow-up task on the ordinary queue.
    polls_on_time: bool = False


FLOWS: dict[str, FlowSpec] = {
    "orders_to_erp": FlowSpec(
        kind="orders_to_erp",
        label="Orders → ERP invoices",
        data_type="order",
        direction="commerce_to_erp",
        source_role="commerce",
        target_role="erp",
        runner="integrations.flows.orders.run",
        settings_validator="integrations.flows.order_settings.validate_settings",
        polls_on_time=True,
    ),
    "order_life_to_commerce": FlowSpec(
        kind="order_life_to_commerce",
        label="Deliveries, invoices and cancellations ERP → Norce",
        data_type="fulfilment",
        direction="erp_to_commerce",
        source_role="erp",
        target_role="commerce",
        runner="integrations.flows.order_life.run",
        settings_validator="integrations.flows.order_life_settings.validate_settings",
    ),
    **{
        kind: FlowSpec(
            kind=kind,
            label=label,
            data_type=data_type,
            direction="erp_to_commerce",
            source_role="erp",
            target_role="commerce",
            runner="integrations.flows.master.run",
            settings_validator=f"integrations.flows.master_settings.validate_{name}",
        )
        for kind, label, data_type, name in (
            ("products_to_commerce", "Products ERP → Norce", "product", "products"),
            ("prices_to_commerce", "Prices ERP → Norce", "price", "prices"),
            ("stock_to_commerce", "Stock ERP → Norce", "stock", "stock"),
            ("customers_to_commerce", "Customers ERP → Norce", "customer", "customers"),
        )
    },
}


def import_string(path: str) -> Any:
    module, _, attr = path.rpartition(".")
    return getattr(import_module(module), attr)


def flow_spec(kind: str) -> FlowSpec:
    try:
        return FLOWS[kind]
    except KeyError:
        return FlowSpec(kind=kind, label=kind, data_type=kind, direction="", source_role="", target_role="", runner="")


def flow_runner(kind: str) -> Callable[..., Any]:
    return import_string(FLOWS[kind].runner)


def client_class(key: str) -> type:
    declared = system(key)
    if declared is None:
        raise ImproperlyConfigured(f"No connector package in BRYGGA_CONNECTORS declares the system {key!r}")
    return import_string(declared.client)


def load_error_catalogue() -> None:
    for module in ERROR_MODULES:
        import_module(module)
    for declared in systems().values():
        for module in declared.error_modules:
            import_module(module)
