"""Visma.net error codes and the translation of Visma.net error bodies into SyncErrors.

The API answers failures with an IPPException body: ``{"ExceptionType": "IPPException",
"ExceptionMessage": text, "ExceptionFaultCode": "12027", "ExceptionMessageID": "12027_<guid>",
"ExceptionDetails": ""}``; some gateways answer a lowercase ``{"message": text}``. The fault code
decides where it is known; otherwise the message text (English) is matched. Visma Connect's token
endpoint answers OAuth2 JSON (``{"error", "error_description"}``).
"""

from __future__ import annotations

from typing import Any

from core.errors import SyncError, register

SYSTEM = "vismanet"

CUSTOMER_NOT_FOUND = register(
    "vismanet.customer_not_found",
    "The customer does not exist in Visma.net",
    "Check the customer number in Visma.net (Sales → Customers). If the flow uses a default customer, correct "
    "'default_customer_number' in the flow settings in Brygga admin; then retry the record.",
    system=SYSTEM,
)
INVENTORY_ITEM_NOT_FOUND = register(
    "vismanet.inventory_item_not_found",
    "An article on the order does not exist as an inventory item in Visma.net",
    "Create the inventory item in Visma.net (Inventory → Items) with exactly the number named in the message, or "
    "set the flow's 'unknown_article' to 'description_row' in Brygga admin; then retry the record.",
    system=SYSTEM,
)
VAT_CODE = register(
    "vismanet.vat_code",
    "The VAT code or VAT category is not valid in Visma.net",
    "Check that the company has a sales VAT code for the rate named in the message (Visma.net: VAT codes), or map "
    'the rate in the connector\'s \'vat_codes\' setting (e.g. {"25": "MP1"}); then retry the record.',
    system=SYSTEM,
)
BRANCH = register(
    "vismanet.branch",
    "The branch is not valid in Visma.net",
    "Correct the connector's 'branch' setting to a branch number of the company (or leave it empty for the "
    "company's default branch), then retry the record.",
    system=SYSTEM,
)
PERIOD_CLOSED = register(
    "vismanet.period_closed",
    "The financial period of the document is closed in Visma.net",
    "Open the financial period named in the message in Visma.net (General ledger → Financial periods), or ask the "
    "accountant to; then retry the record.",
    system=SYSTEM,
)
NO_LICENCE = register(
    "vismanet.no_licence",
    "Visma.net has no licence for this company for Brygga's application",
    "The tenant id does not give access to this company (Visma fault 12027). Enter the customer contract tenant "
    "of the company in the connector's 'tenant_id', and make sure the application is activated for the company in "
    "the Visma App Store / Developer Portal; then press 'Test connection'.",
    system=SYSTEM,
)
AUTH = register(
    "vismanet.auth",
    "Visma.net refused Brygga's credentials",
    "Check the Visma.net connector's client id, client secret, tenant id and scopes in Brygga admin, then press "
    "'Test connection'.",
    system=SYSTEM,
)
PRECONDITION_FAILED = register(
    "vismanet.precondition_failed",
    "The Visma.net document changed while Brygga was updating it",
    "Transient: Brygga reads the document again and retries. If it repeats, someone keeps editing the document.",
    permanent=False,
    system=SYSTEM,
)
RATE_LIMITED = register(
    "vismanet.rate_limited",
    "Visma.net's hourly rate limit for the company was reached",
    "Transient: Brygga waits until Visma.net's window resets. Lower 'requests_per_hour' on the connector if other "
    "integrations use the same application and company.",
    permanent=False,
    system=SYSTEM,
)
VALIDATION = register(
    "vismanet.validation",
    "Visma.net rejected the data",
    "Read Visma.net's message: correct the data in Norce, the Visma.net setup or the settings in Brygga admin, "
    "then retry the record.",
    system=SYSTEM,
)
NOT_FOUND = register(
    "vismanet.not_found",
    "The record does not exist in Visma.net",
    "Check in Visma.net whether the record was deleted. Unlink it under References in Brygga admin if so, "
    "then retry the record.",
    system=SYSTEM,
)
SERVER_ERROR = register(
    "vismanet.server_error",
    "Visma.net answered with a server error",
    "Transient: Brygga retries with backoff. If it persists for hours, check Visma's status page.",
    permanent=False,
    system=SYSTEM,
)
BACKGROUND_FAILED = register(
    "vismanet.background_failed",
    "A Visma.net background request failed or its result is gone",
    "Transient: Brygga sends the request again later. If it repeats, read the message for Visma.net's reason.",
    permanent=False,
    system=SYSTEM,
)
RELEASE_PENDING = register(
    "vismanet.release_pending",
    "Visma.net has not finished releasing the invoice yet",
    "Transient: Visma.net queued the release; Brygga reads the invoice again later.",
    permanent=False,
    system=SYSTEM,
)
SHIPMENT_MALFORMED = register(
    "vismanet.shipment_malformed",
    "A Visma.net shipment could not be read",
    "The message names the field that broke; correct the shipment in Visma.net. The other documents go on.",
    system=SYSTEM,
)
INVOICE_MALFORMED = register(
    "vismanet.invoice_malformed",
    "A Visma.net customer invoice could not be read",
    "The message names the field that broke; correct the invoice in Visma.net. The other documents go on.",
    system=SYSTEM,
)
SALES_ORDER_MALFORMED = register(
    "vismanet.sales_order_malformed",
    "A Visma.net sales order could not be read",
    "The message names the field that broke; correct the sales order in Visma.net. The other documents go on.",
    system=SYSTEM,
)
NOTIFICATION_MALFORMED = register(
    "vismanet.notification_malformed",
    "A Visma.net webhook notification could not be read",
    "The body is kept under Webhook deliveries. Check the subscription in the Visma Developer Portal; the flows' "
    "scheduled polls still find what it named.",
    system=SYSTEM,
)

# ExceptionFaultCode → our code (the codes Visma.net and the wire contract use).
FAULT_CODES: dict[str, str] = {
    "12027": NO_LICENCE.code,
    "10001": CUSTOMER_NOT_FOUND.code,
    "10002": INVENTORY_ITEM_NOT_FOUND.code,
    "10003": VAT_CODE.code,
    "10004": BRANCH.code,
    "10005": PERIOD_CLOSED.code,
    "10006": VALIDATION.code,
    "10404": NOT_FOUND.code,
    "10412": PRECONDITION_FAILED.code,
    "10429": RATE_LIMITED.code,
    "10500": SERVER_ERROR.code,
}

# Message fragments (lower case) for answers without a fault code; the more specific first.
TEXTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("no license", "no licence"), NO_LICENCE.code),
    (("token", "companyincontext", "unauthori"), AUTH.code),
    (("inventory item", "inventoryitem", "inventory '"), INVENTORY_ITEM_NOT_FOUND.code),
    (("customer '", "customer not found", "customer was not found"), CUSTOMER_NOT_FOUND.code),
    (("financial period", "period is closed", "closed period"), PERIOD_CLOSED.code),
    (("vat code", "vatcode", "vat category", "tax category", "vat id"), VAT_CODE.code),
    (("branch",), BRANCH.code),
)


def exception_body(body: Any) -> tuple[str, str]:
    """(fault code, message) of an IPPException body or a lowercase {"message"} body."""
    if not isinstance(body, dict):
        return "", ""
    message = body.get("ExceptionMessage") or body.get("message") or body.get("Message") or ""
    fault = body.get("ExceptionFaultCode")
    if fault in (None, "") and isinstance(body.get("ExceptionMessageID"), str):
        fault = body["ExceptionMessageID"].split("_", 1)[0]
    return ("" if fault in (None, "") else str(fault).strip()), str(message).strip()


def code_for(status: int, fault: str, message: str) -> str:
    if fault in FAULT_CODES and not (fault == "10404" and status != 404):
        return FAULT_CODES[fault]
    lowered = message.lower()
    if status == 429:
        return RATE_LIMITED.code
    if status == 412:
        return PRECONDITION_FAILED.code
    if status >= 500:
        return SERVER_ERROR.code
    for fragments, code in TEXTS:
        if any(fragment in lowered for fragment in fragments):
            if code == AUTH.code and status not in (401, 403):
                continue
            return code
    if status in (401, 403):
        return AUTH.code
    return NOT_FOUND.code if status == 404 else VALIDATION.code


def error_for(status: int, body: Any, text: str) -> SyncError:
    """A failed Visma.net API answer as a SyncError with one of our codes.

    5xx, 412 and 429 are transient; other statuses take their catalogue entry's permanence."""
    fault, message = exception_body(body)
    if not message:
        message = (text or "").strip()[:300] or f"HTTP {status} without a message"
    code = code_for(status, fault, message)
    permanent: bool | None = False if status >= 500 or status in (412, 429) else None
    suffix = f" (Visma.net fault {fault})" if fault else ""
    return SyncError(
        code,
        f"Visma.net: {message}{suffix}",
        permanent=permanent,
        status=status,
        details={"vismanet_fault": fault, "vismanet_message": message, "http_status": status},
    )


def token_error_for(status: int, body: Any, text: str) -> SyncError:
    """Visma Connect's token endpoint refusing (``{"error", "error_description"}``)."""
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "")
    description = str(body.get("error_description") or "")
    details = {"oauth_error": error, "oauth_error_description": description, "http_status": status}
    if not error and status >= 500:
        return SyncError(SERVER_ERROR.code, f"Visma Connect answered {status}", status=status, details=details)
    detail = f"{error}: {description}" if description else error or (text or "").strip()[:200] or f"HTTP {status}"
    if error == "invalid_tenant":
        return SyncError(
            NO_LICENCE.code,
            f"Visma Connect does not know the tenant for this application ({detail})",
            permanent=True,
            status=status,
            details=details,
        )
    return SyncError(
        AUTH.code, f"Visma Connect refused the token request ({detail})", permanent=True, status=status, details=details
    )
