"""Norce's part of the master-data flows' settings: the codes and enum values of its catalogue.

Read by core.settings from the flow's settings JSON beside the flow's own settings and the
master-data source's part (declared in connectors/norce/system.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class NorceProductSettings:
    # Norce needs a manufacturer code to create a product. Empty: derived from the
    # article's manufacturer, else `fallback_manufacturer_code`.
    manufacturer_code: str = ""
    fallback_manufacturer_code: str = "ERP"
    culture_code: str = "sv-SE"
    # Norce SkuStatus for active and for inactive/expired articles (1 Active, 5 Inactive, 4 Hidden, …).
    active_status: int = 1
    inactive_status: int = 5
    # Norce SkuType for stock goods and for services/non-stock articles (1 ErpStandard, 16 ErpStandardNoStock).
    stock_sku_type: int = 1
    service_sku_type: int = 16
    sales_area: int = 1  # Norce SalesArea of the VAT rate (1 Sweden)


@dataclass
class NorcePriceSettings:
    norce_price_list_code: str = "SEK-STD"
    currency: str = "SEK"

    def check(self) -> list[str]:
        return [] if self.norce_price_list_code.strip() else ["norce_price_list_code is required"]


@dataclass
class NorceStockSettings:
    warehouse_code: str = "MAIN"
    location_code: str = "MAIN"

    def check(self) -> list[str]:
        return [] if self.warehouse_code and self.location_code else ["warehouse_code and location_code are required"]
