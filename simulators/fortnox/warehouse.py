"""The warehouse module: /api/warehouse/status-v1/stockbalance, stockpoints-v1 and
tenants-v4, and the per-stock-point balances an article's quantities sum up."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.catalogue import Segment, SegmentsRun, merge_window
from simulators.fortnox.errors import WarehouseError
from simulators.fortnox.values import natural_key, number, to_decimal

DEFAULT_STOCK_POINT = "MAIN"


class WarehouseResource(FortnoxApi):
    """Stock points and stock balances (answered with the warehouse module's error body)."""

    def set_stock(
        self, article_number: str, in_stock: Any, *, reserved: Any = 0, stock_point: str = DEFAULT_STOCK_POINT
    ) -> dict[str, Any]:
        """Set one article's balance at one stock point (created if unknown); returns the article.

        The article's QuantityInStock/ReservedQuantity/DisposableQuantity become the sums over
        its stock points, and the change counts as a change of the article (lastmodified).
        """
        with self.lock:
            article = self._article_for_write(str(article_number))
            if stock_point not in self.stock_points:
                self._add_stock_point(stock_point, stock_point)
            rows = self.stock.setdefault(article["ArticleNumber"], {})
            rows[stock_point] = (to_decimal(in_stock, "InStock"), to_decimal(reserved, "Reserved"))
            self._sync_stock(article)
            self._touch("articles", article["ArticleNumber"])
            return article

    def add_stock_point(self, code: str, name: str = "", *, active: bool = True) -> dict[str, Any]:
        with self.lock:
            return self._add_stock_point(code, name or code, active=active)

    def _sync_stock(self, article: dict[str, Any]) -> None:
        """The article's quantities as sums over its stock points."""
        rows = self.stock.get(article["ArticleNumber"], {}).values()
        in_stock = sum((r[0] for r in rows), Decimal(0))
        reserved = sum((r[1] for r in rows), Decimal(0))
        article.update(
            {
                "QuantityInStock": number(in_stock),
                "ReservedQuantity": number(reserved),
                "DisposableQuantity": number(in_stock - reserved),
            }
        )

    def _add_stock_point(self, code: str, name: str, *, active: bool = True) -> dict[str, Any]:
        point = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fortnox-simulator/stockpoint/{code}")),
            "code": code,
            "name": name,
            "active": active,
            "usingCompanyAddress": True,
            "deliveryName": "",
            "deliveryAddress": "",
            "deliveryAddress2": "",
            "deliveryZipCode": "",
            "deliveryCity": "",
            "deliveryCountryCode": "",
            "deliveryPhone": "",
            "stockLocations": [],
        }
        self.stock_points[code] = point
        return point

    def _require_warehouse(self) -> None:
        # The status of the real answer is undocumented; 403 reads as "not allowed for this company".
        if not self.warehouse_active:
            raise WarehouseError(403, "notactivated", "Fortnox Lager är inte aktiverat för företaget.")

    @staticmethod
    def _csv(value: str | None) -> list[str]:
        return [part.strip() for part in (value or "").split(",") if part.strip()]

    def _stock_balance(self, request: Request) -> Response:
        """A list of {itemId, stockPointCode, availableStock, inStock} (available = in stock − reserved).

        Only balances that exist are listed: an article gets one at a stock point when its
        quantity is set there (a generated article has one at its segment's stock point).
        Unknown item ids and stock point codes give no rows rather than an error.
        """
        self._require_warehouse()
        item_ids = list(dict.fromkeys(self._csv(request.query.get("itemIds"))))
        points = set(self._csv(request.query.get("stockPointCodes"))) or None

        def rows_of(number_: str, balances: dict[str, tuple[Decimal, Decimal]]) -> list[dict[str, Any]]:
            return [
                {
                    "itemId": number_,
                    "stockPointCode": code,
                    "availableStock": number(in_stock - reserved),
                    "inStock": number(in_stock),
                }
                for code, (in_stock, reserved) in sorted(balances.items())
                if points is None or code in points
            ]

        def generated_rows(segment: Segment, index: int) -> list[dict[str, Any]]:
            in_stock, reserved = segment.stock(index)
            return rows_of(segment.number(index), {segment.stock_point: (Decimal(in_stock), Decimal(reserved))})

        result: list[dict[str, Any]] = []
        if item_ids:
            for number_ in item_ids:
                if number_ in self.stock:
                    result.extend(rows_of(number_, self.stock[number_]))
                elif number_ not in self.articles and (ref := self._generated_ref(number_)) is not None:
                    result.extend(generated_rows(*ref))
            return Response(body=result)
        ordered = sorted(
            ((natural_key(n), rows_of(n, balances)) for n, balances in self.stock.items()), key=lambda pair: pair[0]
        )
        run = SegmentsRun([s for s in self.segments if points is None or s.stock_point in points])
        for rows in merge_window(ordered, run, 0, len(ordered) + run.count, generated_rows):
            result.extend(rows)
        return Response(body=result)

    def _list_stock_points(self, request: Request) -> Response:
        """Stock points; `q` filters on code or name, `state` ACTIVE (default), INACTIVE or ALL."""
        self._require_warehouse()
        state = (request.query.get("state") or "ACTIVE").upper()
        if state not in ("ACTIVE", "INACTIVE", "ALL"):
            raise WarehouseError(400, "invalidstate", f"Ogiltigt värde för state ({state}).")
        needle = (request.query.get("q") or "").lower()
        points = [
            p
            for p in self.stock_points.values()
            if (state == "ALL" or p["active"] == (state == "ACTIVE"))
            and (needle in p["code"].lower() or needle in p["name"].lower())
        ]
        return Response(body=[dict(p) for p in points])

    def _warehouse_tenant(self, request: Request) -> Response:
        return Response(body={"activated": self.warehouse_active, "tenantId": self.tenant_id})

    def _warehouse_not_found(self, request: Request) -> Response:
        raise WarehouseError(404, "notfound", f"No resource {request.method} {request.path}")
