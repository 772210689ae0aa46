"""Visma.net ERP API client: Visma Connect tokens, the hourly rate limit, ETags, paging, change
filters, the background API, error mapping, and the calls the ports need.

Three hosts: the ERP API (the connector's base URL, ``/v1/…`` and ``/v2/…``), Visma Connect (the
connector's auth URL, ``/connect/token``) and SalesOrders V3 (setting ``salesorder_url``,
``/api/v3/…``, plain JSON). One connector is one company (one tenant).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo

import requests

from connectors.transport import ApiClient
from connectors.vismanet.errors import (
    BACKGROUND_FAILED,
    PRECONDITION_FAILED,
    error_for,
    token_error_for,
)
from connectors.vismanet.settings import DEFAULT_AUTH_URL, VismaNetSettings, parse_settings
from connectors.vismanet.wrapper import wrap
from core.cache import SharedCache
from core.errors import HTTP_BAD_RESPONSE, SyncError
from core.limits import RateLimit
from core.ports import ConnectorAccount, ConnectorStore, RateLimiter

log = logging.getLogger("brygga.connectors.vismanet")

CLIENT_CREDENTIALS = "client_credentials"
# List pages: Visma caps a larger pageSize silently at the resource's maxPageSize, which every
# item of a list names (metadata.maxPageSize); `pages` follows that cap. 1000 is the common cap.
PAGE_SIZE = 1000
# The largest page a list is asked for: the inventory list's maxPageSize, 5000 since 2022-04-01
# (API reference, pagination; confidence high). No larger figure is documented for the other
# lists; the big ones (customerSalesPrice, customer) ask for it as well and are capped to
# whatever their maxPageSize is, so they get the most Visma.net allows them either way.
LARGE_PAGE_SIZE = 5000
V3_PAGE_SIZE = 100
BACKGROUND_HEADER = "erp-api-background"
BACKGROUND_MAX_WAIT = 300.0  # seconds a background request is followed before it counts as lost
# The company's VAT codes are kept this long in the shared cache (a code unknown to the kept
# list reads the list again, so one added in Visma.net is found at once).
VAT_CODES_SECONDS = 3600.0


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    total_pages: int
    items: list[dict[str, Any]]


class VismaNetClient(ApiClient):
    """One Visma.net company, reached through one connector."""

    system = "vismanet"

    def __init__(
        self,
        connector: ConnectorAccount,
        *,
        store: ConnectorStore,
        limiter: RateLimiter,
        session: requests.Session | None = None,
        cache: SharedCache | None = None,
    ) -> None:
        super().__init__(connector, store=store, limiter=limiter, session=session)
        self.options: VismaNetSettings = parse_settings(connector.settings)
        # Shared by every worker (the engine's); without one, what is kept lasts as long as the client.
        self.cache: SharedCache = cache if cache is not None else LocalCache()
        self._vat_codes: list[dict[str, Any]] | None = None
        self._vat_codes_read = False  # read from Visma.net by this client (not from the cache)
        self.poll_interval = 1.0  # seconds between reads of a background request's state
        # The versions of documents this client just created (by URL path), for the first write.
        self._created_etags: dict[str, str] = {}

    # -- hosts -----------------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return self.connector.base_url.rstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL of an ERP API resource, e.g. ``url("v1/customer")``."""
        return f"{self.api_base}/{path.lstrip('/')}"

    def so_url(self, path: str) -> str:
        """Absolute URL of a SalesOrders V3 resource, e.g. ``so_url("salesorders")``."""
        return f"{self.options.salesorder_url.rstrip('/')}/api/v3/{path.lstrip('/')}"

    @property
    def token_url(self) -> str:
        return f"{(self.connector.auth_url or DEFAULT_AUTH_URL).rstrip('/')}/connect/token"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.options.timezone)

    @property
    def commit_wait(self) -> float:
        return float(self.options.commit_wait_seconds)

    # -- transport hooks -------------------------------------------------------------
    @property
    def rate(self) -> RateLimit:
        return RateLimit(max(1, self.options.requests_per_hour), 3600.0)

    @property
    def bucket(self) -> str:
        # Visma counts per company and client per hour; one connector is one of each.
        return f"vismanet:{self.connector.pk}"

    def rate_limit(self, url: str) -> tuple[str, RateLimit] | None:
        if url == self.token_url:
            return None
        return self.bucket, self.rate

    def default_429_wait(self) -> float:
        return 5.0

    def auth_headers(self, *, rejected: str | None = None) -> dict[str, str]:
        token = self.store.access_token(self._obtain, rejected=rejected, grant=CLIENT_CREDENTIALS, refresh=False)
        return {"Authorization": f"Bearer {token}"}

    def error_from_response(self, response: requests.Response) -> SyncError:
        body = _json_or_none(response)
        if (response.url or "").split("?")[0] == self.token_url:
            return token_error_for(response.status_code, body, response.text)
        return error_for(response.status_code, body, response.text)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = super().request(method, url, **kwargs)
        self._obey_rate_headers(url, response)
        return response

    def _obey_rate_headers(self, url: str, response: requests.Response) -> None:
        """When Visma says the window is (nearly) spent — X-RateLimit-Remaining at or below the
        connector's rate_limit_reserve — hold every worker back until it resets
        (X-RateLimit-Reset, seconds), whatever our own count says. The reserve is left for the
        requests other workers already have in flight, which would otherwise meet a 429."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None or self.rate_limit(url) is None:
            return
        try:
            left = int(float(remaining))
            reset = float(response.headers.get("X-RateLimit-Reset") or 0)
        except ValueError:
            return
        if left <= max(0, self.options.rate_limit_reserve) and reset > 0:
            log.info(
                "Visma.net connector %s: %d request(s) left in the rate window, holding back %.0fs",
                self.connector.pk,
                left,
                reset,
            )
            self.limiter.penalise(self.bucket, self.rate, reset)

    # -- tokens ----------------------------------------------------------------------
    def _obtain(self, tokens: dict[str, Any]) -> dict[str, Any]:
        """A token by client credentials for the connector's tenant (one company)."""
        credentials = self.connector.credentials or {}
        form = {
            "grant_type": CLIENT_CREDENTIALS,
            "client_id": str(credentials.get("client_id") or ""),
            "client_secret": str(credentials.get("client_secret") or ""),
            "scope": " ".join(self.options.scope.split()),
            "tenant_id": self.options.tenant_id,
        }
        response = self.request(
            "POST",
            self.token_url,
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            authenticate=False,
        )
        body = self.decode(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Visma Connect answered without an access token")
        return body

    # -- generic calls ---------------------------------------------------------------
    def get(self, url: str, *, params: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        response = self.request("GET", url, params=params, allow_404=missing_ok)
        if missing_ok and response.status_code == 404:
            return None
        return self.decode(response)

    def get_with_etag(self, url: str) -> tuple[Any, str]:
        response = self.request("GET", url)
        return self.decode(response), response.headers.get("ETag", "")

    def create(self, url: str, body: Mapping[str, Any], *, wrapped: bool = True) -> str:
        """POST a create; the new document's number from the Location header's last segment.

        Not re-sent after a 5xx or a timeout (no idempotency key): the caller looks it up first."""
        response = self.request("POST", url, json_body=wrap(body) if wrapped else dict(body), idempotent=False)
        number = created_number(response)
        etag = response.headers.get("ETag")
        if etag:
            # The new document's version (201 + ETag): a write that follows at once (the release)
            # goes with it instead of reading the document first; a 412 still re-reads.
            self._created_etags[urlsplit(response.headers["Location"]).path.rstrip("/")] = etag
        return number

    def write_if_match(
        self, method: str, url: str, *, read_url: str, json_body: Any = None, idempotent: bool = False
    ) -> requests.Response:
        """A write guarded by the document's ETag. A 412 (someone changed it meanwhile) re-reads
        the document and tries once more; a second 412 is a transient error."""
        known = self._created_etags.pop(urlsplit(read_url).path.rstrip("/"), None)
        for attempt in (1, 2):
            if known and attempt == 1:
                etag: str | None = known
            else:
                _, etag = self.get_with_etag(read_url)
            headers = {"If-Match": etag} if etag else {}
            try:
                return self.request(method, url, json_body=json_body, headers=headers, idempotent=idempotent)
            except SyncError as exc:
                if exc.status != 412:
                    raise
                if attempt == 2:
                    raise SyncError(
                        PRECONDITION_FAILED.code,
                        f"{method} {urlsplit(url).path}: the document changed twice while Brygga wrote it",
                        permanent=False,
                        status=412,
                        details=exc.details,
                    ) from exc
                log.info("Visma.net: %s %s answered 412; reading it again", method, urlsplit(url).path)
        raise AssertionError("unreachable")

    def action(self, resource_url: str, name: str, body: Any = None, *, idempotent: bool = False) -> dict[str, Any]:
        """POST ``…/{id}/action/{name}`` (bare body) guarded by the document's ETag. `idempotent`:
        the action may be sent again after a 5xx or a timeout (see release_invoice)."""
        response = self.write_if_match(
            "POST",
            f"{resource_url}/action/{name}",
            read_url=resource_url,
            json_body=body if body is not None else {},
            idempotent=idempotent,
        )
        answer = self.decode(response)
        return answer if isinstance(answer, dict) else {}

    def background(self, url: str, *, params: dict[str, Any] | None = None) -> Any:
        """A GET through the background API (``erp-api-background: none``): 202 with a state
        location, followed until Finished, then the original answer from ``…/content``."""
        response = self.request("GET", url, params=params, headers={BACKGROUND_HEADER: "none"})
        if response.status_code != 202:
            return self.decode(response)
        accepted = self.decode(response) or {}
        state_url = str(accepted.get("stateLocation") or "")
        if not state_url:
            raise SyncError(BACKGROUND_FAILED.code, "Visma.net accepted a background request without a stateLocation")
        waited = 0.0
        while True:
            state = self._background_state(state_url)
            status = str(state.get("status") or "")
            if status in ("Finished", "Failed"):
                break
            if waited >= BACKGROUND_MAX_WAIT:
                raise SyncError(
                    BACKGROUND_FAILED.code,
                    f"Visma.net background request {accepted.get('id')} still {status or 'pending'} after "
                    f"{waited:.0f}s",
                )
            time.sleep(self.poll_interval)
            waited += self.poll_interval
        code = int(state.get("statusCode") or 0)
        content_url = str(state.get("contentLocation") or f"{state_url.rstrip('/')}/content")
        content = self.request("GET", content_url, allow_404=True)
        if content.status_code in (404, 410):
            raise SyncError(BACKGROUND_FAILED.code, f"Visma.net background result {accepted.get('id')} is gone")
        body = self.decode(content)
        if status == "Failed" or code >= 400:
            if code >= 400:
                raise error_for(code, body, str(state.get("errorMessage") or ""))
            raise SyncError(
                BACKGROUND_FAILED.code,
                f"Visma.net background request failed: {state.get('errorMessage') or 'no reason given'}",
            )
        return body

    def _background_state(self, state_url: str) -> dict[str, Any]:
        response = self.request("GET", state_url, allow_404=True)
        if response.status_code in (404, 410):
            raise SyncError(BACKGROUND_FAILED.code, "Visma.net no longer holds the background request's state")
        state = self.decode(response)
        if not isinstance(state, dict):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Visma.net background state is not a JSON object")
        return state

    def pages(
        self, path: str, params: dict[str, Any] | None = None, *, start_page: int = 1, page_size: int = PAGE_SIZE
    ) -> Iterator[Page]:
        """A list resource page by page from `start_page` (1-based) to the end (metadata.totalCount)."""
        number = max(1, start_page)
        while True:
            query = {**(params or {}), "pageNumber": number, "pageSize": page_size}
            if self.options.use_background_for_lists:
                body = self.background(self.url(path), params=query)
            else:
                body = self.get(self.url(path), params=query)
            if body is None:
                body = []
            if not isinstance(body, list):
                raise SyncError(HTTP_BAD_RESPONSE.code, f"Visma.net {path} list is not a JSON array")
            items = [item for item in body if isinstance(item, dict)]
            size, total = page_size, None
            if items:
                meta = items[0].get("metadata") or {}
                size = min(page_size, _int(meta.get("maxPageSize")) or page_size)
                total = _int(meta.get("totalCount"))
            if total is not None:
                total_pages = max(1, math.ceil(total / size))
            else:  # no count: a full page (of at least the common cap) may have more after it
                total_pages = number + 1 if len(items) >= min(size, PAGE_SIZE) else number
            yield Page(number=number, total_pages=max(total_pages, number), items=items)
            if number >= total_pages or not items:
                return
            number += 1

    def every(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        for page in self.pages(path, params):
            yield from page.items

    def since(
        self, moment: datetime | None, params: dict[str, Any], *, field: str = "lastModifiedDateTime"
    ) -> dict[str, Any]:
        """The change filter: `field` and its Condition (">=" the cursor), in company local time."""
        if moment is None:
            return params
        return {**params, field: filter_time(moment, self.zone), f"{field}Condition": ">="}

    # -- company ---------------------------------------------------------------------
    def organization(self) -> dict[str, Any]:
        body = self.get(self.url("v1/organization"))
        items = body if isinstance(body, list) else [body]
        first = next((item for item in items if isinstance(item, dict)), None)
        if first is None:
            raise SyncError(HTTP_BAD_RESPONSE.code, "Visma.net /v1/organization named no organisation")
        return first

    def test_connection(self) -> str:
        info = self.organization()
        extra = ", ".join(str(info[k]) for k in ("organizationCd", "corporateId") if info.get(k))
        name = info.get("name") or "?"
        return f"Connected to {name}" + (f" ({extra})" if extra else "") + f", tenant {self.options.tenant_id}"

    # -- VAT codes -------------------------------------------------------------------
    @property
    def _vat_cache_key(self) -> str:
        # The tenant is the company: a connector moved to another company keeps nothing of the old.
        return f"vismanet:vat:{self.options.tenant_id.strip()}"

    def vat_codes(self) -> list[dict[str, Any]]:
        """The company's VAT codes (GET /v1/vat), kept for VAT_CODES_SECONDS in the shared cache."""
        if self._vat_codes is None:
            kept = self.cache.get(self._vat_cache_key)
            if isinstance(kept, list):
                self._vat_codes = [item for item in kept if isinstance(item, dict)]
            else:
                self._read_vat_codes()
        assert self._vat_codes is not None
        return self._vat_codes

    def _read_vat_codes(self) -> None:
        body = self.get(self.url("v1/vat"))
        codes = [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
        self._vat_codes = [_vat_code_kept(item) for item in codes]
        self._vat_codes_read = True
        self.cache.set(self._vat_cache_key, self._vat_codes, seconds=VAT_CODES_SECONDS)

    def _vat_codes_again(self) -> bool:
        """After a miss in VAT codes that came from the cache: read them from Visma.net (once per
        client). False when this client has read them already, so a miss stands."""
        self.vat_codes()
        if self._vat_codes_read:
            return False
        self._read_vat_codes()
        return True

    def _vat_item(self, code: str) -> dict[str, Any] | None:
        return next((item for item in self.vat_codes() if str(item.get("vatId") or "").strip() == code), None)

    def vat_rate(self, code: str) -> Decimal | None:
        """The current rate (percent) of a VAT code id, None when the company has no such code."""
        item = self._vat_item(code)
        if item is None and code and self._vat_codes_again():
            item = self._vat_item(code)
        return None if item is None else current_rate(item)

    def vat_code_for(self, rate: Decimal) -> str | None:
        """The VAT code id for a rate: the vat_codes setting, else the company's sales code of that rate."""
        named = self.options.vat_codes.get(_rate_text(rate))
        if named:
            return named
        found = self._sales_code(rate)
        if found is None and self._vat_codes_again():
            found = self._sales_code(rate)
        return found

    def _sales_code(self, rate: Decimal) -> str | None:
        hits = [item for item in self.vat_codes() if current_rate(item) == Decimal(rate)]
        # A Swedish company also has input (purchase) codes of the same rates: prefer a sales code.
        hits.sort(key=lambda item: (_purchase(item), str(item.get("vatId") or "")))
        return str(hits[0]["vatId"]) if hits else None

    # -- customers -------------------------------------------------------------------
    def find_customers(self, field: str, value: str) -> list[dict[str, Any]]:
        return list(self.every("v1/customer", {field: value}))

    def get_customer(self, number: str) -> dict[str, Any] | None:
        found = self.get(self.url(f"v1/customer/{_segment(number)}"), missing_ok=True)
        return found if isinstance(found, dict) else None

    def create_customer(self, payload: Mapping[str, Any]) -> str:
        return self.create(self.url("v1/customer"), payload)

    def customer_pages(self, *, since: datetime | None = None, start_page: int = 1) -> Iterator[Page]:
        return self.pages("v1/customer", self.since(since, {}), start_page=start_page, page_size=LARGE_PAGE_SIZE)

    # -- customer invoices -----------------------------------------------------------
    def invoice_url(self, number: str) -> str:
        return self.url(f"v1/customerinvoice/{_segment(number)}")

    def create_invoice(self, payload: Mapping[str, Any]) -> str:
        return self.create(self.url("v2/customerinvoice"), payload)

    def get_invoice(self, number: str, *, missing_ok: bool = False) -> dict[str, Any] | None:
        found = self.get(self.invoice_url(number), missing_ok=missing_ok)
        if found is None and missing_ok:
            return None
        if not isinstance(found, dict):
            raise SyncError(HTTP_BAD_RESPONSE.code, f"Visma.net customer invoice {number} is not a JSON object")
        return found

    def invoices(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.every("v1/customerinvoice", params)

    def invoices_changed_since(self, since: datetime | None, **params: Any) -> Iterator[dict[str, Any]]:
        return self.every("v1/customerinvoice", self.since(since, params))

    def release_invoice(self, number: str) -> dict[str, Any]:
        # Safe to send again after a 5xx or a timeout: a document is released once, and Visma.net
        # refuses to release one that is no longer Balanced, so a repeat cannot post it twice.
        return self.action(self.invoice_url(number), "release", idempotent=True)

    def delete_invoice(self, number: str) -> None:
        self.write_if_match("DELETE", self.invoice_url(number), read_url=self.invoice_url(number))

    def reverse_invoice(self, number: str) -> dict[str, Any]:
        return self.action(self.invoice_url(number), "reverse", {"returnCreditNote": True})

    # -- inventory, prices -----------------------------------------------------------
    def inventory_item(self, number: str) -> dict[str, Any] | None:
        found = self.get(self.url(f"v1/inventory/{_segment(number)}"), missing_ok=True)
        return found if isinstance(found, dict) else None

    def known_items(self, numbers: list[str]) -> set[str]:
        return {number for number in sorted(set(numbers)) if number and self.inventory_item(number) is not None}

    def inventory_pages(
        self, *, since: datetime | None = None, start_page: int = 1, stock: bool = False
    ) -> Iterator[Page]:
        """Inventory items; for stock, changed by availability and with their warehouse details."""
        if stock:
            params = self.since(since, {"expandWarehouseDetail": "true"}, field="availabilityLastModifiedDateTime")
        else:
            params = self.since(since, {"expandCrossReference": "true"})
        return self.pages("v1/inventory", params, start_page=start_page, page_size=LARGE_PAGE_SIZE)

    def inventory_vat_pages(self) -> Iterator[Page]:
        """Every inventory item, with nothing expanded (for their VAT codes)."""
        return self.pages("v1/inventory", {}, page_size=LARGE_PAGE_SIZE)

    def inventory_stock(self, number: str) -> dict[str, Any] | None:
        found = self.get(
            self.url(f"v1/inventory/{_segment(number)}"), params={"expandWarehouseDetail": "true"}, missing_ok=True
        )
        return found if isinstance(found, dict) else None

    def price_pages(
        self, params: dict[str, Any], *, since: datetime | None = None, start_page: int = 1
    ) -> Iterator[Page]:
        return self.pages(
            "v1/customerSalesPrice", self.since(since, params), start_page=start_page, page_size=LARGE_PAGE_SIZE
        )

    # -- shipments -------------------------------------------------------------------
    def get_shipment(self, number: str) -> dict[str, Any] | None:
        found = self.get(self.url(f"v1/shipment/{_segment(number)}"), missing_ok=True)
        return found if isinstance(found, dict) else None

    def shipments_changed_since(self, since: datetime | None) -> Iterator[dict[str, Any]]:
        return self.every("v1/shipment", self.since(since, {}))

    # -- SalesOrders V3 (plain JSON) ---------------------------------------------------
    def create_sales_order(self, body: Mapping[str, Any]) -> tuple[str, str]:
        """POST a V3 order; its (type, number) from the Location's last two segments."""
        response = self.request("POST", self.so_url("salesorders"), json_body=dict(body), idempotent=False)
        location = response.headers.get("Location", "")
        parts = [unquote(p) for p in urlsplit(location).path.rstrip("/").split("/") if p]
        if len(parts) < 2:
            raise SyncError(
                HTTP_BAD_RESPONSE.code,
                f"Visma.net created a sales order but named no Location ({location!r})",
                details={"location": location},
            )
        return parts[-2], parts[-1]

    def get_sales_order(self, order_type: str, number: str) -> dict[str, Any] | None:
        found = self.get(self.so_url(f"salesorders/{_segment(order_type)}/{_segment(number)}"), missing_ok=True)
        return found if isinstance(found, dict) else None

    def sales_order_lines(self, order_type: str, number: str) -> list[dict[str, Any]]:
        body = self.get(self.so_url(f"salesorders/{_segment(order_type)}/{_segment(number)}/lines"))
        values = body.get("value") if isinstance(body, dict) else body
        return [line for line in values or [] if isinstance(line, dict)]

    def sales_orders(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """V3 order lists page by page: pageIndex (0-based, an assumption the simulator shares),
        ``{"value": [...], "totalCount": n}``."""
        index = 0
        while True:
            body = self.get(self.so_url("SalesOrders"), params={**params, "pageIndex": index, "pageSize": V3_PAGE_SIZE})
            if not isinstance(body, dict):
                raise SyncError(HTTP_BAD_RESPONSE.code, "Visma.net SalesOrders list is not a JSON object")
            items = [item for item in body.get("value") or [] if isinstance(item, dict)]
            yield from items
            total = _int(body.get("totalCount"))
            index += 1
            if not items or (total is not None and index * V3_PAGE_SIZE >= total) or len(items) < V3_PAGE_SIZE:
                return

    def sales_orders_by_reference(self, reference: str) -> list[dict[str, Any]]:
        quoted = reference.replace("'", "''")
        return [
            order
            for order in self.sales_orders({"filter": f"customerRefNo eq '{quoted}'"})
            if str(order.get("customerRefNo") or "") == reference
        ]

    def sales_orders_changed_since(self, since: datetime | None, **params: Any) -> Iterator[dict[str, Any]]:
        if since is not None:
            params = {**params, "modifiedSince": filter_time(since, self.zone)}
        return self.sales_orders(params)


class LocalCache:
    """A core.cache.SharedCache kept in the client itself, for a client built without the engine's."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any | None:
        until, value = self._entries.get(key, (0.0, None))
        return value if until > time.monotonic() else None

    def set(self, key: str, value: Any, *, seconds: float) -> None:
        self._entries[key] = (time.monotonic() + seconds, value)

    def delete(self, key: str) -> None:
        self._entries.pop(key, None)


# -- helpers ---------------------------------------------------------------------------------
def _vat_code_kept(vat: Mapping[str, Any]) -> dict[str, Any]:
    """A VAT code as kept in the cache: what vat_rate and vat_code_for read of it."""
    return {key: vat[key] for key in ("vatId", "description", "type", "vatRate", "schedules") if key in vat}


def created_number(response: requests.Response) -> str:
    """The new document's number: the last path segment of the create's Location header."""
    location = response.headers.get("Location", "")
    segment = unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]) if location else ""
    if not segment:
        # Created, but Brygga cannot tell which number: the order is looked up before anything else.
        raise SyncError(
            HTTP_BAD_RESPONSE.code,
            f"Visma.net answered {response.status_code} to a create without a Location header",
            details={"http_status": response.status_code},
        )
    return segment


def filter_time(moment: datetime, zone: ZoneInfo) -> str:
    """A change filter's value: ``yyyy-MM-ddTHH:mm:ss.fff`` in the company's local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def parse_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """A Visma.net timestamp (local time without offset, or with one) as an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def current_rate(vat: Mapping[str, Any], *, today: date | None = None) -> Decimal | None:
    """A VAT code's rate today: its schedule that started last, or its own vatRate."""
    day = (today or date.today()).isoformat()
    schedules = [s for s in vat.get("schedules") or [] if isinstance(s, dict) and s.get("vatRate") is not None]
    started = [s for s in schedules if str(s.get("startDate") or "")[:10] <= day] or schedules
    value = max(started, key=lambda s: str(s.get("startDate") or ""))["vatRate"] if started else vat.get("vatRate")
    try:
        return None if value in (None, "") else Decimal(str(value))
    except InvalidOperation:
        return None


def _purchase(vat: Mapping[str, Any]) -> bool:
    kind = str(vat.get("type") or "").lower()
    return "purchase" in kind or "input" in kind or "reverse" in kind


def _rate_text(rate: Decimal) -> str:
    rate = Decimal(rate)
    return str(int(rate)) if rate == rate.to_integral_value() else format(rate.normalize(), "f")


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
