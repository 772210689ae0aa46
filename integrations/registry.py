"""One place mapping a connector system to its client and a flow kind to its code.

Entries are dotted paths, imported lazily, so importing the registry is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

CLIENTS: dict[str, str] = {
    "norce": "connectors.norce.client.NorceClient",
    "fortnox": "connectors.fortnox.client.FortnoxClient",
}

# Modules that register error codes in core.errors.CATALOGUE on import.
ERROR_MODULES: list[str] = [
    "core.errors",
    "connectors.norce.errors",
    "connectors.fortnox.errors",
    "connectors.fortnox.to_norce",
    "integrations.flows.connect_jobs",
    "bookkeeping.vat",
]


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


def client_class(system: str) -> type:
    return import_string(CLIENTS[system])


def load_error_catalogue() -> None:
    for module in ERROR_MODULES:
        import_module(module)
