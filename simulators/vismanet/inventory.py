"""Inventory items and their stock, including a generated catalogue (see `catalogue`).

GET /v1/inventory                         list (pageSize up to 5000): inventoryNumber, alternateID,
                                          description, status, lastModifiedDateTime(+Condition),
                                          createdDateTime(+Condition), availabilityLastModifiedDateTime(+Condition);
                                          expandWarehouseDetail=true adds warehouseDetails
GET /v1/inventory/{inventoryNumber}
GET /v1/inventorysummary/{inventoryNumber}?warehouse=   stock per warehouse (one item per call)
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.catalogue import Segment, SegmentsRun, merge_window
from simulators.vismanet.company import DEFAULT_WAREHOUSE, VAT_CODE_BY_RATE, Company
from simulators.vismanet.errors import not_found, validation
from simulators.vismanet.values import ChangeFilter, row_version, to_decimal

INVENTORY_MAX_PAGE_SIZE = 5000
ITEM_STATUSES = ("Active", "NoSales", "NoPurchases", "NoRequest", "Inactive", "MarkedForDeletion")
ITEM_TYPES = ("FinishedGoodItem", "NonStockItem", "ServiceItem", "LaborItem", "ChargeItem", "Component")
STOCK_TYPES = ("FinishedGoodItem", "Component")
GENERATED_ID_BASE = 1_000_000_000  # inventoryId / price recordId of generated items: base + segment * 10^7 + index
ZERO = Decimal(0)


class InventoryResource(VismaNetApi):
    """Inventory endpoints of `VismaNetSimulator`, and its stock."""

    # -- Python side ----------------------------------------------------------------------------
    def seed_inventory(self, items: list[dict[str, Any]], tenant_id: str | None = None) -> None:
        """Create or replace items from plain fields: inventoryNumber, description, type, status,
        vatCodeId (or vatRate), defaultPrice (excl. VAT; also the Base sales price), baseUnit,
        ean, onHand (in `warehouse`, default MAIN).

        Each item is a change made in the ERP: a company with a webhook URL is notified of it
        (InventoryItem.Created or InventoryItem.Updated, as the module `webhooks` lists)."""
        with self.lock:
            company = self.company(tenant_id)
            for fields in items:
                created = self._item(company, str(fields.get("inventoryNumber") or "").strip()) is None
                item = self._store_item(company, fields)
                self.notify(company, "InventoryItem", "Created" if created else "Updated", item["inventoryNumber"])

    def set_stock(
        self, item: str, quantity: Any, warehouse: str = DEFAULT_WAREHOUSE, tenant_id: str | None = None
    ) -> None:
        """Quantity on hand of `item` in `warehouse` (a stock count, as the warehouse reports it)."""
        with self.lock:
            company = self.company(tenant_id)
            record = self._materialise(company, item)
            if warehouse not in company.warehouses:
                company.warehouses[warehouse] = warehouse
            company.stock.setdefault(item, {})[warehouse] = to_decimal(quantity, "quantity")
            record["availabilityLastModifiedDateTime"] = self.clock()

    def on_hand(self, item: str, warehouse: str = DEFAULT_WAREHOUSE, tenant_id: str | None = None) -> Decimal:
        with self.lock:
            return self._stock_rows(self.company(tenant_id), item).get(warehouse, ZERO)

    # -- handlers ---------------------------------------------------------------------------------
    def _list_inventory(self, request: Request, company: Company) -> Response:
        query = request.query
        filters = [
            ChangeFilter(query, "lastModifiedDateTime"),
            ChangeFilter(query, "createdDateTime"),
            ChangeFilter(query, "availabilityLastModifiedDateTime"),
        ]
        fields = ("lastModifiedDateTime", "createdDateTime", "availabilityLastModifiedDateTime")
        status = query.get("status", "")
        if status and status not in ITEM_STATUSES:
            raise validation(f"Invalid value for 'status': '{status}'")
        number, alternate = query.get("inventoryNumber", ""), query.get("alternateID", "")
        description = query.get("description", "").lower()

        def passes(item: dict[str, Any]) -> bool:
            return (
                (not status or item["status"] == status)
                and (not number or item["inventoryNumber"] == number)
                and (not alternate or item.get("ean") == alternate)
                and (not description or description in item["description"].lower())
                and all(f.accepts(item[name]) for f, name in zip(filters, fields))
            )

        stored = sorted((n, i) for n, i in company.inventory.items() if passes(i))
        run = self._generated_run(
            company,
            passes,
            number,
            # Every generated item is Active and was changed at its segment's seeding moment.
            segment_passes=lambda s: status in ("", "Active") and self._segment_passes(s, filters),
            needs_scan=bool(alternate or description),
        )
        start, size = self._page_bounds(query, INVENTORY_MAX_PAGE_SIZE)
        window = merge_window(stored, run, start, start + size, lambda s, i: self._generated_item(company, s, i))
        expand = query.get("expandWarehouseDetail", "").lower() == "true"
        reservations = company.reservations() if expand else {}
        page = [self._item_body(company, item, expand, reservations) for item in window]
        return Response(body=self._with_metadata(page, len(stored) + run.count, INVENTORY_MAX_PAGE_SIZE))

    def _get_inventory(self, request: Request, company: Company) -> Response:
        item = self._item(company, request.params["number"])
        if item is None:
            raise not_found("Inventory item", request.params["number"])
        return self._one(item, self._item_body(company, item, True, company.reservations()))

    def _inventory_summary(self, request: Request, company: Company) -> Response:
        number = request.params["number"]
        item = self._item(company, number)
        if item is None:
            raise not_found("Inventory item", number)
        wanted = request.query.get("warehouse", "")
        if wanted and wanted not in company.warehouses:
            raise validation(f"Warehouse '{wanted}' not found")
        reservations = company.reservations()
        rows = []
        for warehouse, on_hand in sorted(self._stock_rows(company, number).items()):
            if wanted and warehouse != wanted:
                continue
            booked, allocated = reservations.get((number, warehouse), (ZERO, ZERO))
            rows.append(
                {
                    "inventory": {"number": number, "description": item["description"]},
                    "warehouse": {"id": warehouse, "description": company.warehouses.get(warehouse, warehouse)},
                    "location": {"id": "L1", "name": "Standard"},
                    "onHand": on_hand,
                    "available": on_hand - booked,
                    "availableForShipment": on_hand - allocated,
                    "notAvailable": ZERO,
                    "soBooked": booked,
                    "soAllocated": allocated,
                    "soShipped": ZERO,
                    "soBackOrdered": ZERO,
                    "inTransit": ZERO,
                    "purchaseOrders": ZERO,
                    "baseUnit": item["baseUnit"],
                }
            )
        return Response(body=plain(rows))

    # -- items ------------------------------------------------------------------------------------
    def _item(self, company: Company, number: str) -> dict[str, Any] | None:
        """A stored item, or a generated one computed (not stored), or None."""
        item = company.inventory.get(number)
        if item is not None:
            return item
        for ordinal, segment in enumerate(company.segments):
            index = segment.index_of(number)
            if index is not None and index not in segment.excluded_set:
                return self._generated_item(company, segment, index, ordinal)
        return None

    def _generated_item(self, company: Company, segment: Segment, index: int, ordinal: int | None = None) -> dict:
        if ordinal is None:
            ordinal = next(i for i, s in enumerate(company.segments) if s is segment)
        item = segment.item(index, GENERATED_ID_BASE + ordinal * 10**7 + index)
        item["vatCode"] = VAT_CODE_BY_RATE[item.pop("vatRate")]
        item["timeStamp"] = row_version(0)
        item["_generated"] = (segment, index)
        return item

    def _materialise(self, company: Company, number: str) -> dict[str, Any]:
        """The stored item `number`, moving a generated one into the stored dict first."""
        item = self._item(company, number)
        if item is None:
            raise KeyError(f"no inventory item {number!r}")
        generated = item.pop("_generated", None)
        if generated is not None:
            segment, index = generated
            item["_rv"] = company.next_row_version()
            item["timeStamp"] = row_version(item["_rv"])
            item["attributes"] = []
            company.inventory[number] = item
            company.stock[number] = {segment.warehouse: segment.on_hand(index)}
            price = self._generated_price(company, segment, index)
            company.prices[price["recordId"]] = price
            segment.exclude(index)
        return item

    def _store_item(self, company: Company, fields: dict[str, Any]) -> dict[str, Any]:
        number = str(fields.get("inventoryNumber") or "").strip()
        if not number:
            raise ValueError("an item needs an inventoryNumber")
        existing = self._item(company, number)
        item = self._materialise(company, number) if existing is not None else None
        if item is None:
            item = {
                "inventoryId": len(company.inventory) + 1,
                "inventoryNumber": number,
                "status": "Active",
                "type": "FinishedGoodItem",
                "description": number,
                "vatCode": "MP1",
                "defaultPrice": ZERO,
                "baseUnit": "STK",
                "salesUnit": "STK",
                "ean": "",
                "defaultWarehouse": DEFAULT_WAREHOUSE,
                "attributes": [],
                "availabilityLastModifiedDateTime": None,
            }
        for key in ("status", "type", "description", "baseUnit", "ean", "defaultWarehouse"):
            if key in fields:
                item[key] = fields[key]
        item["salesUnit"] = fields.get("salesUnit", item["baseUnit"])
        if item["type"] not in ITEM_TYPES or item["status"] not in ITEM_STATUSES:
            raise ValueError(f"item {number}: type {item['type']!r} or status {item['status']!r} is invalid")
        if "vatRate" in fields:
            item["vatCode"] = VAT_CODE_BY_RATE[int(fields["vatRate"])]
        if "vatCodeId" in fields:
            item["vatCode"] = fields["vatCodeId"]
        if "defaultPrice" in fields:
            item["defaultPrice"] = to_decimal(fields["defaultPrice"], "defaultPrice")
        self._stamp_record(company, item, created=existing is None)
        company.inventory[number] = item
        if "onHand" in fields and item["type"] in STOCK_TYPES:
            warehouse = fields.get("warehouse", item["defaultWarehouse"])
            company.stock.setdefault(number, {})[warehouse] = to_decimal(fields["onHand"], "onHand")
            item["availabilityLastModifiedDateTime"] = item["lastModifiedDateTime"]
        if "defaultPrice" in fields:
            self._set_price(company, number, item["defaultPrice"])
        return item

    def _stock_rows(self, company: Company, number: str) -> dict[str, Decimal]:
        rows = company.stock.get(number)
        if rows is not None:
            return rows
        item = self._item(company, number)
        generated = item.get("_generated") if item else None
        if generated is not None:
            segment, index = generated
            return {segment.warehouse: segment.on_hand(index)}
        return {}

    def _item_body(
        self,
        company: Company,
        item: dict[str, Any],
        expand: bool,
        reservations: dict[tuple[str, str], tuple[Decimal, Decimal]],
    ) -> dict[str, Any]:
        code = item["vatCode"]
        body: dict[str, Any] = {
            "inventoryId": item["inventoryId"],
            "inventoryNumber": item["inventoryNumber"],
            "status": item["status"],
            "type": item["type"],
            "description": item["description"],
            "vatCode": {"id": code, "description": company.vat_codes.get(code, ("", 0))[0]},
            "defaultPrice": item["defaultPrice"],
            "baseUnit": item["baseUnit"],
            "salesUnit": item["salesUnit"],
            "crossReferences": (
                [{"alternateType": "Barcode", "alternateID": item["ean"], "description": "EAN"}] if item["ean"] else []
            ),
            "attributes": item.get("attributes", []),
            "lastModifiedDateTime": item["lastModifiedDateTime"],
            "availabilityLastModifiedDateTime": item["availabilityLastModifiedDateTime"],
            "createdDateTime": item["createdDateTime"],
            "timeStamp": item["timeStamp"],
        }
        if expand:
            number = item["inventoryNumber"]
            details = []
            for warehouse, on_hand in sorted(self._stock_rows(company, number).items()):
                booked, allocated = reservations.get((number, warehouse), (ZERO, ZERO))
                details.append(
                    {
                        "isDefault": warehouse == item["defaultWarehouse"],
                        "warehouse": {"id": warehouse, "description": company.warehouses.get(warehouse, warehouse)},
                        "quantityOnHand": on_hand,
                        "available": on_hand - booked,
                        "availableForShipment": on_hand - allocated,
                        "lastModifiedDateTime": item["availabilityLastModifiedDateTime"],
                    }
                )
            body["warehouseDetails"] = details
        return plain(body)

    # -- generated parts of lists -------------------------------------------------------------------
    @staticmethod
    def _segment_passes(segment: Segment, filters: list[ChangeFilter]) -> bool:
        """Whether a segment's remaining items pass the change filters (they all share one moment)."""
        return all(f.accepts(segment.modified) for f in filters)

    def _generated_run(
        self,
        company: Company,
        passes: Callable[[dict[str, Any]], bool],
        number: str,
        *,
        segment_passes: Callable[[Segment], bool],
        needs_scan: bool,
    ) -> SegmentsRun:
        """The generated items a list shows: whole segments when only segment-wide filters apply,
        the one item when a number is asked for, else a scan."""
        segments = [s for s in company.segments if segment_passes(s)]
        if number:
            refs = []
            for segment in segments:
                index = segment.index_of(number)
                if index is not None and index not in segment.excluded_set:
                    item = self._generated_item(company, segment, index)
                    if passes(item):
                        refs.append((segment, index))
            return SegmentsRun([], refs)
        if not needs_scan:
            return SegmentsRun(segments)
        refs = []
        for segment in sorted(segments, key=lambda s: s.number(0)):
            for index in segment.remaining_from(0):
                if passes(self._generated_item(company, segment, index)):
                    refs.append((segment, index))
        return SegmentsRun([], refs)
