"""The OrderRequest push: each placed order POSTed to the configured order receiver (HTTP
Basic auth), retried until it answers ``{"StatusCode": "OK"}``."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from simulators.base import Simulator
from simulators.norce.common import ITEM_TYPE_GROUPS, ITEM_TYPES, ORDER_TYPES, ci_get

STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Norce retries a failed push "for a limited time"; the schedule is not documented.
# This is a plausible one: about four minutes in all.
DEFAULT_PUSH_RETRY_DELAYS: tuple[float, ...] = (1, 2, 5, 10, 30, 60, 120)


def camel_case(name: str) -> str:
    """PascalCase → camelCase the .NET way: "ClientOrderRef" → "clientOrderRef", "SSN" → "ssn"."""
    chars = list(name)
    for index, char in enumerate(chars):
        if not char.isupper():
            break
        if index > 0 and index + 1 < len(chars) and chars[index + 1].islower():
            break
        chars[index] = char.lower()
    return "".join(chars)


def camel_case_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {camel_case(k) if isinstance(k, str) else k: camel_case_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_case_keys(v) for v in value]
    return value


class OrderPush(Simulator):
    """The order receiver of `NorceSimulator` and the pushes it gets."""

    def configure_receiver(self, url: str, username: str, password: str) -> None:
        """Norce Admin > Client settings > ERP integration: endpoint type REST, URL and Basic auth."""
        with self.lock:
            self.receiver = {"url": url, "username": username, "password": password}

    def render_order_request(self, order: dict[str, Any] | str) -> dict[str, Any]:
        """The OrderRequest Norce pushes to the order receiver, in the current enum style and key case."""
        if isinstance(order, str):
            order = self.orders[order]
        ints = self.enum_style == "ints"

        def enum(table: dict[str, int], value: Any) -> Any:
            if ints and isinstance(value, str):
                return table.get(value, 0)
            if not ints and isinstance(value, int):
                return next((name for name, number in table.items() if number == value), str(value))
            return value

        items = []
        for item in order.get("Items", []):
            rendered = {
                key: item.get(key)
                for key in (
                    "LineNo",
                    "ParentLineNo",
                    "Type",
                    "TypeGroup",
                    "PartNo",
                    "ErpPartNo",
                    "Description",
                    "Quantity",
                    "Quantity2",
                    "UnitPrice",
                    "UnitPriceOriginal",
                    "Discount",
                    "UnitVat",
                    "VatRate",
                    "PriceListNo",
                )
            }
            if "VatRate" not in item:  # an incomplete line: the property is missing, not null
                del rendered["VatRate"]
            rendered["Type"] = enum(ITEM_TYPES, item.get("Type"))
            rendered["TypeGroup"] = enum(ITEM_TYPE_GROUPS, item.get("TypeGroup"))
            rendered["AdditionalInfo"] = copy.deepcopy(item.get("AdditionalInfo") or [])
            items.append(rendered)
        created: datetime = order["Created"]
        body = {
            "Header": {"ApplicationKey": self.application_key},
            "SellTo": copy.deepcopy(order.get("SellTo")),
            "BillTo": copy.deepcopy(order.get("BillTo")),
            "ShipTo": copy.deepcopy(order.get("ShipTo")),
            "SalesContactCode": order.get("SalesContactCode"),
            "SalesContactDivision": order.get("SalesContactDivision"),
            "DoHold": bool(order.get("DoHold", False)),
            "ClientOrderRef": str(order["ClientOrderRef"]),
            "ErpOrderNo": None,  # usually empty on the push
            "CustomerOrderRef": order.get("CustomerOrderRef") or "",
            "CustomerOrderComment": order.get("CustomerOrderComment") or "",
            # Undocumented format. Read as a .NET DateTime in the shop's local time
            # (Stockholm), serialised without an offset; the receiver assumes the same.
            "SubmitDate": created.astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M:%S"),
            "CurrencyCode": order.get("CurrencyCode", "SEK"),
            "ReferId": order.get("ReferId"),
            "OrderType": enum(ORDER_TYPES, order.get("OrderType", "Order")),
            "Source": order.get("Source", "WEB"),
            "DiscountCode": order.get("DiscountCode"),
            "Payments": copy.deepcopy(order.get("Payments") or []),
            "Discounts": copy.deepcopy(order.get("Discounts") or []),
            "Fees": copy.deepcopy(order.get("Fees") or []),
            "ShippingAdvice": copy.deepcopy(order.get("ShippingAdvice")),
            "Items": items,
            "AdditionalInfo": copy.deepcopy(order.get("AdditionalInfo") or []),
        }
        return camel_case_keys(body) if self.key_case == "camel" else body

    def push_order(self, client_order_ref: str) -> None:
        """Push (again) an order to the receiver in the background, with retries."""
        with self.lock:
            order = self.orders[client_order_ref]
            receiver = dict(self.receiver) if self.receiver else None
            if receiver is None:
                self.push_state[client_order_ref] = "not_configured"
                return
            if self._fault_fires("lose_pushes"):
                self.push_state[client_order_ref] = "lost"
                self.push_log.append(
                    {
                        "client_order_ref": client_order_ref,
                        "attempt": 0,
                        "duplicate": False,
                        "time": time.time(),
                        "status": None,
                        "result": "lost",
                        "detail": "",
                    }
                )
                return
            body = json.dumps(self.render_order_request(order), ensure_ascii=False, default=str).encode("utf-8")
            deliveries = 2 if self._fault_fires("duplicate_pushes") else 1
            self.push_state[client_order_ref] = "pending"
        self._in_background(self._deliver_push, client_order_ref, body, receiver, deliveries)

    def _deliver_push(self, ref: str, body: bytes, receiver: dict[str, Any], deliveries: int) -> None:
        for copy_no in range(deliveries):
            delivered = self._deliver(
                body,
                url=receiver["url"],
                auth=(receiver["username"], receiver["password"]),
                headers={},
                timeout=self.push_timeout,
                delays=self.push_retry_delays,
                log=self.push_log,
                entry={"client_order_ref": ref, "duplicate": copy_no > 0},
                accept=self._accept_order_response(ref),
            )
            with self.lock:
                if copy_no == 0 or delivered:
                    self.push_state[ref] = "delivered" if delivered else "failed"

    def _accept_order_response(self, ref: str) -> Callable[[requests.Response], tuple[bool, str]]:
        def accept(response: requests.Response) -> tuple[bool, str]:
            if not 200 <= response.status_code < 300:
                return False, "http_error"
            try:
                answer = response.json()
            except ValueError:
                return False, "failed"
            if not isinstance(answer, dict):
                return False, "failed"
            # Read case-insensitively, as Norce's .NET deserialiser would.
            if str(ci_get(answer, "StatusCode") or "").upper() != "OK":
                return False, "failed"
            erp_order_no = ci_get(answer, "ErpOrderNo")
            if erp_order_no and ci_get(answer, "HasErpOrderNo") is not False:
                # Whether this also replaces OrderNo is not documented; Query 3.0 says
                # OrderNo is the quotation id "unless overridden from the ERP", so it does.
                with self.lock:
                    order = self.orders.get(ref)  # None if the simulator was reset meanwhile
                    if order is not None:
                        order["ErpOrderNo"] = order["OrderNo"] = str(erp_order_no)
                        self._touch(order)
            return True, "ok"

        return accept
