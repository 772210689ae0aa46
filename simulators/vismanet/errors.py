"""Visma.net error answers: the IPPException body and the fault codes the simulator uses.

No error schema is published (the spec lists statuses only). The body is the one seen
in the wild from the ERP gateway, assumed unchanged behind the current gateway
(confidence M); the numeric codes besides 12027 are the simulator's own, agreed with
the connector, which also matches on the message text.
"""

from __future__ import annotations

import uuid
from typing import Any


class Fault:
    """ExceptionFaultCode values."""

    NO_LICENSE = "12027"  # 403: the token's tenant has no licence for a company
    CUSTOMER_NOT_FOUND = "10001"  # 400: "Customer 'X' not found"
    ITEM_NOT_FOUND = "10002"  # 400: "Inventory item 'X' not found"
    VAT_INVALID = "10003"  # 400: VAT code or category invalid
    BRANCH_INVALID = "10004"  # 400
    PERIOD_CLOSED = "10005"  # 400: "Financial period 'MMYYYY' is closed"
    VALIDATION = "10006"  # 400: any other validation error
    UNAUTHORIZED = "10401"  # 401: token missing, expired or revoked (simulator's own code)
    FORBIDDEN = "10403"  # 403: the token lacks the scope (simulator's own code)
    NOT_FOUND = "10404"  # 404
    CONFLICT = "10409"  # 409 (simulator's own code)
    GONE = "10410"  # 410: a background result older than 24 h (simulator's own code)
    PRECONDITION_FAILED = "10412"  # 412: stale If-Match
    PRECONDITION_REQUIRED = "10428"  # 428: If-Match missing on a V3 PATCH (simulator's own code)
    TOO_MANY_REQUESTS = "10429"  # 429
    INTERNAL = "10500"  # 500 (and the other 5xx)


DEFAULT_FAULT = {
    400: Fault.VALIDATION,
    401: Fault.UNAUTHORIZED,
    403: Fault.FORBIDDEN,
    404: Fault.NOT_FOUND,
    405: Fault.NOT_FOUND,
    409: Fault.CONFLICT,
    410: Fault.GONE,
    412: Fault.PRECONDITION_FAILED,
    428: Fault.PRECONDITION_REQUIRED,
    429: Fault.TOO_MANY_REQUESTS,
}


class ApiError(Exception):
    """Raised by handlers; answered as an IPPException body with `status`."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or DEFAULT_FAULT.get(status, Fault.INTERNAL)


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    """The IPPException body for an error answer."""
    code = code or DEFAULT_FAULT.get(status, Fault.INTERNAL)
    return {
        "ExceptionType": "IPPException",
        "ExceptionMessage": message,
        "ExceptionFaultCode": code,
        "ExceptionMessageID": f"{code}_{uuid.uuid4()}",
        "ExceptionDetails": "",
    }


def not_found(kind: str, key: str) -> ApiError:
    return ApiError(404, f"{kind} '{key}' not found", Fault.NOT_FOUND)


def customer_not_found(number: str) -> ApiError:
    return ApiError(400, f"Customer '{number}' not found", Fault.CUSTOMER_NOT_FOUND)


def item_not_found(number: str) -> ApiError:
    return ApiError(400, f"Inventory item '{number}' not found", Fault.ITEM_NOT_FOUND)


def validation(message: str) -> ApiError:
    return ApiError(400, message, Fault.VALIDATION)
