"""SalesOrders V3, the separate sales order service (``https://salesorder.visma.net``),
served on the simulator's port: plain JSON (no value wrapper).

    POST   /api/v3/salesorders                         → 201, Location .../api/v3/SalesOrders/{type}/{nbr}, ETag
    GET    /api/v3/SalesOrders                         pageIndex (0-based), pageSize, modifiedSince, customerId,
                                                       status, filter ("customerRefNo eq '<x>'") → {value, totalCount}
    GET    /api/v3/salesorders/{type}/{nbr}[/lines]    (ETag; lines as {"value": [...]})
    PATCH  /api/v3/salesorders/{type}/{nbr}            If-Match mandatory (428 without, 412 stale) → 204
    DELETE /api/v3/salesorders/{type}/{nbr}            an Open order without shipments → 204

Unsure points, agreed with the connector: pageIndex is 0-based and the `filter`
language is OData-like (confidence L); errors use the ERP's IPPException body, PATCH
answers 204 with the new ETag, and timestamps are company-local like the ERP's (L).
Statuses: Open, Hold, Shipping, Completed, Invoiced, Cancelled. Amounts as on invoices:
unit prices exclude VAT, VAT once per order per VAT code, half up to öre.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.company import Company
from simulators.vismanet.errors import ApiError, Fault, customer_not_found, item_not_found, not_found, validation
from simulators.vismanet.invoices import CURRENCIES
from simulators.vismanet.values import (
    HUNDRED,
    ZERO,
    parse_document_date,
    parse_filter_datetime,
    round_ore,
    to_bool,
    to_decimal,
)

V3_MAX_PAGE_SIZE = 1000
V3_MAX_PAGE_SIZE_EXPANDED = 100
ORDER_TYPES = ("SO",)
OPEN_STATUSES = ("Open", "Hold")
ORDER_FIELDS = frozenset(
    {
        "type",
        "customer",
        "customerRefNo",
        "customerOrder",
        "currency",
        "date",
        "requestOn",
        "description",
        "hold",
        "shipping",
        "billing",
        "orderLines",
        "note",
    }
)
LINE_FIELDS = frozenset(
    {"inventoryId", "description", "quantity", "unitPrice", "vatCodeId", "warehouseId", "discountPercent", "note"}
)
PATCH_FIELDS = frozenset(
    {"customerRefNo", "customerOrder", "description", "date", "requestOn", "hold", "shipping", "note"}
)
FILTER = re.compile(r"^\s*(customerRefNo|customerOrder|status)\s+eq\s+'((?:[^']|'')*)'\s*$")
FIRST_ORDER_NUMBER = 1


class SalesOrderResource(VismaNetApi):
    """SalesOrders V3 of `VismaNetSimulator`."""

    def cancel_sales_order(self, order_type: str, order_nbr: str, tenant_id: str | None = None) -> None:
        """Cancel an order (the ERP user's doing); refused once anything of it is shipped."""
        with self.lock:
            company = self.company(tenant_id)
            order = self._order(company, order_type, order_nbr)
            if any(line["shippedQuantity"] for line in order["lines"]) or order["status"] in ("Shipping", "Invoiced"):
                raise ValueError(f"order {order_type} {order_nbr} is {order['status']} and has shipments")
            order["status"] = "Cancelled"
            self._stamp_record(company, order)
            self.notify(company, "SalesOrder", "UPDATED", f"{order_type}/{order_nbr}")

    # -- handlers ---------------------------------------------------------------------------------
    def _post_order(self, request: Request, company: Company) -> Response:
        body = self._plain_body(request)
        order = self._create_order(company, body)
        self.notify(company, "SalesOrder", "CREATED", f"{order['type']}/{order['id']}")
        return self._created(f"/api/v3/SalesOrders/{order['type']}/{order['id']}", order)

    def _list_orders(self, request: Request, company: Company) -> Response:
        query = request.query
        index = self._index_param(query, "pageIndex", 0, minimum=0)
        cap = V3_MAX_PAGE_SIZE_EXPANDED if query.get("expand") else V3_MAX_PAGE_SIZE
        size = min(self._index_param(query, "pageSize", cap, minimum=1), cap)
        since = parse_filter_datetime(query["modifiedSince"], "modifiedSince") if query.get("modifiedSince") else None
        match = None
        if query.get("filter"):
            match = FILTER.match(query["filter"])
            if match is None:
                raise validation(f"Unsupported filter: {query['filter']!r} (use <field> eq '<value>')")
        records = []
        for order in company.sales_orders.values():
            if since is not None and order["lastModifiedDateTime"] < since:
                continue
            if query.get("customerId") and order["customer"]["id"] != query["customerId"]:
                continue
            if query.get("status") and order["status"] != query["status"]:
                continue
            if match is not None and (order.get(match.group(1)) or "") != match.group(2).replace("''", "'"):
                continue
            records.append(order)
        records.sort(key=lambda o: (o["type"], o["id"]))
        page = records[index * size : (index + 1) * size]
        return Response(body={"value": [self._order_body(o) for o in page], "totalCount": len(records)})

    def _get_order(self, request: Request, company: Company) -> Response:
        order = self._order(company, request.params["type"], request.params["nbr"])
        return self._one(order, self._order_body(order))

    def _get_order_lines(self, request: Request, company: Company) -> Response:
        order = self._order(company, request.params["type"], request.params["nbr"])
        return Response(body={"value": self._order_body(order)["lines"]})

    def _patch_order(self, request: Request, company: Company) -> Response:
        order = self._order(company, request.params["type"], request.params["nbr"])
        self._check_if_match(request, order, required=True)
        body = self._plain_body(request)
        unknown = sorted(set(body) - PATCH_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' cannot be changed with PATCH")
        if order["status"] not in OPEN_STATUSES:
            raise validation(f"Sales order {order['type']} {order['id']} is {order['status']} and cannot be changed")
        self._apply_order_header(company, order, body)
        self._stamp_record(company, order)
        self.notify(company, "SalesOrder", "UPDATED", f"{order['type']}/{order['id']}")
        return self._no_content(order)

    def _delete_order(self, request: Request, company: Company) -> Response:
        order = self._order(company, request.params["type"], request.params["nbr"])
        self._check_if_match(request, order)
        if order["status"] not in OPEN_STATUSES or any(line["shippedQuantity"] for line in order["lines"]):
            raise validation(f"Sales order {order['type']} {order['id']} is {order['status']} and cannot be deleted")
        if any(
            order["id"] == line["orderNbr"]
            for shipment in company.shipments.values()
            for line in shipment["shipmentDetailLines"]
        ):
            raise validation(f"Sales order {order['type']} {order['id']} is on a shipment")
        del company.sales_orders[f"{order['type']}/{order['id']}"]
        self.notify(company, "SalesOrder", "DELETED", f"{order['type']}/{order['id']}")
        return self._no_content()

    # -- orders -----------------------------------------------------------------------------------
    @staticmethod
    def _index_param(query: dict[str, str], name: str, default: int, *, minimum: int) -> int:
        raw = query.get(name, "")
        if raw == "":
            return default
        if not raw.lstrip("-").isdigit() or int(raw) < minimum:
            raise validation(f"Invalid value for '{name}': '{raw}'")
        return int(raw)

    @staticmethod
    def _order(company: Company, order_type: str, number: str) -> dict[str, Any]:
        order = company.sales_orders.get(f"{order_type.upper()}/{number}")
        if order is None:
            raise not_found("Sales order", f"{order_type} {number}")
        return order

    def _create_order(self, company: Company, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - ORDER_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' is not a field of a sales order")
        order_type = str(body.get("type") or "SO")
        if order_type not in ORDER_TYPES:
            raise validation(f"Order type '{order_type}' not found")
        customer_field = body.get("customer")
        customer_id = str(customer_field.get("id") or "") if isinstance(customer_field, dict) else ""
        if not customer_id:
            raise validation("The field 'customer.id' is required")
        customer = company.customers.get(customer_id)
        if customer is None:
            raise customer_not_found(customer_id)
        lines_in = body.get("orderLines")
        if not isinstance(lines_in, list) or not lines_in:
            raise validation("The field 'orderLines' must hold at least one line")
        currency = str(body.get("currency") or company.currency).upper()
        if currency not in CURRENCIES:
            raise validation(f"Currency '{currency}' not found")
        number = company.next_number(f"order:{order_type}", FIRST_ORDER_NUMBER)
        order: dict[str, Any] = {
            "type": order_type,
            "id": number,
            "status": "Open",
            "hold": False,
            "customer": {"id": customer["number"], "name": customer["name"]},
            "customerRefNo": None,
            "customerOrder": None,
            "currency": currency,
            "date": self.clock().date(),
            "requestOn": None,
            "description": None,
            "note": None,
            "shipping": {},
            "lines": [],
        }
        self._apply_order_header(company, order, body)
        preferred = str(order["shipping"].get("preferredWarehouseId") or "MAIN")
        for position, fields in enumerate(lines_in):
            order["lines"].append(self._order_line(company, fields, position, preferred))
        self._order_totals(company, order)
        self._stamp_record(company, order, created=True)
        company.sales_orders[f"{order_type}/{number}"] = order
        return order

    @staticmethod
    def _apply_order_header(company: Company, order: dict[str, Any], body: dict[str, Any]) -> None:
        for key in ("customerRefNo", "customerOrder", "description", "note"):
            if key in body:
                order[key] = None if body[key] is None else str(body[key])
        for key in ("date", "requestOn"):
            if body.get(key):
                order[key] = parse_document_date(body[key], key)
        if "shipping" in body:
            if not isinstance(body["shipping"], dict):
                raise validation("The field 'shipping' must be an object")
            warehouse = body["shipping"].get("preferredWarehouseId")
            if warehouse and warehouse not in company.warehouses:
                raise validation(f"Warehouse '{warehouse}' not found (shipping.preferredWarehouseId)")
            order["shipping"] = {**order["shipping"], **body["shipping"]}
        if "hold" in body:
            order["hold"] = to_bool(body["hold"], "hold")
            order["status"] = "Hold" if order["hold"] else "Open"

    def _order_line(self, company: Company, fields: Any, position: int, warehouse: str) -> dict[str, Any]:
        name = f"orderLines[{position}]"
        if not isinstance(fields, dict):
            raise validation(f"'{name}' must be an object")
        unknown = sorted(set(fields) - LINE_FIELDS)
        if unknown:
            raise validation(f"The field '{name}.{unknown[0]}' is not a field of an order line")
        number = str(fields.get("inventoryId") or "")
        item = self._item(company, number)
        if item is None:
            raise item_not_found(number)
        quantity = to_decimal(fields.get("quantity", 1), f"{name}.quantity")
        if quantity <= 0:
            raise validation(f"'{name}.quantity' must be more than zero")
        code = str(fields.get("vatCodeId") or item["vatCode"])
        if code not in company.vat_codes:
            raise ApiError(400, f"VAT code '{code}' not found ({name}.vatCodeId)", Fault.VAT_INVALID)
        line_warehouse = str(fields.get("warehouseId") or warehouse)
        if line_warehouse not in company.warehouses:
            raise validation(f"Warehouse '{line_warehouse}' not found ({name}.warehouseId)")
        unit_price = (
            to_decimal(fields["unitPrice"], f"{name}.unitPrice")
            if fields.get("unitPrice") is not None
            else self.base_price(company, item)
        )
        return {
            "lineId": position + 1,
            "inventoryId": number,
            "inventory": {"id": number, "description": item["description"], "baseUnit": item["baseUnit"]},
            "stockItem": item["type"] in ("FinishedGoodItem", "Component"),
            "description": str(fields.get("description") or item["description"]),
            "quantity": quantity,
            "unitPrice": unit_price,
            "discountPercent": to_decimal(fields.get("discountPercent", 0), f"{name}.discountPercent"),
            "vatCodeId": code,
            "warehouseId": line_warehouse,
            "shippedQuantity": ZERO,
            "invoicedQuantity": ZERO,
        }

    @staticmethod
    def _order_totals(company: Company, order: dict[str, Any]) -> None:
        taxable: dict[str, Decimal] = {}
        line_total = ZERO
        for line in order["lines"]:
            gross = round_ore(line["quantity"] * line["unitPrice"])
            line["lineAmount"] = gross - round_ore(gross * line["discountPercent"] / HUNDRED)
            line_total += line["lineAmount"]
            taxable[line["vatCodeId"]] = taxable.get(line["vatCodeId"], ZERO) + line["lineAmount"]
        vat_total = sum(
            (round_ore(amount * (company.vat_rate(code) or ZERO) / HUNDRED) for code, amount in taxable.items()), ZERO
        )
        order.update(lineTotal=line_total, vatTotal=vat_total, orderTotal=line_total + vat_total)

    @staticmethod
    def _order_body(order: dict[str, Any]) -> dict[str, Any]:
        body = {k: v for k, v in order.items() if k not in ("lastModifiedDateTime", "createdDateTime")}
        body["lastModified"] = order["lastModifiedDateTime"]
        body["created"] = order["createdDateTime"]
        body["lines"] = [
            {
                **{k: v for k, v in line.items() if k != "stockItem"},
                "openQuantity": line["quantity"] - line["shippedQuantity"],
            }
            for line in order["lines"]
        ]
        return plain(body)
