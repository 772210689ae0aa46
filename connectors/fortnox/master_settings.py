"""Fortnox's part of the master-data flows' settings: where prices and stock are read from.

Read by core.settings from the flow's settings JSON beside the flow's own settings and the
catalogue target's part (declared in connectors/fortnox/system.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class FortnoxPriceSettings:
    # "price_list": the Fortnox price list's prices (/3/prices); "article": the article's SalesPrice.
    source: str = "price_list"
    fortnox_price_list: str = "A"

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"source": ("price_list", "article")}


@dataclass
class FortnoxStockSettings:
    # "articles": the article's quantities (read by lastmodified);
    # "warehouse": the warehouse module's stock balance per stock point.
    source: str = "articles"
    stock_points: list[str] = field(default_factory=list)  # warehouse source: Fortnox stock points summed

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"source": ("articles", "warehouse")}
