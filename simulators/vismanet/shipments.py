"""Shipments of sales orders, and the warehouse's part (shipping, invoicing) as control methods.

    GET  /v1/shipment                               status, customerNumber/customerId, shipmentDate(+Condition),
                                                    lastModifiedDateTime(+Condition), pageNumber, pageSize
    GET  /v1/shipment/{shipmentNbr}
    POST /v1/shipment                               ShipmentCreateDto (wrapped) → 201
    POST /v1/shipment/{nbr}/action/addSOOrder       {"orderType", "orderNumber"} (bare) → 204
    POST /v1/shipment/{nbr}/action/confirmShipment  → actionResult

Statuses Open (Hold) → Confirmed → Invoiced (PartiallyInvoiced is not produced), Cancelled.
No tracking-number field is documented (open question 12): the carrier's parcel number
is put in ``shipmentPackageLines[].trackingNumber`` AND in ``customStr1`` (assumption, L).
Non-stock order lines (freight, services) are not shipped; they go onto the order's first invoice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.company import DEFAULT_WAREHOUSE, SHIP_VIAS, Company
from simulators.vismanet.errors import customer_not_found, not_found, validation
from simulators.vismanet.values import ZERO, ChangeFilter, parse_document_date, to_bool, to_decimal

SHIPMENT_FIELDS = frozenset(
    {
        "shipmentType",
        "operation",
        "shipmentDate",
        "customer",
        "location",
        "fromWarehouse",
        "hold",
        "shipVia",
        "shipmentPackageLines",
        "note",
        *(f"customStr{i}" for i in range(1, 6)),
    }
)
PACKAGE_FIELDS = frozenset({"operation", "boxId", "description", "weight", "trackingNumber"})
FIRST_SHIPMENT_NUMBER = 1


class ShipmentResource(VismaNetApi):
    """Shipments of `VismaNetSimulator`."""

    # -- the warehouse's doing ------------------------------------------------------------------
    def ship_order(
        self,
        order_type: str,
        order_nbr: str,
        lines: dict[int, Any] | list[int] | None = None,
        tracking: str = "00370712345678901234",
        ship_via: str = "POSTNORD",
        tenant_id: str | None = None,
    ) -> str:
        """Create and confirm a shipment of a V3 order, as the warehouse would; returns its number.

        `lines`: None ships every open stock line in full; a list of lineIds ships those in
        full; a dict {lineId: quantity} ships part of them.
        """
        with self.lock:
            company = self.company(tenant_id)
            order = self._order(company, order_type, order_nbr)
            shipment = self._new_shipment(
                company,
                {
                    "customer": order["customer"]["id"],
                    "shipVia": ship_via,
                    "fromWarehouse": order["shipping"].get("preferredWarehouseId") or DEFAULT_WAREHOUSE,
                    "customStr1": tracking,
                    "shipmentPackageLines": [
                        {"operation": "Insert", "boxId": "PARCEL", "description": "Paket", "trackingNumber": tracking}
                    ],
                },
            )
            if isinstance(lines, list):
                lines = dict.fromkeys(lines)
            self._add_order(company, shipment, order_type, order_nbr, lines)
            self._confirm(company, shipment)
            return shipment["shipmentNumber"]

    def invoice_shipment(self, shipment_nbr: str, *, release: bool = True, tenant_id: str | None = None) -> str:
        """Invoice a confirmed shipment ("prepare invoice"); returns the invoice number.

        Lines carry soOrderType/soOrderNbr/soShipmentNbr; the order's customerRefNo goes to
        externalReference and its customerOrder to customerRefNumber (assumption, L).
        """
        with self.lock:
            company = self.company(tenant_id)
            shipment = self._shipment(company, shipment_nbr)
            if shipment["status"] != "Confirmed":
                raise ValueError(f"shipment {shipment_nbr} is {shipment['status']}, not Confirmed")
            orders = [self._order(company, o["orderType"], o["orderNbr"]) for o in shipment["shipmentOrderLines"]]
            invoice_lines, refs = [], []
            for detail in shipment["shipmentDetailLines"]:
                order = company.sales_orders[f"{detail['orderType']}/{detail['orderNbr']}"]
                line = next(x for x in order["lines"] if x["lineId"] == detail["orderLineNbr"])
                invoice_lines.append(self._invoice_line(line, detail["shippedQty"]))
                refs.append(self._so_ref(order, shipment_nbr))
                line["invoicedQuantity"] += detail["shippedQty"]
            for order in orders:  # non-stock lines on the order's first invoice
                for line in order["lines"]:
                    if not line["stockItem"] and line["invoicedQuantity"] < line["quantity"]:
                        quantity = line["quantity"] - line["invoicedQuantity"]
                        invoice_lines.append(self._invoice_line(line, quantity))
                        refs.append(self._so_ref(order, shipment_nbr))
                        line["invoicedQuantity"] = line["quantity"]
            first = orders[0]
            fields = {
                "customerNumber": shipment["customer"]["number"],
                "currencyId": first["currency"],
                "externalReference": first["customerRefNo"],
                "customerRefNumber": first["customerOrder"],
                "invoiceText": first["description"],
                "hold": False,
                "invoiceLines": invoice_lines,
            }
            invoice = self._create_invoice(company, fields, so_refs=refs)
            number = invoice["referenceNumber"]
            self.notify(company, "ArInvoice", "StatusChanged", number)
            if release:
                self._release(company, invoice)
            shipment["status"] = "Invoiced"
            for order_line in shipment["shipmentOrderLines"]:
                order_line.update(invoiceType="Invoice", invoiceNbr=number)
            self._stamp_record(company, shipment)
            self.notify(company, "Shipment", "StatusChanged", shipment_nbr)
            for order in orders:
                if order["status"] == "Completed" and all(
                    s["status"] == "Invoiced"
                    for s in company.shipments.values()
                    if any(o["orderNbr"] == order["id"] for o in s["shipmentOrderLines"])
                ):
                    order["status"] = "Invoiced"
                self._stamp_record(company, order)
                self.notify(company, "SalesOrder", "UPDATED", f"{order['type']}/{order['id']}")
            return number

    @staticmethod
    def _invoice_line(line: dict[str, Any], quantity: Decimal) -> dict[str, Any]:
        return {
            "operation": "Insert",
            "inventoryNumber": line["inventoryId"],
            "description": line["description"],
            "quantity": quantity,
            "unitPriceInCurrency": line["unitPrice"],
            "discountPercent": line["discountPercent"],
            "vatCodeId": line["vatCodeId"],
        }

    @staticmethod
    def _so_ref(order: dict[str, Any], shipment_nbr: str) -> dict[str, str]:
        return {"soOrderType": order["type"], "soOrderNbr": order["id"], "soShipmentNbr": shipment_nbr}

    # -- handlers ---------------------------------------------------------------------------------
    def _list_shipments(self, request: Request, company: Company) -> Response:
        query = request.query
        changed, shipped = ChangeFilter(query, "lastModifiedDateTime"), ChangeFilter(query, "shipmentDate")
        customer = query.get("customerNumber") or query.get("customerId") or ""
        records = [
            s
            for s in company.shipments.values()
            if (not query.get("status") or s["status"] == query["status"])
            and (not customer or s["customer"]["number"] == customer)
            and changed.accepts(s["lastModifiedDateTime"])
            and shipped.accepts(s["_shipment_moment"])
        ]
        records.sort(key=lambda s: s["shipmentNumber"])
        return self._list(request, records, self._shipment_body)

    def _get_shipment(self, request: Request, company: Company) -> Response:
        shipment = self._shipment(company, request.params["number"])
        return self._one(shipment, self._shipment_body(shipment))

    def _post_shipment(self, request: Request, company: Company) -> Response:
        shipment = self._new_shipment(company, self._wrapped_body(request))
        self.notify(company, "Shipment", "StatusChanged", shipment["shipmentNumber"])
        return self._created(f"/v1/shipment/{shipment['shipmentNumber']}", shipment)

    def _shipment_action(self, request: Request, company: Company) -> Response:
        shipment = self._shipment(company, request.params["number"])
        action = request.params["action"]
        self._check_if_match(request, shipment)
        if action == "addSOOrder":
            body = self._plain_body(request)
            if any(isinstance(v, dict) for v in body.values()):
                raise validation("The fields of addSOOrder are sent bare (orderType, orderNumber)")
            self._add_order(company, shipment, str(body.get("orderType") or "SO"), str(body.get("orderNumber") or ""))
            return self._no_content(shipment)
        if action == "confirmShipment":
            self._confirm(company, shipment)
            return self._action_done()
        raise not_found("Action", action)

    # -- shipments --------------------------------------------------------------------------------
    @staticmethod
    def _shipment(company: Company, number: str) -> dict[str, Any]:
        shipment = company.shipments.get(number)
        if shipment is None:
            raise not_found("Shipment", number)
        return shipment

    def _new_shipment(self, company: Company, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - SHIPMENT_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' is not a field of a shipment")
        if fields.get("shipmentType", "Issue") != "Issue" or fields.get("operation", "Issue") != "Issue":
            raise validation("Only shipments of type Issue are supported")
        number = str(fields.get("customer") or "")
        customer = company.customers.get(number)
        if customer is None:
            raise customer_not_found(number)
        warehouse = str(fields.get("fromWarehouse") or DEFAULT_WAREHOUSE)
        if warehouse not in company.warehouses:
            raise validation(f"Warehouse '{warehouse}' not found")
        ship_via = fields.get("shipVia")
        if ship_via and ship_via not in SHIP_VIAS:
            raise validation(f"Ship via '{ship_via}' not found")
        hold = to_bool(fields.get("hold", False), "hold")
        day = parse_document_date(fields["shipmentDate"], "shipmentDate") if fields.get("shipmentDate") else None
        day = day or self.clock().date()
        packages = []
        for position, package in enumerate(fields.get("shipmentPackageLines", [])):
            unknown = sorted(set(package) - PACKAGE_FIELDS)
            if unknown:
                raise validation(f"The field 'shipmentPackageLines[{position}].{unknown[0]}' is unknown")
            packages.append(
                {
                    "lineNumber": position + 1,
                    "boxId": package.get("boxId"),
                    "description": package.get("description"),
                    "weight": to_decimal(package.get("weight", 0), "weight"),
                    "trackingNumber": package.get("trackingNumber"),
                }
            )
        shipment_number = company.next_number("shipment", FIRST_SHIPMENT_NUMBER, taken=company.shipments)
        shipment: dict[str, Any] = {
            "shipmentNumber": shipment_number,
            "shipmentType": "Issue",
            "operation": "Issue",
            "status": "Hold" if hold else "Open",
            "hold": hold,
            "shipmentDate": day,
            "_shipment_moment": datetime.combine(day, datetime.min.time()),
            "customer": {"number": customer["number"], "name": customer["name"]},
            "fromWarehouse": warehouse,
            "shipVia": {"id": ship_via, "description": SHIP_VIAS[ship_via]} if ship_via else None,
            "shipmentDetailLines": [],
            "shipmentOrderLines": [],
            "shipmentPackageLines": packages,
            "packages": len(packages),
            "note": fields.get("note"),
            **{f"customStr{i}": fields.get(f"customStr{i}") for i in range(1, 6)},
        }
        self._stamp_record(company, shipment, created=True)
        company.shipments[shipment_number] = shipment
        return shipment

    def _add_order(
        self,
        company: Company,
        shipment: dict[str, Any],
        order_type: str,
        order_nbr: str,
        quantities: dict[int, Any] | None = None,
    ) -> None:
        order = company.sales_orders.get(f"{order_type}/{order_nbr}")
        if order is None:
            raise validation(f"Sales order '{order_type} {order_nbr}' not found")
        if shipment["status"] not in ("Open", "Hold"):
            raise validation(f"Shipment '{shipment['shipmentNumber']}' is {shipment['status']}")
        if order["status"] not in ("Open", "Shipping"):
            raise validation(f"Sales order '{order_type} {order_nbr}' is {order['status']} and cannot be shipped")
        if order["customer"]["id"] != shipment["customer"]["number"]:
            raise validation(f"Sales order '{order_type} {order_nbr}' is for another customer")
        added = ZERO
        for line in order["lines"]:
            if not line["stockItem"] or (quantities is not None and line["lineId"] not in quantities):
                continue
            on_shipments = sum(
                (
                    d["shippedQty"]
                    for s in company.shipments.values()
                    if s["status"] in ("Open", "Hold")
                    for d in s["shipmentDetailLines"]
                    if (d["orderType"], d["orderNbr"], d["orderLineNbr"]) == (order_type, order_nbr, line["lineId"])
                ),
                ZERO,
            )
            open_qty = line["quantity"] - line["shippedQuantity"] - on_shipments
            wanted = quantities.get(line["lineId"]) if quantities else None
            quantity = open_qty if wanted is None else min(open_qty, to_decimal(wanted, "quantity"))
            if quantity <= 0:
                continue
            shipment["shipmentDetailLines"].append(
                {
                    "lineNumber": len(shipment["shipmentDetailLines"]) + 1,
                    "orderType": order_type,
                    "orderNbr": order_nbr,
                    "orderLineNbr": line["lineId"],
                    "inventoryNumber": line["inventoryId"],
                    "description": line["description"],
                    "warehouse": line["warehouseId"],
                    "uom": line["inventory"]["baseUnit"],
                    "shippedQty": quantity,
                    "orderedQty": line["quantity"],
                    "openQty": open_qty - quantity,
                }
            )
            added += quantity
        if added == 0:
            raise validation(f"Sales order '{order_type} {order_nbr}' has no open lines to ship")
        shipment["shipmentOrderLines"].append(
            {
                "orderType": order_type,
                "orderNbr": order_nbr,
                "shippedQty": added,
                "invoiceType": None,
                "invoiceNbr": None,
            }
        )
        shipment["shippedQuantity"] = sum((d["shippedQty"] for d in shipment["shipmentDetailLines"]), ZERO)
        order["status"] = "Shipping"
        self._stamp_record(company, shipment)
        self._stamp_record(company, order)
        self.notify(company, "SalesOrder", "UPDATED", f"{order_type}/{order_nbr}")

    def _confirm(self, company: Company, shipment: dict[str, Any]) -> None:
        number = shipment["shipmentNumber"]
        if shipment["status"] != "Open":
            raise validation(f"Shipment '{number}' is {shipment['status']} and cannot be confirmed")
        if not shipment["shipmentDetailLines"]:
            raise validation(f"Shipment '{number}' has no lines")
        now = self.clock()
        for detail in shipment["shipmentDetailLines"]:
            item = self._materialise(company, detail["inventoryNumber"])
            rows = company.stock.setdefault(detail["inventoryNumber"], {})
            rows[detail["warehouse"]] = rows.get(detail["warehouse"], ZERO) - detail["shippedQty"]
            item["availabilityLastModifiedDateTime"] = now
            order = company.sales_orders[f"{detail['orderType']}/{detail['orderNbr']}"]
            line = next(x for x in order["lines"] if x["lineId"] == detail["orderLineNbr"])
            line["shippedQuantity"] += detail["shippedQty"]
        shipment["status"] = "Confirmed"
        self._stamp_record(company, shipment)
        self.notify(company, "Shipment", "StatusChanged", number)
        for order_line in shipment["shipmentOrderLines"]:
            order = company.sales_orders[f"{order_line['orderType']}/{order_line['orderNbr']}"]
            done = all(x["shippedQuantity"] >= x["quantity"] for x in order["lines"] if x["stockItem"])
            order["status"] = "Completed" if done else "Open"
            self._stamp_record(company, order)
            self.notify(company, "SalesOrder", "UPDATED", f"{order['type']}/{order['id']}")

    def _shipment_body(self, shipment: dict[str, Any]) -> dict[str, Any]:
        body = dict(shipment)
        warehouse = shipment["fromWarehouse"]
        body["fromWarehouse"] = {"id": warehouse, "description": warehouse}
        return plain(body)
