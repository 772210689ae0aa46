"""Sales prices (the ERP's price lists).

    GET /v1/customerSalesPrice   priceType (Base|Customer|CustomerPriceClass), priceCode, inventoryId,
                                 effectiveAsOf, lastModifiedDateTime(+Condition), pageNumber, pageSize

Prices are net of VAT: `vat` is "" (the part of the price that is VAT, were it included).
A generated item's Base price is computed like the item; it is materialised with the item.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import DEFAULT_MAX_PAGE_SIZE, plain
from simulators.vismanet.catalogue import Segment, merge_window
from simulators.vismanet.company import Company
from simulators.vismanet.errors import validation
from simulators.vismanet.inventory import GENERATED_ID_BASE, InventoryResource
from simulators.vismanet.values import ChangeFilter, parse_document_date, to_decimal

PRICE_TYPES = ("Base", "Customer", "CustomerPriceClass")
EFFECTIVE_FROM = date(2020, 1, 1)  # the effective date of seeded and generated prices


class PriceResource(InventoryResource):
    """Sales prices of `VismaNetSimulator`."""

    def set_price(
        self,
        item: str,
        price: Any,
        *,
        price_type: str = "Base",
        price_code: str = "",
        break_qty: Any = 0,
        currency: str | None = None,
        effective_date: date | None = None,
        expiration_date: date | None = None,
        tenant_id: str | None = None,
    ) -> int:
        """Create or change a sales price; returns its recordId."""
        with self.lock:
            company = self.company(tenant_id)
            self._materialise(company, item)
            record = self._set_price(
                company,
                item,
                to_decimal(price, "price"),
                price_type=price_type,
                price_code=price_code,
                break_qty=to_decimal(break_qty, "breakQty"),
                currency=currency or company.currency,
                effective_date=effective_date,
                expiration_date=expiration_date,
            )
            return record["recordId"]

    def _set_price(
        self,
        company: Company,
        item: str,
        price: Decimal,
        *,
        price_type: str = "Base",
        price_code: str = "",
        break_qty: Decimal = Decimal(0),
        currency: str | None = None,
        effective_date: date | None = None,
        expiration_date: date | None = None,
    ) -> dict[str, Any]:
        if price_type not in PRICE_TYPES:
            raise ValueError(f"price type {price_type!r}")
        currency = currency or company.currency
        key = (item, price_type, price_code, break_qty, currency)
        record = next(
            (
                r
                for r in company.prices.values()
                if (r["inventoryId"], r["priceType"], r["priceCode"], r["breakQty"], r["currency"]) == key
            ),
            None,
        )
        if record is None:
            record = {
                "recordId": max((i for i in company.prices if i < GENERATED_ID_BASE), default=0) + 1,
                "priceType": price_type,
                "priceCode": price_code,
                "inventoryId": item,
                "description": company.inventory[item]["description"],
                "uoM": company.inventory[item]["salesUnit"],
                "promotion": False,
                "breakQty": break_qty,
                "currency": currency,
                "vat": "",
                "effectiveDate": EFFECTIVE_FROM,
                "expirationDate": None,
            }
            company.prices[record["recordId"]] = record
        record["price"] = price
        if effective_date is not None:
            record["effectiveDate"] = effective_date
        if expiration_date is not None:
            record["expirationDate"] = expiration_date
        record["lastModifiedDateTime"] = self.clock()
        return record

    def base_price(self, company: Company, item: dict[str, Any]) -> Decimal:
        """The unit price (excl. VAT) a document line gets when it names none: the Base price at
        break quantity 0 in the company currency, else the item's default price."""
        number = item["inventoryNumber"]
        generated = item.get("_generated")
        if generated is not None:
            return generated[0].base_price(generated[1])
        for record in company.prices.values():
            if (record["inventoryId"], record["priceType"], record["breakQty"], record["currency"]) == (
                number,
                "Base",
                0,
                company.currency,
            ):
                return record["price"]
        return item["defaultPrice"]

    def _generated_price(self, company: Company, segment: Segment, index: int) -> dict[str, Any]:
        ordinal = next(i for i, s in enumerate(company.segments) if s is segment)
        return {
            "recordId": GENERATED_ID_BASE + ordinal * 10**7 + index,
            "priceType": "Base",
            "priceCode": "",
            "inventoryId": segment.number(index),
            "description": segment.description(index),
            "uoM": "STK",
            "promotion": False,
            "breakQty": Decimal(0),
            "price": segment.base_price(index),
            "currency": company.currency,
            "vat": "",
            "effectiveDate": EFFECTIVE_FROM,
            "expirationDate": None,
            "lastModifiedDateTime": segment.modified,
        }

    def _list_prices(self, request: Request, company: Company) -> Response:
        query = request.query
        changed = ChangeFilter(query, "lastModifiedDateTime")
        price_type, price_code = query.get("priceType", ""), query.get("priceCode", "")
        if price_type and price_type not in PRICE_TYPES:
            raise validation(f"Invalid value for 'priceType': '{price_type}'")
        item = query.get("inventoryId", "")
        as_of = parse_document_date(query["effectiveAsOf"], "effectiveAsOf") if query.get("effectiveAsOf") else None

        def passes(record: dict[str, Any]) -> bool:
            expires = record["expirationDate"]
            return (
                (not price_type or record["priceType"] == price_type)
                and (not price_code or record["priceCode"] == price_code)
                and (not item or record["inventoryId"] == item)
                and changed.accepts(record["lastModifiedDateTime"])
                and (as_of is None or (record["effectiveDate"] <= as_of and (expires is None or expires >= as_of)))
            )

        # Sorted by item number, then recordId: generated items' prices interleave in item order.
        stored = sorted(
            (f"{r['inventoryId']}\x00{r['recordId']:012d}", r) for r in company.prices.values() if passes(r)
        )
        run = self._generated_run(
            company,
            lambda generated: True,
            item,
            segment_passes=lambda s: (
                price_type in ("", "Base")
                and price_code == ""
                and changed.accepts(s.modified)
                and (as_of is None or as_of >= EFFECTIVE_FROM)
            ),
            needs_scan=False,
        )
        start, size = self._page_bounds(query, DEFAULT_MAX_PAGE_SIZE)
        window = merge_window(stored, run, start, start + size, lambda s, i: self._generated_price(company, s, i))
        page = [plain(record) for record in window]
        return Response(body=self._with_metadata(page, len(stored) + run.count, DEFAULT_MAX_PAGE_SIZE))
