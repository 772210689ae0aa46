"""What the Norce simulator's APIs share: their paths, the order enums and small helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TOKEN_PATH = "/identity/1.0/connect/token"
QUERY_BASE = "/commerce/query/2.0"
CONNECT_BASE = "/commerce/connect/4.0"

QUERY_PAGE_SIZE = 500

ORDER_STATUSES: dict[str, int] = {
    "Created": 0,
    "Allocation": 1,
    "Confirmed": 2,
    "BackOrder": 3,
    "Delivered": 4,
    "Invoiced": 5,
    "Cancelled": 6,
    "CreditControl": 7,
    "PartlyDelivered": 8,
    "Acknowledged": 9,
    "ErpConfirmed": 10,
    "ReadyForPickup": 11,
    "PickedUp": 12,
    "NotPickedUp": 13,
    "OnHold": 14,
    "WaitingForCancel": 15,
    "WaitingForOnHoldRemoved": 16,
    "CancelError": 17,
    "AcknowledgementError": 18,
    "ReadyForReservation": 19,
    "Reserved": 20,
}
ORDER_STATUS_NAMES = {value: name for name, value in ORDER_STATUSES.items()}
ORDER_TYPES: dict[str, int] = {
    "Order": 1,
    "PurchaseOrder": 2,
    "RecurringOrder": 3,
    "RecurringOrderTemplate": 4,
    "ExternalOrder": 5,
}
# OrderItem.Type is a string in the contracts, so its integers are our choice: the
# SkuType numbers where the names match (ErpStandard 1, Freight 3, ...).
ITEM_TYPES: dict[str, int] = {
    "Undefined": 0,
    "ErpStandard": 1,
    "Refurbished": 2,
    "Freight": 3,
    "Insurance": 4,
    "GiftCertificate": 5,
    "Bid": 6,
    "Download": 7,
    "Structure": 8,
    "Invoice": 9,
}
# No integers are published for TypeGroup either; these follow the documented order.
ITEM_TYPE_GROUPS: dict[str, int] = {"Undefined": 0, "Physical": 1, "Virtual": 2, "Fee": 3, "Service": 4, "AddedFee": 5}


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision Query 2.0 renders."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def ci_get(data: dict[str, Any], name: str, default: Any = None) -> Any:
    """A JSON property by name, case-insensitively (as ASP.NET's model binding reads bodies)."""
    wanted = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return default
