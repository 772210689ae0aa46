"""Stable error codes with hints, and the one exception type the engine understands.

Every failure that reaches a record carries a code from the catalogue. Connector
packages register their own codes (see connectors/<system>/errors.py); the admin
shows the whole catalogue.

Codes are of two kinds: errors (something did not happen; `permanent` ones need a
person, the rest are retried) and informational codes (`register(..., info=True)`):
outcomes worth a line on a record's timeline, such as "invoiced", that are no failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
INFO = "info"


@dataclass(frozen=True)
class ErrorCode:
    code: str
    title: str
    hint: str
    permanent: bool = True
    system: str = "brygga"
    # ERROR: a failure; INFO: an outcome or notice that needs nobody (never retried, never "needs attention").
    kind: str = ERROR

    @property
    def is_info(self) -> bool:
        return self.kind == INFO

    @property
    def kind_label(self) -> str:
        if self.is_info:
            return "Information"
        return "Permanent" if self.permanent else "Transient"


CATALOGUE: dict[str, ErrorCode] = {}


def register(
    code: str, title: str, hint: str, *, permanent: bool = True, system: str = "brygga", info: bool = False
) -> ErrorCode:
    """Add a code to the catalogue. `info=True` marks an outcome or notice rather than a failure."""
    entry = ErrorCode(
        code=code, title=title, hint=hint, permanent=permanent and not info, system=system, kind=INFO if info else ERROR
    )
    CATALOGUE[code] = entry
    return entry


def lookup(code: str) -> ErrorCode | None:
    return CATALOGUE.get(code)


class SyncError(Exception):
    """A failure on one record or one call. `permanent` errors need a person; the rest are retried."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        permanent: bool | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        entry = CATALOGUE.get(code)
        self.code = code
        self.message = message
        self.hint = hint if hint is not None else (entry.hint if entry else "")
        if permanent is None:
            permanent = entry.permanent if entry else True
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status
        self.details = details or {}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


ANSWER_LOST_CODES = frozenset({"http.timeout", "http.connection", "http.server_error", "http.bad_response"})


def answer_lost(error: SyncError) -> bool:
    """The request may have reached the system and done its work, but no clear answer came
    back (a timeout, a broken connection, a 5xx, an unreadable body): a create may exist."""
    return error.code in ANSWER_LOST_CODES or error.code.endswith(".server_error")


# --- Codes owned by Brygga itself ------------------------------------------------
HTTP_TIMEOUT = register(
    "http.timeout",
    "The API did not answer in time",
    "Transient: Brygga retries with backoff. If it persists, check the system's status page.",
    permanent=False,
)
HTTP_CONNECTION = register(
    "http.connection",
    "The API could not be reached",
    "Transient: Brygga retries with backoff. Check the connector's base URL if it never succeeds.",
    permanent=False,
)
HTTP_RATE_LIMITED = register(
    "http.rate_limited",
    "The API's rate limit was hit",
    "Transient: Brygga waits and retries. Nothing to do unless other tools share the same account.",
    permanent=False,
)
HTTP_SERVER_ERROR = register(
    "http.server_error",
    "The API answered with a server error (5xx)",
    "Transient: Brygga retries with backoff.",
    permanent=False,
)
HTTP_CLIENT_ERROR = register(
    "http.client_error",
    "The API rejected the request (4xx)",
    "Read the message from the API; correct the data or the flow settings and retry the record.",
)
HTTP_BAD_RESPONSE = register(
    "http.bad_response",
    "The API answered with a body Brygga cannot read",
    "Transient: Brygga retries. If it persists, the API may have changed; report it.",
    permanent=False,
)
# No longer raised (a system's own auth code is); kept so older records still explain their code.
AUTH_FAILED = register(
    "auth.failed",
    "Authentication with the API failed",
    "Check the connector's credentials in admin and press 'Test connection'.",
)
CONNECTOR_MISSING = register(
    "config.connector_missing",
    "The integration lacks a connector",
    "Add the commerce and the ERP connector to the integration in admin.",
)
CONNECTOR_SETTINGS = register(
    "config.connector_settings",
    "The connector's settings are invalid",
    "Open the connector in admin and correct the setting named in the message, then press 'Test connection'.",
)
FLOW_SETTINGS = register(
    "config.flow_settings",
    "The flow's settings are invalid",
    "Open the flow in admin and correct the settings named in the message.",
)
ORDER_MALFORMED = register(
    "order.malformed",
    "The order could not be read",
    "The order body is kept under Webhook deliveries. Check what the webshop sent; fix the source and push again.",
)
ORDER_MISSING_DATA = register(
    "order.missing_data",
    "The order lacks data needed for the invoice",
    "Complete the named field in Norce (or map a fallback in the flow settings), then retry the record.",
)
ORDER_MISSING_VAT = register(
    "order.missing_vat",
    "An order line has no VAT rate",
    "Set the VAT rate on the product in Norce, then retry the record.",
)
ORDER_TOTAL_MISMATCH = register(
    "order.total_mismatch",
    "The invoice total differs from the order total",
    "Compare the order and invoice rows; usually a rounding or VAT setup difference in the ERP. Correct it and retry.",
)
ORDER_EXCLUDED = register(
    "order.excluded",
    "The order is older than the integration's exclusion date",
    "Nothing to do: orders before the go-live date are not synced. Move the exclusion date in admin to include it.",
    info=True,
)
INTEGRATION_PAUSED = register(
    "integration.paused",
    "The integration is paused",
    "Set the integration to Active in admin; queued records then sync.",
    permanent=False,
)
TASK_INTERRUPTED = register(
    "task.interrupted",
    "The run was interrupted before it ended",
    "Run the same command (or press 'Run now') again: it resumes where it stopped.",
    permanent=False,
)
TASK_UNFINISHED = register(
    "task.unfinished",
    "A full file is still on its way",
    "Run the same command again to follow it to the end; its jobs are listed under Connect jobs.",
    permanent=False,
)
UNEXPECTED = register(
    "internal.unexpected",
    "An unexpected error occurred",
    "Transient until proven otherwise: Brygga retries. If it repeats, report it with the task id.",
    permanent=False,
)
ORDER_ALREADY_SYNCED = register(
    "order.already_synced",
    "The order already has an invoice",
    "Nothing to do: the Reference links it. Delete the Reference to invoice it again.",
    info=True,
)
ORDER_FOUND_BY_POLL = register(
    "order.found_by_poll",
    "An order was found by the fail-safe poll",
    "Norce's push and event for it did not arrive. Check the ERP integration and event settings in Norce admin.",
    info=True,
)
ORDER_INVOICE_FOUND = register(
    "order.invoice_found",
    "The invoice already existed in the ERP and was linked",
    "Nothing to do: an earlier attempt created it; Brygga linked it instead of creating a second one.",
    info=True,
)
ORDER_CREATE_UNCONFIRMED = register(
    "order.create_unconfirmed",
    "An invoice create got no clear answer; Brygga waits for the ERP to commit it",
    "Nothing to do: the ERP may still be saving the invoice. Brygga creates nothing for the order until the "
    "connector's commit wait has passed, then looks it up and links it, or creates it if it is not there.",
    info=True,
)
ORDER_DUPLICATE_INVOICE = register(
    "order.duplicate_invoice",
    "The ERP holds more than one live invoice for one order",
    "Open the record and press 'Credit the extra invoice': the invoice the order is linked to stays, the extra one "
    "is cancelled (unbooked) or credited (booked) in the ERP. Compare both in the ERP first if unsure.",
)
ORDER_CREDIT_UNCONFIRMED = register(
    "order.credit_unconfirmed",
    "A credit of an extra invoice got no clear answer from the ERP",
    "Wait for the time named on the record, then press 'Credit the extra invoice' again: Brygga reads the invoice "
    "first and credits it only if it is still live.",
    info=True,
)
ORDER_RECONCILED = register(
    "order.reconciled",
    "Brygga compared the ERP's recently changed invoices with the orders",
    "Nothing to do: an order with more than one live invoice is flagged on the order itself.",
    info=True,
)
ORDER_EXTRA_CREDITED = register(
    "order.extra_invoice_credited",
    "Staff credited or cancelled an extra invoice for the order",
    "Nothing to do: the order keeps the invoice it is linked to.",
    info=True,
)
ORDER_DUPLICATE_TARGET = register(
    "order.duplicate_target",
    "Two invoices exist for one order",
    "Cancel the extra invoice in the ERP; the Reference keeps the first one.",
)
RECONNECT_NEEDED = register(
    "connector.reconnect_needed",
    "A connector must be connected again before the integration can go on",
    "The system no longer accepts Brygga's authorisation. Open the connector in Brygga admin and connect it "
    "again (Fortnox: 'Connect to Fortnox', approved by a Fortnox administrator). Nothing is lost meanwhile: "
    "the integration's tasks wait without spending attempts and go on by themselves once it is connected.",
    permanent=False,
)
TASK_STUCK = register(
    "task.stuck",
    "A task stopped reporting progress and was queued again",
    "Nothing to do: records already in the target system are recognised, not created twice.",
    info=True,
)
RECEIVER_AUTH = register(
    "receiver.auth",
    "A push or event was refused: wrong credentials",
    "Compare the username/password (or event secret header) in Norce admin with the Norce connector in Brygga.",
)
ORDER_VAT_ROUNDING = register(
    "order.vat_rounding",
    "The ERP rounded VAT differently; the total is exact",
    "Nothing to do: the gross total matches to the öre; VAT differs only by rounding.",
    info=True,
)
ORDER_ACKNOWLEDGED = register(
    "order.acknowledged", "Norce was told the order is Confirmed with the invoice number", "Nothing to do.", info=True
)
ORDER_INVOICED = register("order.invoiced", "The order became an invoice in the ERP", "Nothing to do.", info=True)
TASK_BUSY = register(
    "task.busy",
    "The same kind of work is already running; this task waits its turn",
    "Nothing to do: it runs again shortly.",
    info=True,
)
REFERENCE_DELETED = register(
    "reference.deleted",
    "A reference was deleted by staff",
    "The next sync looks the source up in the target system: a live record is linked again, otherwise a new one "
    "is created.",
    info=True,
)
ORDER_RELINKED = register(
    "order.relinked",
    "A live invoice for the order was found in the ERP and linked again",
    "Nothing to do: the order had no reference, so Brygga looked it up and re-linked the live "
    "invoice instead of creating a second one. To invoice it anew anyway, use 'Create a new "
    "invoice anyway' on the record.",
    info=True,
)
ORDER_CREATE_ANYWAY = register(
    "order.create_anyway",
    "Staff asked for a new invoice although a live one exists",
    "Nothing to do: the next run creates a new invoice; the earlier one stays in the ERP "
    "until someone cancels or credits it there.",
    info=True,
)
STAFF_ACTION = register("staff.action", "A staff member acted on the record", "Nothing to do.", info=True)
REFERENCE_SAVED = register(
    "reference.saved",
    "A reference was added or changed by staff",
    "Nothing to do: the record is linked to the target named in the message.",
    info=True,
)
EVENT_MALFORMED = register(
    "event.malformed",
    "A Norce event could not be read",
    "The body is kept under Webhook deliveries. Check the event settings in Norce admin; "
    "orders it named are still found by the fail-safe poll.",
)

# -- master data: an item of the ERP that cannot go to the webshop (that record fails; the others go on)
PRODUCT_INVALID = register(
    "product.invalid",
    "Article cannot be sent to the webshop",
    "Correct the article in the ERP (the message names the field); it is sent with the next run.",
)
PRODUCT_VAT_MISSING = register(
    "product.vat_missing",
    "Article has no VAT rate",
    "Set the article's VAT (25, 12, 6 or 0) in the ERP; it is sent with the next run.",
)
PRICE_INVALID = register(
    "price.invalid",
    "Price cannot be sent to the webshop",
    "Correct the price in the ERP (a number ≥ 0); it is sent with the next run.",
)
STOCK_INVALID = register(
    "stock.invalid",
    "Stock value cannot be sent to the webshop",
    "Correct the article's stock in the ERP; it is sent with the next run.",
)
CUSTOMER_INVALID = register(
    "customer.invalid",
    "Customer cannot be sent to the webshop",
    "Correct the customer in the ERP (the message names the field); it is sent with the next run.",
)
