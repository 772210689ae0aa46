"""Query 2.0 order polling: GET /commerce/query/2.0/Orders/Orders (OData: $filter,
$orderby, $top, $skip, $select, $count and $expand of Items, Buyer, Payer, ShipTo, Infos)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from simulators.base import Request, Response, Simulator
from simulators.norce.common import ITEM_TYPES, ORDER_TYPES, QUERY_BASE, QUERY_PAGE_SIZE
from simulators.norce.odata import FilterError, Row, _split_top_level, parse_filter, parse_orderby
from simulators.norce.orders import PAYMENT_METHODS

# Query 2.0 answers with lookup ids (Core/Currencies, Core/Countries); the ids are tenant
# specific, these are our simulated tenant's.
CURRENCY_IDS = {"SEK": 1, "NOK": 2, "DKK": 3, "EUR": 4}
COUNTRY_IDS = {"SE": 1, "NO": 2, "DK": 3, "FI": 4}


def format_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


class QueryOrders(Simulator):
    """The orders of `NorceSimulator` as Query 2.0 lists them."""

    # Query 2.0 order properties, in rendering order (the selectable ones).
    QUERY_ORDER_PROPERTIES = (
        "Id",
        "ClientId",
        "ApplicationId",
        "OrderNo",
        "ClientOrderRef",
        "QuotationId",
        "OrderDate",
        "Created",
        "Updated",
        "StatusId",
        "OrderTypeId",
        "CurrencyId",
        "CurrencyCode",
        "FreightCost",
        "OrderFee",
        "CashDiscount",
        "LineDiscount",
        "PaymentMethodId",
        "PaymentMethodCode",
        "DeliveryMode",
        "DeliveryCountryId",
        "DeliveryZipCode",
        "Source",
        "CustomerOrderReference",
        "BuyerCustomerId",
        "BuyerCompanyId",
        "BuyerCompanyCode",
        "IsForgotten",
    )

    QUERY_ITEM_PROPERTIES = (
        "Id",
        "OrderId",
        "LineNumber",
        "ParentLineNumber",
        "StatusId",
        "PartNo",
        "ProductName",
        "QtyOrdered",
        "CurrencyId",
        "VatRate",
        "PriceSale",
        "PriceStandard",
        "DiscountAmount",
        "DiscountPercentage",
        "LineAmount",
        "DeliveryMode",
        "SkuTypeId",
        "Type",
        "Created",
    )

    QUERY_ADDRESS_PROPERTIES = (
        "Id",
        "TypeId",
        "Name",
        "Attention",
        "CareOf",
        "Line1",
        "Line2",
        "ZipCode",
        "City",
        "Region",
        "CountryId",
        "Country",
        "EmailAddress",
        "PhoneNumber",
        "ShippingPhoneNumber",
        "CompanyCode",
        "CompanyName",
        "OrganizationNumber",
    )

    QUERY_INFO_PROPERTIES = ("Id", "OrderId", "Code", "Value")

    QUERY_EXPANDS = {
        "Items": QUERY_ITEM_PROPERTIES,
        "Buyer": QUERY_ADDRESS_PROPERTIES,
        "Payer": QUERY_ADDRESS_PROPERTIES,
        "ShipTo": QUERY_ADDRESS_PROPERTIES,
        "Infos": QUERY_INFO_PROPERTIES,
    }

    def _query_orders(self, request: Request) -> Response:
        application = request.header("applicationid") or request.header("application-id")
        if not application:
            return self.error_response(400, "The applicationId header is required")
        if not application.strip().isdigit() or int(application) != self.application_id:
            return self.error_response(400, f"Unknown application {application!r}")
        params = request.query
        supported = {"$filter", "$expand", "$orderby", "$top", "$skip", "$select", "$count"}
        unsupported = sorted(k for k in params if k.startswith("$") and k not in supported)
        if unsupported:
            return self.error_response(400, f"Query option {unsupported[0]} is not supported")
        try:
            predicate = parse_filter(params["$filter"]) if "$filter" in params else None
            order_by = parse_orderby(params.get("$orderby") or "Id")
            expand = self._parse_expand(params.get("$expand", ""))
            select = self._parse_select(params.get("$select", ""), self.QUERY_ORDER_PROPERTIES, "order")
            top = min(self._non_negative(params, "$top", QUERY_PAGE_SIZE), QUERY_PAGE_SIZE)
            skip = self._non_negative(params, "$skip", 0)
            count = params.get("$count", "false")
            if count not in ("true", "false"):
                raise FilterError("$count must be true or false")
        except FilterError as exc:
            return self.error_response(400, str(exc))

        with self.lock:
            rows = [(self._filter_row(order), order) for order in self.orders.values()]
            matching = [(row, order) for row, order in rows if predicate is None or predicate(row)]
            for field, descending in reversed(order_by):  # stable sorts, last key first; nulls sort low
                matching.sort(
                    key=lambda pair: (pair[0][field] is not None, pair[0][field] if pair[0][field] is not None else 0),
                    reverse=descending,
                )
            page = [
                self.render_query_order(order, expand=expand, select=select) for _, order in matching[skip : skip + top]
            ]
        base = f"http://{request.header('host') or f'{self.host}:{self.port}'}"
        body: dict[str, Any] = {"@odata.context": f"{base}{QUERY_BASE}/Orders/$metadata#Orders", "value": page}
        if count == "true":
            body["@odata.count"] = len(matching)
        if top and skip + top < len(matching):
            following = dict(params, **{"$skip": str(skip + top), "$top": str(top)})
            body["@odata.nextLink"] = f"{base}{request.path}?{urlencode(following, quote_via=quote, safe='$(),:')}"
        return Response(body=body)

    @staticmethod
    def _non_negative(params: dict[str, str], name: str, default: int) -> int:
        text = params.get(name)
        if text is None:
            return default
        if not text.isdigit():
            raise FilterError(f"{name} must be a non-negative integer")
        return int(text)

    @staticmethod
    def _parse_select(text: str, allowed: Sequence[str], what: str) -> list[str] | None:
        if not text.strip():
            return None
        names = [name.strip() for name in text.split(",")]
        for name in names:
            if name not in allowed:
                raise FilterError(f"$select: {what} has no property {name!r}")
        return names

    def _parse_expand(self, text: str) -> dict[str, list[str] | None]:
        """``Items,Buyer($select=EmailAddress,ZipCode)`` → {"Items": None, "Buyer": [...]}."""
        expand: dict[str, list[str] | None] = {}
        if not text.strip():
            return expand
        for part in _split_top_level(text):
            match = re.fullmatch(r"(\w+)(?:\((.*)\))?", part)
            if not match or match.group(1) not in self.QUERY_EXPANDS:
                raise FilterError(f"$expand: unknown navigation property {part!r}")
            name, options = match.groups()
            select = None
            if options is not None:
                option = re.fullmatch(r"\$select=(.+)", options.strip())
                if not option:
                    raise FilterError(f"$expand: only $select is supported inside {name}(...)")
                select = self._parse_select(option.group(1), self.QUERY_EXPANDS[name], name)
            expand[name] = select
        return expand

    def _filter_row(self, order: dict[str, Any]) -> Row:
        return {
            "Id": order["Id"],
            "ClientId": order["ClientId"],
            "ApplicationId": order["ApplicationId"],
            "StatusId": order["StatusId"],
            "QuotationId": self._quotation_id(order),
            "OrderNo": order["OrderNo"],
            "ClientOrderRef": order["ClientOrderRef"],
            "OrderDate": order["Created"],
            "Created": order["Created"],
            "Updated": order["Updated"],
        }

    @staticmethod
    def _quotation_id(order: dict[str, Any]) -> int | None:
        ref = str(order["ClientOrderRef"])
        return int(ref) if ref.isdigit() else None

    def render_query_order(
        self,
        order: dict[str, Any] | str,
        *,
        expand: dict[str, list[str] | None] | None = None,
        select: list[str] | None = None,
    ) -> dict[str, Any]:
        """An order as Query 2.0 returns it (PascalCase; navigation properties only when expanded).

        Field names beyond those seen on live tenants (see the spec notes) are our
        best reading of the 2.0 model: QuotationId, OrderTypeId, CurrencyCode,
        PaymentMethodCode, CustomerOrderReference and the Buyer company fields.
        """
        if isinstance(order, str):
            order = self.orders[order]
        expand = expand or {}
        items = order.get("Items", [])
        freight = sum(
            (
                _decimal(i.get("UnitPrice")) * int(i.get("Quantity", 0))
                for i in items
                if i.get("Type") in ("Freight", ITEM_TYPES["Freight"])
            ),
            Decimal(0),
        )
        line_discount = sum((_decimal(i.get("Discount")) * int(i.get("Quantity", 0)) for i in items), Decimal(0))
        payment = (order.get("Payments") or [{}])[0]
        method = payment.get("PaymentMethodCode")
        ship_to = order.get("ShipTo") or {}
        ship_address = (ship_to.get("Person") or {}).get("Address") or {}
        company = (order.get("SellTo") or {}).get("Company")
        header: dict[str, Any] = {
            "Id": order["Id"],
            "ClientId": order["ClientId"],
            "ApplicationId": order["ApplicationId"],
            "OrderNo": order["OrderNo"],
            "ClientOrderRef": order["ClientOrderRef"],
            "QuotationId": self._quotation_id(order),
            "OrderDate": format_datetime(order["Created"]),
            "Created": format_datetime(order["Created"]),
            "Updated": format_datetime(order["Updated"]),
            "StatusId": order["StatusId"],
            "OrderTypeId": ORDER_TYPES.get(order.get("OrderType"), order.get("OrderType")),
            "CurrencyId": CURRENCY_IDS.get(order.get("CurrencyCode", "SEK")),
            "CurrencyCode": order.get("CurrencyCode", "SEK"),
            "FreightCost": _money(freight),
            "OrderFee": 0.0,
            "CashDiscount": 0.0,
            "LineDiscount": _money(line_discount),
            "PaymentMethodId": PAYMENT_METHODS[method][0] if method in PAYMENT_METHODS else payment.get("PaymentCode"),
            "PaymentMethodCode": method,
            "DeliveryMode": (order.get("ShippingAdvice") or {}).get("DeliveryMethodCode"),
            "DeliveryCountryId": COUNTRY_IDS.get(ship_address.get("Country")),
            "DeliveryZipCode": ship_address.get("ZipCode"),
            "Source": order.get("Source", "WEB"),
            "CustomerOrderReference": order.get("CustomerOrderRef") or None,
            "BuyerCustomerId": None,  # guest checkout
            "BuyerCompanyId": self._company_id(company.get("Code")) if company else None,
            "BuyerCompanyCode": company.get("Code") if company else None,
            "IsForgotten": False,
        }
        rendered = {name: header[name] for name in select} if select else header
        if "Items" in expand:
            rendered["Items"] = [
                self._select(self._query_item(order, item, order["StatusId"]), expand["Items"]) for item in items
            ]
        for name, source, number in (("Buyer", "SellTo", 1), ("Payer", "BillTo", 2), ("ShipTo", "ShipTo", 3)):
            if name in expand:
                address = self._query_address(order, order.get(source), number)
                rendered[name] = self._select(address, expand[name]) if address else None
        if "Infos" in expand:
            rendered["Infos"] = [
                self._select(
                    {
                        "Id": order["Id"] * 100 + n,
                        "OrderId": order["Id"],
                        "Code": info.get("Code"),
                        "Value": info.get("Value"),
                    },
                    expand["Infos"],
                )
                for n, info in enumerate(order.get("Infos") or [], start=1)
            ]
        return rendered

    def _company_id(self, code: str | None) -> int:
        """Norce's id for a company, stable per company code."""
        with self.lock:
            return self._company_ids.setdefault(code or "", 3001 + len(self._company_ids))

    @staticmethod
    def _select(values: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
        return {name: values[name] for name in select} if select else values

    def _query_item(self, order: dict[str, Any], item: dict[str, Any], status: int) -> dict[str, Any]:
        quantity = int(item.get("Quantity") or 0)
        price, original, discount = (_decimal(item.get(k)) for k in ("UnitPrice", "UnitPriceOriginal", "Discount"))
        item_type = item.get("Type") or "ErpStandard"
        type_name = (
            item_type
            if isinstance(item_type, str)
            else next((name for name, number in ITEM_TYPES.items() if number == item_type), "Undefined")
        )
        return {
            "Id": item.get("Id"),
            "OrderId": order["Id"],
            "LineNumber": item.get("LineNo"),
            "ParentLineNumber": item.get("ParentLineNo"),
            "StatusId": item.get("StatusId", status),
            "PartNo": item.get("PartNo"),
            "ProductName": item.get("Description"),
            "QtyOrdered": quantity,
            "CurrencyId": CURRENCY_IDS.get(order.get("CurrencyCode", "SEK")),
            "VatRate": item.get("VatRate"),
            "PriceSale": _money(price),
            "PriceStandard": _money(original) if original else _money(price),
            "DiscountAmount": _money(discount * quantity),
            "DiscountPercentage": float((discount / original * 100).quantize(Decimal("0.01"))) if original else 0.0,
            "LineAmount": _money(price * quantity),
            "DeliveryMode": (order.get("ShippingAdvice") or {}).get("DeliveryMethodCode"),
            # Query 2.0's item type field is not confirmed: SkuTypeId is our guess, Type a readable hint.
            "SkuTypeId": ITEM_TYPES.get(type_name, 0),
            "Type": type_name,
            "Created": format_datetime(order.get("Created")),
        }

    @staticmethod
    def _query_address(order: dict[str, Any], customer: dict[str, Any] | None, number: int) -> dict[str, Any] | None:
        """Buyer/Payer/ShipTo from SellTo/BillTo/ShipTo. For companies Name is the company
        and Attention the contact; CompanyCode/CompanyName/OrganizationNumber are our
        names for the company data (2.0's spelling is unverified)."""
        if not customer:
            return None
        person = customer.get("Person") or {}
        company = customer.get("Company")
        address = person.get("Address") or {}
        person_name = " ".join(p for p in (person.get("FirstName"), person.get("LastName")) if p) or None
        country = address.get("Country")
        organisation = None
        if company:
            organisation = next(
                (
                    info.get("Value")
                    for info in company.get("AdditionalInfo") or []
                    if "organization" in str(info.get("Code2") or info.get("Code")).lower()
                ),
                None,
            )
        return {
            "Id": order["Id"] * 10 + number,
            "TypeId": number,
            "Name": company.get("Name") if company else person_name,
            "Attention": person_name if company else None,
            "CareOf": address.get("CareOf"),
            "Line1": address.get("Line1"),
            "Line2": address.get("Line2"),
            "ZipCode": address.get("ZipCode"),
            "City": address.get("City"),
            "Region": address.get("Region"),
            "CountryId": COUNTRY_IDS.get(country),
            "Country": country,
            "EmailAddress": person.get("Email"),
            "PhoneNumber": person.get("CellPhone") or person.get("PrivatePhone") or person.get("WorkPhone"),
            "ShippingPhoneNumber": address.get("ShippingPhoneNumber"),
            "CompanyCode": company.get("Code") if company else None,
            "CompanyName": company.get("Name") if company else None,
            "OrganizationNumber": organisation,
        }
