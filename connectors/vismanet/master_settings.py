"""Visma.net's part of the master-data flows' settings: which prices and which warehouse are read.

Read by core.settings from the flow's settings JSON beside the flow's own settings and the
catalogue target's part (declared in connectors/vismanet/system.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VismaNetPriceSettings:
    # "" : the items' Base sales prices (customerSalesPrice priceType Base); a customer price class
    # code: that class's prices (priceType CustomerPriceClass) instead.
    vismanet_price_class: str = ""


@dataclass
class VismaNetStockSettings:
    # Warehouse ids whose quantities are summed; empty: every warehouse of the item.
    vismanet_warehouses: list[str] = field(default_factory=list)
