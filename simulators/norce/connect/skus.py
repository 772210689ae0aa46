"""Query 2.0 Products/ProductSkus: the SKUs the imports made, listed in PartNo order."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from simulators.base import Request, Response
from simulators.norce.common import QUERY_BASE, QUERY_PAGE_SIZE
from simulators.norce.connect.state import ConnectState


class ProductSkuQuery(ConnectState):
    """GET /commerce/query/2.0/Products/ProductSkus ($select, $top, $skip, $count; $orderby PartNo)."""

    QUERY_SKU_PROPERTIES = (
        "PartNo",
        "StatusId",
        "ManufacturerPartNo",
        "ProductCode",
        "ManufacturerCode",
        "EanCode",
        "SkuTypeId",
    )

    def handle_query_product_skus(self, request: Request) -> Response:
        application = request.header("applicationid") or request.header("application-id")
        if not application:
            return self.sim.error_response(400, "The applicationId header is required")
        if not application.strip().isdigit() or int(application) != self.sim.application_id:
            return self.sim.error_response(400, f"Unknown application {application!r}")
        params = request.query
        unsupported = sorted(
            k for k in params if k.startswith("$") and k not in ("$select", "$top", "$skip", "$count", "$orderby")
        )
        if unsupported:
            return self.sim.error_response(400, f"Query option {unsupported[0]} is not supported")
        select = [name.strip() for name in params.get("$select", "").split(",") if name.strip()]
        for name in select:
            if name not in self.QUERY_SKU_PROPERTIES:
                return self.sim.error_response(400, f"$select: ProductSku has no property {name!r}")
        if params.get("$orderby", "PartNo").strip() not in ("PartNo", "PartNo asc"):
            return self.sim.error_response(400, "$orderby: only PartNo is supported")
        numbers = {}
        for option, default in (("$top", QUERY_PAGE_SIZE), ("$skip", 0)):
            text = params.get(option, str(default))
            if not text.isdigit():
                return self.sim.error_response(400, f"{option} must be a non-negative integer")
            numbers[option] = int(text)
        top, skip = min(numbers["$top"], QUERY_PAGE_SIZE), numbers["$skip"]
        count = params.get("$count", "false")
        if count not in ("true", "false"):
            return self.sim.error_response(400, "$count must be true or false")
        with self.lock:
            if self._sorted_part_nos is None:
                self._sorted_part_nos = sorted(self.skus)
            ordered = self._sorted_part_nos
            page = [self._query_sku(self.skus[part_no], select) for part_no in ordered[skip : skip + top]]
            total = len(ordered)
        base = f"http://{request.header('host') or f'{self.sim.host}:{self.sim.port}'}"
        body: dict[str, Any] = {"@odata.context": f"{base}{QUERY_BASE}/Products/$metadata#ProductSkus", "value": page}
        if count == "true":
            body["@odata.count"] = total
        if top and skip + top < total:
            following = dict(params, **{"$skip": str(skip + top), "$top": str(top)})
            body["@odata.nextLink"] = f"{base}{request.path}?{urlencode(following, quote_via=quote, safe='$(),:')}"
        return Response(body=body)

    def _query_sku(self, sku: dict[str, Any], select: list[str]) -> dict[str, Any]:
        product = self.products.get(sku.get("Product")) if sku.get("Product") is not None else None
        row = {
            "PartNo": sku["PartNo"],
            "StatusId": sku.get("Status", 1),
            "ManufacturerPartNo": sku.get("ManufacturerPartNo"),
            "ProductCode": product.get("Code") if product else None,
            "ManufacturerCode": product.get("ManufacturerCode") if product else None,
            "EanCode": sku.get("EanCode"),
            "SkuTypeId": sku.get("Type"),
        }
        return {name: row[name] for name in select} if select else row
