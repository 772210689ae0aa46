"""Norce error codes, and the reading of Norce's error bodies.

Norce does not document the body of a 4xx/5xx answer. Seen in the field and in
the contracts: a Connect ``{"StatusCode": …, "Description": …}`` response, an
ASP.NET ``{"Message": …}`` (or camelCase ``message``), ASP.NET problem details
``{"title": …, "errors": {…}}``, OData's ``{"error": {"code", "message"}}``
(Query), the identity server's OAuth2 ``{"error": …,
"error_description": …}``, and plain text. `error_for` reads all of them.
"""

from __future__ import annotations

from typing import Any

from core.errors import HTTP_CLIENT_ERROR, HTTP_RATE_LIMITED, HTTP_SERVER_ERROR, SyncError, register

SYSTEM = "norce"

AUTH = register(
    "norce.auth",
    "Norce refused the API credentials",
    "Check client id/secret and scope (environment) on the Norce connector; the OAuth user also needs the "
    "Query and Connect resources enabled in Norce Admin (Settings > Users > OAUTH).",
    system=SYSTEM,
)
ORDER_NOT_FOUND = register(
    "norce.order_not_found",
    "Norce Query has no such order (yet)",
    "Transient for a while: a new order can take some minutes to be indexed in the Query API. "
    "If it never appears, check the order number and the application id on the Norce connector.",
    permanent=False,
    system=SYSTEM,
)
STATUS_REJECTED = register(
    "norce.status_rejected",
    "Norce rejected the order status update",
    "Read Norce's message. Usually the order number is unknown to Norce or the account id on the Norce "
    "connector is wrong; correct it and retry the record. The invoice itself was created.",
    system=SYSTEM,
)
APPLICATION_ID_MISSING = register(
    "norce.application_id_missing",
    "The Norce connector has no application id",
    "Set 'application_id' (a whole number, Norce Admin > Applications) in the Norce connector's settings.",
    system=SYSTEM,
)
RECEIVER_AUTH = register(
    "norce.receiver_auth",
    "An order push had wrong credentials",
    "The username/password in Norce Admin > Client settings > ERP integration must match the receiver "
    "username/password on the Norce connector.",
    system=SYSTEM,
)
VALIDATION = register(
    "norce.validation",
    "Norce rejected the request or a row of an import job as invalid",
    "Read Norce's message, which names the field; correct it in the ERP or in the connector or flow settings, "
    "then retry the record (a changed record is also sent again by itself).",
    system=SYSTEM,
)
# The order's life told back through the Connect Order service (deliveries, invoices, cancellations).
DELIVERY_REJECTED = register(
    "norce.delivery_rejected",
    "Norce refused the delivery note",
    "Read Norce's message, which names the field. Usually the order number is unknown to Norce (the order "
    "was never confirmed to Norce with the ERP's number) or an item's part number is not on the order; "
    "correct it in the ERP, then retry the record.",
    system=SYSTEM,
)
DELIVERY_STATUS_FAILED = register(
    "norce.delivery_status_failed",
    "Norce holds the delivery note, but the order status Delivered/PartlyDelivered was not set",
    "The delivery note is in Norce and is not sent again. Set the order's status in Norce Admin, or turn "
    "the flow setting set_delivery_status off if the delivery note alone sets it in your Norce.",
    system=SYSTEM,
)
INVOICE_REJECTED = register(
    "norce.invoice_rejected",
    "Norce refused the invoice",
    "Read Norce's message, which names the field. Usually the order (ClientOrderRef) is unknown to Norce, or "
    "the payment could not be captured at the PSP (turn suppress_psp_call on when the ERP captures); correct "
    "it, then retry the record.",
    system=SYSTEM,
)
CANCELLATION_REJECTED = register(
    "norce.cancellation_rejected",
    "Norce refused to cancel the order",
    "Read Norce's message. Usually the order (ClientOrderRef) is unknown to Norce or it can no longer be "
    "cancelled (already delivered or invoiced); cancel it in Norce Admin if it must be, then retry the record.",
    system=SYSTEM,
)
# Connect imports (asynchronous jobs).
IMPORT_REJECTED = register(
    "norce.import_rejected",
    "Norce refused an import request",
    "The message says which field or value Norce did not accept; correct it (or the flow's settings) and "
    "retry the records.",
    system=SYSTEM,
)
JOB_FAILED = register(
    "norce.job_failed",
    "Norce's import job failed",
    "Nothing to do: the records are sent again with the next run. To run the same job again, use "
    "Restart job on the Connect job (within two weeks).",
    permanent=False,
    system=SYSTEM,
)
JOB_RESTART_REFUSED = register(
    "norce.job_restart_refused",
    "Norce refused to restart the job",
    "Only finished jobs (succeeded or failed) younger than two weeks can be restarted; send the records "
    "again instead (Retry on the records).",
    system=SYSTEM,
)
ROW_IGNORED = register(
    "norce.row_ignored",
    "Norce skipped the row",
    "Usually the SKU does not exist in Norce yet (prices and stock need the product first). The row is sent "
    "again; after several attempts it waits for a person: sync the product, then Retry the record.",
    permanent=False,
    system=SYSTEM,
)

# Longest piece of an error body quoted in a message.
MAX_QUOTE = 300


def _ci(body: dict[str, Any], *names: str) -> Any:
    """The first non-empty value among `names`, matching keys case-insensitively."""
    lowered = {str(k).lower(): v for k, v in body.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value not in (None, "", [], {}):
            return value
    return None


def _flatten(value: Any) -> str:
    """A short human text for a string, a list of messages, or a field → messages mapping."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_flatten(v) for v in value)
    return str(value)


def describe(body: Any, text: str = "") -> str:
    """Norce's own words from an error body (parsed JSON or None) or its raw text."""
    if isinstance(body, dict):
        odata = _ci(body, "error")
        if isinstance(odata, dict):  # OData's {"error": {"code", "message", "details"}}
            body = odata
        parts: list[str] = []
        status = _ci(body, "StatusCode")
        description = _ci(body, "Description", "Message", "error_description", "title", "detail")
        if status is not None and description is not None:
            parts.append(f"{status}: {_flatten(description)}")
        elif description is not None:
            parts.append(_flatten(description))
        elif _ci(body, "error") is not None:
            parts.append(_flatten(_ci(body, "error")))
        for extra in ("errors", "ModelState", "ExceptionMessage"):
            if _ci(body, extra) is not None:
                parts.append(_flatten(_ci(body, extra)))
        summary = _ci(body, "ValidationSummary")
        if isinstance(summary, dict) and _ci(summary, "Messages"):
            parts.append(_flatten(_ci(summary, "Messages")))
        if parts:
            return " — ".join(parts)[:MAX_QUOTE]
    if isinstance(body, str) and body.strip():
        return body.strip()[:MAX_QUOTE]
    return (text or "").strip()[:MAX_QUOTE] or "no error text"


def error_for(status: int, body: Any, text: str = "") -> SyncError:
    """The SyncError for a failed Norce answer: `body` is the parsed JSON (or None), `text` the raw body."""
    said = describe(body, text)
    details = {"status": status, "norce_message": said}
    if status in (401, 403):
        return SyncError(AUTH.code, f"{status} from Norce: {said}", status=status, details=details)
    if status == 429:
        return SyncError(HTTP_RATE_LIMITED.code, f"429 from Norce: {said}", status=status, details=details)
    if status >= 500:
        return SyncError(HTTP_SERVER_ERROR.code, f"{status} from Norce: {said}", status=status, details=details)
    if status in (400, 422):
        return SyncError(VALIDATION.code, f"{status} from Norce: {said}", status=status, details=details)
    return SyncError(HTTP_CLIENT_ERROR.code, f"{status} from Norce: {said}", status=status, details=details)
