"""The bodies Brygga sends back to Norce: SendOrderStatusRequest and OrderResponse."""

from __future__ import annotations

from typing import Any

from connectors.norce.mapping import ORDER_STATUSES, enum_name


def status_request(
    client_order_ref: str,
    *,
    erp_order_no: str,
    status: str | int = "Confirmed",
    account_id: int | None = None,
) -> dict[str, Any]:
    """A Connect SendOrderStatusRequest telling Norce the ERP's number for the order.

    ClientOrderRef is an int in this contract (the basket id); a reference that
    is not numeric is sent as given and Norce's answer will say why it fails.
    """
    name = enum_name(status, ORDER_STATUSES, "OrderStatus")
    if name not in ORDER_STATUSES:
        raise ValueError(f"unknown Norce order status {status!r}")
    ref = str(client_order_ref).strip()
    body: dict[str, Any] = {
        "ClientOrderRef": int(ref) if ref.isdigit() else ref,
        "ErpOrderNo": erp_order_no,
        "OrderStatus": name,
        "Infos": [{"Code": "ErpRef", "Value": erp_order_no}],
    }
    if account_id is not None:
        body["AccountId"] = int(account_id)
    return body


def order_response(*, ok: bool, description: str, erp_order_no: str | None = None) -> dict[str, Any]:
    """The OrderResponse the order receiver answers a push with."""
    return {
        "StatusCode": "OK" if ok else "Failed",
        "Description": description,
        "HasErpOrderNo": bool(erp_order_no),
        "ErpOrderNo": erp_order_no or None,
    }
