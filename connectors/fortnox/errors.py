"""Fortnox error codes and the translation of Fortnox error bodies into SyncErrors.

Fortnox answers failures with ``{"ErrorInformation": {"error", "message", "code"}}``.
The docs show lower-case inner keys, the OpenAPI spec capitalised ones
(``Error/Message/Code``); both are read. Messages are often Swedish, and some
failures have no documented code, so a few message fragments are matched too.
The OAuth token endpoint answers OAuth2 JSON instead: ``{"error", "error_description"}``.
"""

from __future__ import annotations

from typing import Any

from core.errors import SyncError, register

SYSTEM = "fortnox"
RECONNECT = "Reconnect Fortnox: open the connector in admin and press 'Connect to Fortnox'"

ARTICLE_NOT_FOUND = register(
    "fortnox.article_not_found",
    "An article on the order does not exist in Fortnox",
    "Create the article in Fortnox (Register → Artiklar) with exactly the part number named in the message, "
    "or set the flow's 'unknown_article' to 'description_row' in Brygga admin; then retry the record.",
    system=SYSTEM,
)
CUSTOMER_NOT_FOUND = register(
    "fortnox.customer_not_found",
    "The customer does not exist in Fortnox",
    "Check the customer number in Fortnox (Register → Kunder). If the flow uses a default customer, correct "
    "'default_customer_number' in the flow settings in Brygga admin; then retry the record.",
    system=SYSTEM,
)
CUSTOMER_NAME_EMPTY = register(
    "fortnox.customer_name_empty",
    "Fortnox needs a name for the customer",
    "The buyer has no name in Norce. Add the name to the customer in Norce, then retry the record.",
    system=SYSTEM,
)
VAT_NOT_SET_UP = register(
    "fortnox.vat_not_set_up",
    "The VAT rate is not set up in Fortnox",
    "In Fortnox open Inställningar → Bokföring and make sure the VAT rate named in the message (25, 12 or 6 %) "
    "has a sales account (with EasyVat on, every rate needs an account); then retry the record.",
    system=SYSTEM,
)
CURRENCY_NOT_SET_UP = register(
    "fortnox.currency_not_set_up",
    "The order's currency is not set up in Fortnox",
    "In Fortnox open Register → Valutor and add the currency of the order, then retry the record.",
    system=SYSTEM,
)
ACCOUNT_NOT_FOUND = register(
    "fortnox.account_not_found",
    "A bookkeeping account does not exist in Fortnox",
    "Fortnox cannot find an account used by the invoice (a row account, the freight or sales account in the flow "
    "settings, or a predefined account). Activate the account in Fortnox (Bokföring → Kontoplan) or change the "
    "account in the flow settings in Brygga admin; then retry the record.",
    system=SYSTEM,
)
FISCAL_YEAR_MISSING = register(
    "fortnox.fiscal_year_missing",
    "No financial year in Fortnox covers the invoice date",
    "In Fortnox open Inställningar → Räkenskapsår and create the financial year that contains the order date, "
    "then retry the record.",
    system=SYSTEM,
)
INVALID_REFRESH_TOKEN = register(
    "fortnox.invalid_refresh_token", "Fortnox no longer accepts Brygga's authorisation", RECONNECT + ".", system=SYSTEM
)
NOT_CONNECTED = register(
    "fortnox.not_connected",
    "The Fortnox connector has not been connected yet",
    "Press 'Connect to Fortnox' on the connector in Brygga admin and approve access as a Fortnox administrator.",
    system=SYSTEM,
)
NO_SCOPE = register(
    "fortnox.no_scope",
    "Brygga lacks permission (scope) for this part of Fortnox",
    RECONNECT + " so the integration is approved with all scopes Brygga asks for.",
    system=SYSTEM,
)
NO_LICENCE = register(
    "fortnox.no_licence",
    "The Fortnox company lacks the licence this call needs",
    "Ask the company to activate the needed Fortnox module (e.g. Fakturering) and the API/integration licence "
    "in Fortnox (Mina sidor → Tillägg), then retry the record.",
    system=SYSTEM,
)
INVALID_FIELD = register(
    "fortnox.invalid_field",
    "Fortnox rejected a field name Brygga sent",
    "Fortnox has probably changed its API. Report it to the Brygga maintainers with the record's details.",
    system=SYSTEM,
)
JSON_SYNTAX = register(
    "fortnox.json_syntax",
    "Fortnox could not read the request body",
    "Report it to the Brygga maintainers with the record's details; retrying will not help.",
    system=SYSTEM,
)
CUSTOMER_NUMBER_USED = register(
    "fortnox.customer_number_used",
    "The customer number is already used in Fortnox",
    "A customer number is reserved in Fortnox even after deletion. Link the order to the existing customer or "
    "let Fortnox number new customers, then retry the record.",
    system=SYSTEM,
)
DOCUMENT_LOCKED = register(
    "fortnox.document_locked",
    "The Fortnox invoice is booked and can no longer be changed",
    "Nothing can be changed on a booked invoice. Credit it in Fortnox and let Brygga create a new one, "
    "or mark the record as handled in Brygga admin.",
    system=SYSTEM,
)
NOT_FOUND = register(
    "fortnox.not_found",
    "The record does not exist in Fortnox",
    "Check in Fortnox whether the record was deleted. Unlink it under References in Brygga admin if so, "
    "then retry the record.",
    system=SYSTEM,
)
VALIDATION = register(
    "fortnox.validation",
    "Fortnox rejected the data",
    "Read Fortnox's message: correct the data in Norce, the Fortnox setup or the flow settings in Brygga admin, "
    "then retry the record.",
    system=SYSTEM,
)
INVOICE_UNREADABLE = register(
    "fortnox.invoice_unreadable",
    "A Fortnox invoice could not be read to tell the webshop",
    "The message names the field of the invoice that is missing or not a number. Correct the invoice in "
    "Fortnox (or credit it and invoice again); the next run reads it again, or press Retry on the record.",
    system=SYSTEM,
)
SYSTEM_EXCEPTION = register(
    "fortnox.system_exception",
    "Fortnox had an internal error",
    "Transient: Brygga retries with backoff. If it persists for hours, check status.fortnox.se.",
    permanent=False,
    system=SYSTEM,
)
SERVER_ERROR = register(
    "fortnox.server_error",
    "Fortnox answered with a server error",
    "Transient: Brygga retries with backoff. If it persists for hours, check status.fortnox.se.",
    permanent=False,
    system=SYSTEM,
)
AUTH = register(
    "fortnox.auth",
    "Fortnox refused Brygga's credentials",
    "Check the Fortnox connector's client id and secret in Brygga admin. If they are right, reconnect Fortnox: "
    "open the connector in admin, press 'Connect to Fortnox' and approve as a Fortnox administrator.",
    system=SYSTEM,
)

# Documented or widely seen ErrorInformation codes → our codes.
CODES: dict[int, str] = {
    1000003: SYSTEM_EXCEPTION.code,
    2000310: AUTH.code,
    2000311: AUTH.code,
    2000204: CUSTOMER_NOT_FOUND.code,
    2000433: CUSTOMER_NOT_FOUND.code,
    2000423: ACCOUNT_NOT_FOUND.code,
    2001304: ACCOUNT_NOT_FOUND.code,
    2001265: ACCOUNT_NOT_FOUND.code,
    2001302: ARTICLE_NOT_FOUND.code,
    2000428: ARTICLE_NOT_FOUND.code,
    2000637: CUSTOMER_NUMBER_USED.code,
    2000663: NO_SCOPE.code,
    2001101: NO_LICENCE.code,
    2001103: NO_LICENCE.code,
    2001399: INVALID_FIELD.code,
    2001392: JSON_SYNTAX.code,
    2002115: JSON_SYNTAX.code,
    2004167: VAT_NOT_SET_UP.code,
}

# Message fragments (lower case) for failures without a documented code. Checked
# in order, so the more specific fragments come first ("fältnamn" before "namn").
TEXTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("fältnamn", "field name"), INVALID_FIELD.code),
    (("räkenskapsår", "financial year", "fiscal year"), FISCAL_YEAR_MISSING.code),
    (("kan inte hitta kunden", "kunde inte hitta kund", "customer not found"), CUSTOMER_NOT_FOUND.code),
    # "hitta artikel" rather than "artikel": "Artikelnummer … används redan" is not a missing article.
    (("hitta artikel", "article not found", "find article"), ARTICLE_NOT_FOUND.code),
    (("moms", "vat rate", "vat code"), VAT_NOT_SET_UP.code),
    (("valuta", "currency"), CURRENCY_NOT_SET_UP.code),
    (("kontot", "account not found", "find account"), ACCOUNT_NOT_FOUND.code),
    (
        ("är bokförd", "redan bokförd", "bokförd faktura", "makulerad och kan inte ändras", "is booked"),
        DOCUMENT_LOCKED.code,
    ),
)


def error_information(body: Any) -> tuple[int | None, str]:
    """(Fortnox code, message) from an ErrorInformation body in either key casing."""
    info = body.get("ErrorInformation") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return None, ""
    code = info.get("code", info.get("Code"))
    message = info.get("message", info.get("Message")) or ""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    return number, str(message)


def _code_for_text(message: str) -> str | None:
    lowered = message.lower()
    if "kund" in lowered and "namn" in lowered and "fält" not in lowered:
        return CUSTOMER_NAME_EMPTY.code
    for fragments, code in TEXTS:
        if any(fragment in lowered for fragment in fragments):
            return code
    return None


def _code_for(status: int, number: int | None, message: str) -> str:
    if number in CODES:
        return CODES[number]
    if status in (401, 403):
        return AUTH.code
    if status >= 500:
        return SERVER_ERROR.code
    by_text = _code_for_text(message)
    if by_text:
        return by_text
    return NOT_FOUND.code if status == 404 else VALIDATION.code


def error_for(status: int, body: dict[str, Any] | None, text: str) -> SyncError:
    """Translate a failed Fortnox API answer into a SyncError with one of our codes.

    400/404 are permanent; 1000003 and 5xx are transient; everything else takes
    the permanence of its catalogue entry.
    """
    number, message = error_information(body)
    if not message:
        message = (text or "").strip()[:300] or f"HTTP {status} without a message"
    code = _code_for(status, number, message)
    permanent: bool | None = None
    if code == SYSTEM_EXCEPTION.code or status >= 500:
        permanent = False
    elif status in (400, 404):
        permanent = True
    suffix = f" (Fortnox code {number})" if number is not None else ""
    return SyncError(
        code,
        f"Fortnox: {message}{suffix}",
        permanent=permanent,
        status=status,
        details={"fortnox_code": number, "fortnox_message": message, "http_status": status},
    )


def oauth_error_for(status: int, body: dict[str, Any] | None, text: str, *, grant_type: str = "") -> SyncError:
    """Translate an OAuth2 error from the token endpoint (``{"error", "error_description"}``)."""
    body = body if isinstance(body, dict) else {}
    error = str(body.get("error") or "")
    description = str(body.get("error_description") or body.get("error_hint") or "")
    if not error and status >= 500:
        return SyncError(
            SERVER_ERROR.code,
            f"Fortnox token endpoint answered {status}",
            status=status,
            details={"http_status": status},
        )
    detail = f"{error}: {description}" if description else error or (text or "").strip()[:200] or f"HTTP {status}"
    details = {
        "oauth_error": error,
        "oauth_error_description": description,
        "http_status": status,
        "grant_type": grant_type,
    }
    if error == "invalid_grant" and grant_type == "authorization_code":
        return SyncError(
            AUTH.code,
            f"The Fortnox authorisation code expired or was already used ({detail})",
            hint=RECONNECT + " again; the code is valid for 10 minutes.",
            permanent=True,
            status=status,
            details=details,
        )
    if error == "invalid_grant" and grant_type != "client_credentials":
        # Refresh tokens are single-use and live 45 days; a spent or expired one
        # can only be replaced by a user authorising the integration again.
        return SyncError(
            INVALID_REFRESH_TOKEN.code,
            f"Fortnox refused the authorisation ({detail})",
            permanent=True,
            status=status,
            details=details,
        )
    if error == "invalid_scope":
        return SyncError(NO_SCOPE.code, f"Fortnox refused the scopes ({detail})", status=status, details=details)
    return SyncError(
        AUTH.code,
        f"Fortnox token endpoint refused the request ({detail})",
        permanent=True,
        status=status,
        details=details,
    )
