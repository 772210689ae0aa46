"""Norce Commerce API client: OAuth2 client credentials, Query 2.0 orders, Connect order status."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import requests
from django.conf import settings

from connectors.norce import connect, errors, replies
from connectors.norce.errors import (
    APPLICATION_ID_MISSING,
    AUTH,
    CANCELLATION_REJECTED,
    DELIVERY_REJECTED,
    IMPORT_REJECTED,
    INVOICE_REJECTED,
    JOB_RESTART_REFUSED,
    STATUS_REJECTED,
)
from connectors.norce.settings import DEFAULT_ACCOUNT_ID
from connectors.transport import ApiClient
from core.errors import CONNECTOR_SETTINGS, HTTP_BAD_RESPONSE, SyncError
from core.limits import RateLimit
from core.ports import ConnectorAccount, ConnectorStore, RateLimiter

TOKEN_PATH = "/identity/1.0/connect/token"
QUERY_ORDERS_PATH = "/commerce/query/2.0/Orders/Orders"
CONNECT_PATH = "/commerce/connect/"
CONNECT_BASE = "/commerce/connect/4.0/"
SEND_ORDER_STATUS_PATH = CONNECT_BASE + "Order/SendOrderStatus"
CREATE_DELIVERY_NOTE_PATH = CONNECT_BASE + "Order/CreateDeliveryNote"
CREATE_INVOICE_PATH = CONNECT_BASE + "Order/CreateInvoice"
CANCEL_ORDER_PATH = CONNECT_BASE + "Order/CancelOrder"
QUERY_PRODUCT_SKUS_PATH = "/commerce/query/2.0/Products/ProductSkus"
# Norce's default system account for an ERP integration, used as AccountId when the
# connector names none.
ORDER_EXPAND = "Items,Buyer,Payer,ShipTo"

# Connect allows 60 requests a minute per Norce customer, i.e. per API host.
# Query publishes no number (its 429s are handled by the transport); the token
# endpoint (3 a minute per IP) is protected by the shared token cache instead.
CONNECT_LIMIT = RateLimit(60, 60.0)
# The Query API caps a page at 500 orders.
MAX_PAGE = 500
# Characters left as they are in OData query strings ($filter, quotes, parentheses, …).
ODATA_SAFE = "$,()':/"


def odata_string(value: str) -> str:
    """An OData string literal: single-quoted, with single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def odata_datetime(moment: datetime) -> str:
    """An unquoted UTC OData date-time literal (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NorceClient(ApiClient):
    """One Norce connector's API access. The access token is cached on the connector for all workers."""

    system = "norce"

    def __init__(
        self,
        connector: ConnectorAccount,
        *,
        store: ConnectorStore,
        limiter: RateLimiter,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(connector, store=store, limiter=limiter, session=session)
        self.base_url = connector.base_url.rstrip("/")
        self.host = urlsplit(self.base_url).netloc

    # -- settings ---------------------------------------------------------------------------
    @property
    def application_id(self) -> int:
        """The Norce application id from the connector settings (required by the Query API)."""
        value = (self.connector.settings or {}).get("application_id")
        if value in (None, ""):
            raise SyncError(APPLICATION_ID_MISSING.code, "The Norce connector has no 'application_id' setting")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SyncError(
                APPLICATION_ID_MISSING.code,
                f"The Norce connector's 'application_id' must be a whole number, not {value!r}",
            ) from None

    @property
    def account_id(self) -> int:
        """The Connect system account (AccountId): the connector's `account_id`, default 10000 (ERP)."""
        value = (self.connector.settings or {}).get("account_id")
        try:
            return int(value) if value not in (None, "") else DEFAULT_ACCOUNT_ID
        except (TypeError, ValueError):
            raise SyncError(
                CONNECTOR_SETTINGS.code, f"The Norce connector's 'account_id' must be a whole number, not {value!r}"
            ) from None

    @property
    def scope(self) -> str:
        return str((self.connector.settings or {}).get("scope") or "prod")

    # -- transport hooks --------------------------------------------------------------------
    def rate_limit(self, url: str) -> tuple[str, RateLimit] | None:
        if CONNECT_PATH in urlsplit(url).path:
            reserve = int(settings.BRYGGA.get("CONNECT_PRIORITY_RESERVE", 10))
            return f"norce-connect:{self.host}", RateLimit(CONNECT_LIMIT.limit, CONNECT_LIMIT.window, reserve=reserve)
        return None

    def auth_headers(self, *, rejected: str | None = None) -> dict[str, str]:
        token = self.store.access_token(self._obtain_token, rejected=rejected)
        return {"Authorization": f"Bearer {token}"}

    def error_from_response(self, response: requests.Response) -> SyncError:
        try:
            body: Any = response.json() if response.content else None
        except ValueError:
            body = None
        return self._scrubbed(errors.error_for(response.status_code, body, response.text))

    # -- auth -------------------------------------------------------------------------------
    def _obtain_token(self, _current: dict[str, Any]) -> dict[str, Any]:
        """POST the client credentials to the token endpoint; called under the connector's row lock."""
        credentials = self.connector.credentials or {}
        if not credentials.get("client_id") or not credentials.get("client_secret"):
            raise SyncError(AUTH.code, "The Norce connector has no client id or client secret")
        form = {
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "scope": self.scope,
        }
        try:
            response = self.request("POST", self.base_url + TOKEN_PATH, data=form, authenticate=False)
        except SyncError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                raise self._scrubbed(
                    SyncError(
                        AUTH.code,
                        f"Norce's token endpoint refused the credentials (scope {self.scope!r}): "
                        f"{exc.details.get('norce_message', exc.message)}",
                        status=exc.status,
                    )
                ) from None
            raise
        grant = self.decode(response)
        if not isinstance(grant, dict) or not grant.get("access_token"):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Norce's token endpoint answered without an access_token")
        return grant

    def _scrubbed(self, error: SyncError) -> SyncError:
        """`error` with any credential value that Norce may have echoed replaced by ***."""
        secrets = [str(v) for k, v in (self.connector.credentials or {}).items() if k != "client_id" and v]
        if not secrets:
            return error

        def clean(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "***")
            return text

        scrubbed = SyncError(
            error.code,
            clean(error.message),
            hint=error.hint,
            permanent=error.permanent,
            retry_after=error.retry_after,
            status=error.status,
            details={k: clean(v) if isinstance(v, str) else v for k, v in error.details.items()},
        )
        return scrubbed

    # -- Query ------------------------------------------------------------------------------
    def _query_url(self, params: dict[str, str], path: str = QUERY_ORDERS_PATH) -> str:
        return f"{self.base_url}{path}?{urlencode(params, quote_via=quote, safe=ODATA_SAFE)}"

    def _query_headers(self) -> dict[str, str]:
        return {"applicationId": str(self.application_id)}

    def _query_page(self, url: str) -> dict[str, Any]:
        page = self.get_json(url, headers=self._query_headers())
        if not isinstance(page, dict) or not isinstance(page.get("value", []), list):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Norce Query answered without an OData 'value' list")
        return page

    def get_order(self, client_order_ref: str) -> dict[str, Any] | None:
        """The Query 2.0 order (with Items, Buyer, Payer, ShipTo) whose OrderNo is `client_order_ref`, or None."""
        ref = odata_string(str(client_order_ref))
        params = {
            "$filter": f"ApplicationId eq {self.application_id} and ClientOrderRef eq {ref}",
            "$expand": ORDER_EXPAND,
            "$top": "1",
        }
        orders = self._query_page(self._query_url(params)).get("value") or []
        return orders[0] if orders else None

    def orders_since(self, since: datetime, *, page_size: int = MAX_PAGE) -> Iterator[dict[str, Any]]:
        """Orders created or updated at or after `since`, oldest id first, following the server's pages."""
        moment = odata_datetime(since)
        params = {
            "$filter": f"ApplicationId eq {self.application_id} and "
            f"(Updated ge {moment} or (Updated eq null and Created ge {moment}))",
            "$expand": ORDER_EXPAND,
            "$orderby": "Id",
            "$top": str(max(1, min(page_size, MAX_PAGE))),
        }
        yield from self._query_pages(self._query_url(params))

    def _query_pages(self, url: str | None) -> Iterator[dict[str, Any]]:
        """Every row of an OData query, following the server's nextLinks."""
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            page = self._query_page(url)
            yield from page.get("value") or []
            link = page.get("@odata.nextLink")
            url = self._next_url(url, link) if link and page.get("value") else None

    def _next_url(self, current: str, link: str) -> str:
        """An absolute or relative nextLink, kept on our own host so the token never leaves it."""
        absolute = urljoin(current, link)
        parts = urlsplit(absolute)
        if parts.netloc != self.host:
            return f"{self.base_url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return absolute

    # -- Connect ----------------------------------------------------------------------------
    def send_order_status(self, client_order_ref: str, *, erp_order_no: str, status: str = "Confirmed") -> None:
        """Tell Norce the order's status (Confirmed by default) and the ERP's number for it."""
        body = replies.status_request(
            client_order_ref, erp_order_no=erp_order_no, status=status, account_id=self.account_id
        )
        try:
            self.request("POST", self.base_url + SEND_ORDER_STATUS_PATH, json_body=body)
        except SyncError as exc:
            if exc.code in ("norce.validation", "http.client_error") and exc.status and exc.status < 500:
                raise SyncError(
                    STATUS_REJECTED.code,
                    f"Norce rejected status {status} for order {client_order_ref}: "
                    f"{exc.details.get('norce_message', exc.message)}",
                    status=exc.status,
                    details=exc.details,
                ) from None
            raise

    # The Order service's writes are not idempotent on Norce's side as far as anyone documents
    # (a second CreateInvoice is a second invoice, and may capture at the PSP twice), so they are
    # sent once per call: after a 5xx or a timeout the caller asks Norce what it holds before
    # trying again. A 429 was refused before any work and is waited out as usual.
    def create_delivery_note(self, body: dict[str, Any]) -> None:
        """Order/CreateDeliveryNote: the delivered items and parcels of one ERP shipment."""
        self._order_write(
            CREATE_DELIVERY_NOTE_PATH, body, DELIVERY_REJECTED.code, f"delivery note {body.get('NoteNo')}"
        )

    def create_invoice(self, body: dict[str, Any]) -> None:
        """Order/CreateInvoice: the ERP invoice; Norce captures at the PSP unless SuppressPspCall."""
        self._order_write(CREATE_INVOICE_PATH, body, INVOICE_REJECTED.code, f"invoice {body.get('InvoiceNo')}")

    def cancel_order(self, body: dict[str, Any]) -> None:
        """Order/CancelOrder: the order is cancelled."""
        self._order_write(
            CANCEL_ORDER_PATH, body, CANCELLATION_REJECTED.code, f"cancelling order {body.get('ClientOrderRef')}"
        )

    def _order_write(self, path: str, body: dict[str, Any], refused_code: str, what: str) -> None:
        try:
            self.request("POST", self.base_url + path, json_body=body, idempotent=False)
        except SyncError as exc:
            if exc.code in ("norce.validation", "http.client_error") and exc.status and exc.status < 500:
                raise SyncError(
                    refused_code,
                    f"Norce refused {what}: {exc.details.get('norce_message', exc.message)}",
                    status=exc.status,
                    details=exc.details,
                ) from None
            raise

    # -- admin ------------------------------------------------------------------------------
    def test_connection(self) -> str:
        """Get a token and make one cheap Query call; a short description of what worked."""
        self.auth_headers()
        params = {"$filter": f"ApplicationId eq {self.application_id}", "$top": "1", "$select": "Id"}
        self._query_page(self._query_url(params))
        return (
            f"Connected to Norce at {self.host} (scope {self.scope}); "
            f"Query API answers for application {self.application_id}."
        )

    # -- Connect imports --------------------------------------------------------------------
    def import_items(
        self, method: str, header: dict[str, Any], body: Iterable[bytes] | Callable[[], Iterable[bytes]] | bytes
    ) -> ImportAccepted:
        """POST one asynchronous import; Norce answers with a JobId at once.

        An import is an upsert, so sending the same items twice does no harm: the call
        is retried after timeouts and 5xx like any idempotent request. `body` may be a
        callable producing the JSON array in pieces (streamed, chunked)."""
        if method not in connect.METHODS:
            raise ValueError(f"unknown Connect method {method!r}")
        response = self.request(
            "POST",
            self.base_url + CONNECT_BASE + method,
            data=body,
            headers={"Content-Type": "application/json", "X-StormConnect-Header": connect.header_value(header)},
        )
        answer = self.decode(response)
        if not isinstance(answer, dict) or answer.get("JobId") in (None, ""):
            raise SyncError(
                IMPORT_REJECTED.code,
                f"Norce accepted {method} without a JobId: {str(answer)[:200]}",
                hint="Check the Norce Connect job list in Norce Admin; the import may not have started.",
            )
        summary = answer.get("ValidationSummary") or {}
        return ImportAccepted(
            job_id=str(answer["JobId"]),
            status_code=str(answer.get("StatusCode") or ""),
            messages=[str(m) for m in summary.get("Messages") or []],
            validation_failures=int(summary.get("NrOfValidationFailures") or 0),
        )

    def get_job(self, job_id: str) -> dict[str, Any]:
        """Job/Get: the JobDto (StatusId, IsFinished, counts)."""
        job = self.get_json(self.base_url + CONNECT_BASE + "Job/Get", params={"id": job_id})
        if not isinstance(job, dict) or "StatusId" not in job:
            raise SyncError(HTTP_BAD_RESPONSE.code, f"Norce Job/Get for job {job_id} answered without a StatusId")
        return job

    def get_job_log(self, job_id: str) -> list[dict[str, Any]]:
        """Job/GetLog: Norce's messages about the job's rows (SeverityId, Message, ImportedRow)."""
        entries = self.get_json(self.base_url + CONNECT_BASE + "Job/GetLog", params={"id": job_id})
        return [e for e in entries or [] if isinstance(e, dict)] if isinstance(entries, list) else []

    def restart_job(self, job_id: str) -> dict[str, Any]:
        """Job/Restart: run a finished job again from the payload Norce kept (two weeks)."""
        try:
            response = self.request("POST", self.base_url + CONNECT_BASE + "Job/Restart", params={"id": job_id})
        except SyncError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                raise SyncError(
                    JOB_RESTART_REFUSED.code,
                    f"Norce refused to restart job {job_id}: {exc.details.get('norce_message', exc.message)}",
                    status=exc.status,
                ) from None
            raise
        return self.decode(response) or {}

    # -- Query: catalogue -------------------------------------------------------------------
    def product_skus(self, *, select: str = "PartNo,StatusId") -> Iterator[dict[str, Any]]:
        """Every SKU Norce has (Query 2.0 Products/ProductSkus), page by page."""
        params = {"$select": select, "$orderby": "PartNo", "$top": str(MAX_PAGE)}
        yield from self._query_pages(self._query_url(params, QUERY_PRODUCT_SKUS_PATH))


@dataclass(frozen=True)
class ImportAccepted:
    job_id: str
    status_code: str
    messages: list[str]
    validation_failures: int


def gzip_body(chunks: Iterable[bytes]) -> bytes:
    return gzip.compress(b"".join(chunks), compresslevel=5)
