"""What every Visma.net resource shares: bearer auth per company, scopes, the rate limit,
the IPPException body, background requests, ETags, lists and their change filters.

One simulator serves the three hosts the connector keeps apart: the ERP API (``/v1``,
``/v2``), Visma Connect (``/connect/token``) and SalesOrders V3 (``/api/v3``).
"""

from __future__ import annotations

import inspect
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from simulators.base import Faults, Handler, Request, Response, Simulator
from simulators.limits import retry_after
from simulators.vismanet.company import Company
from simulators.vismanet.errors import ApiError, Fault, error_body, validation
from simulators.vismanet.ratelimit import FixedWindow
from simulators.vismanet.values import STOCKHOLM, day_time, money, parse_json, row_version, stamp, unwrap

DEFAULT_MAX_PAGE_SIZE = 1000
ERP_PREFIXES = ("/v1/", "/v2/", "/api/v3/")
SALESORDER_SCOPE = "visma.net.erp.salesorder"
ERP_SCOPE = "vismanet_erp_service_api"


@dataclass
class VismaFaults(Faults):
    """The shared faults of `simulators.base` plus Visma.net's own (all settable over /_sim/faults)."""

    server_error_burst: int = 0  # the next this many API requests answer 500 or 503 (alternating)
    fail_after_create: int = 0  # the next this many creates commit, then lose their answer
    fail_after_create_mode: str = "502"  # "502": answer 502 Bad Gateway; "drop": close the connection
    hold_after_create: float = 0.0  # seconds a create's answer is held back after the commit
    stale_etag_once: bool = False  # the next write with If-Match answers 412 whatever the ETag
    lose_webhooks: int = 0  # the next this many webhook notifications are never delivered
    duplicate_webhooks: int = 0  # the next this many webhook notifications are delivered twice
    token_down: bool = False  # the token endpoint answers 503


def plain(value: Any) -> Any:
    """A stored record as a GET body: Decimal → number, datetimes company-local, `_`-keys dropped."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return day_time(value)
    return value


def path_kind(path: str) -> str:
    """The resource a path names, for the request counter: /v1/customerinvoice/1/... → customerinvoice."""
    parts = [p for p in path.lower().split("/") if p]
    if parts[:2] == ["connect", "token"]:
        return "token"
    if parts[:2] == ["api", "v3"]:
        return parts[2] if len(parts) > 2 else "v3"
    return parts[1] if len(parts) > 1 else (parts[0] if parts else "/")


class VismaNetApi(Simulator):
    """The request layer under the resources of `VismaNetSimulator`."""

    companies: dict[str, Company]
    limiter: FixedWindow
    faults: VismaFaults
    requests: Counter[str]
    clock_offset: timedelta = timedelta(0)  # added to the real time (the control API's clock)

    def clock(self) -> datetime:
        """Now in company-local time (Europe/Stockholm, naive, milliseconds). Tests may replace it.

        Visma does not document the time zone of its change timestamps (open question 9);
        the simulator stamps and filters in company-local time, confidence L.
        """
        now = datetime.now(STOCKHOLM).replace(tzinfo=None) + self.clock_offset
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    def error_response(self, status: int, message: str, code: str | None = None) -> Response:
        return Response(status=status, body=error_body(status, message, code))

    # -- dispatch -------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sim/"):
            return super().dispatch(request)
        with self.lock:
            self.requests_seen.append((time.time(), request.method, request.path))
            self.requests[path_kind(request.path)] += 1
        response = self._serve(request)
        if self._is_api(request.path):
            response.headers.update(self.limiter.headers(getattr(request, "rate_key", None)))
        return response

    @staticmethod
    def _is_api(path: str) -> bool:
        return path.lower().startswith(ERP_PREFIXES)

    def _serve(self, request: Request) -> Response:
        injected = self._inject_fault(request)
        if injected is not None:
            return injected
        if self._is_api(request.path):
            burst = self._server_error()
            if burst is not None:
                return burst
        early = self.before_request(request)
        if early is not None:
            return early
        handler = self._find(request)
        if isinstance(handler, Response):
            return handler
        mode = request.header("erp-api-background").strip()
        if mode and self._is_api(request.path) and not request.path.lower().startswith("/v1/background"):
            return self._run_in_background(request, handler, mode)
        response = handler(request)
        if request.method == "POST" and response.status == 201:
            response = self._after_create(response)
        return response

    def _find(self, request: Request) -> Handler | Response:
        allowed = False
        for method, pattern, handler, _ in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed = True
            if method == request.method:
                request.params = {k: unquote(v) for k, v in match.groupdict().items()}
                return handler
        return self.error_response(405 if allowed else 404, f"No route for {request.method} {request.path}")

    def _server_error(self) -> Response | None:
        with self.lock:
            if self.faults.server_error_burst <= 0:
                return None
            self.faults.server_error_burst -= 1
            status = 500 if self.faults.server_error_burst % 2 == 0 else 503
        return self.error_response(status, "An error has occurred (simulated).", Fault.INTERNAL)

    def _after_create(self, response: Response) -> Response:
        """Apply the timing faults to a create that has committed."""
        if self.faults.hold_after_create > 0:
            time.sleep(self.faults.hold_after_create)
        with self.lock:
            if self.faults.fail_after_create <= 0:
                return response
            self.faults.fail_after_create -= 1
            self.lost_answers += 1
            mode = self.faults.fail_after_create_mode
        if mode == "drop":
            self._drop_connection()
        return self.error_response(502, "Bad Gateway (the create was committed)", Fault.INTERNAL)

    @staticmethod
    def _drop_connection() -> None:
        """Close the connection of the request being served: the client sees it closed unanswered."""
        frame = inspect.currentframe()
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, BaseHTTPRequestHandler):
                try:
                    candidate.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                candidate.close_connection = True
                return
            frame = frame.f_back

    def _inject_fault(self, request: Request) -> Response | None:
        if not self._is_api(request.path):
            return None
        response = super()._inject_fault(request)
        if response is not None and response.status == 429:
            with self.lock:
                self.limiter.rejected += 1
        return response

    # -- auth, scopes and the rate limit ---------------------------------------------------------
    def before_request(self, request: Request) -> Response | None:
        if not self._is_api(request.path):
            return None
        header = request.header("authorization")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return self.error_response(401, "Authorization has been denied for this request: no access token.")
        with self.lock:
            grant = self.access_tokens.get(header[7:].strip())
        if grant is None or grant.expires_at <= time.time():
            return self.error_response(401, "The access token is invalid, expired or revoked.")
        company = self.companies.get(grant.tenant_id)
        if company is None or not company.licensed:
            return self.error_response(403, "No license for this company.", Fault.NO_LICENSE)
        request.company = company  # type: ignore[attr-defined]
        request.client_id = grant.client_id  # type: ignore[attr-defined]
        needed = self._scope_needed(request)
        if self.enforce_scopes and needed not in grant.scopes:
            return self.error_response(403, f"The access token lacks the scope '{needed}'.", Fault.FORBIDDEN)
        key = f"{grant.tenant_id}:{grant.client_id}"
        request.rate_key = key  # type: ignore[attr-defined]
        wait = self.limiter.hit(key)
        if wait is not None:
            response = self.error_response(429, "API rate limit exceeded.", Fault.TOO_MANY_REQUESTS)
            response.headers["Retry-After"] = retry_after(wait)
            return response
        return None

    @staticmethod
    def _scope_needed(request: Request) -> str:
        """The scope a request needs: read/create/update/delete by method (actions update).

        The service API's scope names are taken from a public client (confidence M); the
        SalesOrders V3 ones are assumed (`visma.net.erp.salesorder:*`, confidence L), and a
        V3 DELETE is taken to need `:update` as the default scope string has no `:delete`.
        """
        v3 = request.path.lower().startswith("/api/v3/")
        method = request.method
        if method == "GET":
            action = "read"
        elif method == "POST":
            action = "update" if "/action/" in request.path.lower() else "create"
        elif method == "DELETE" and not v3:
            action = "delete"
        else:
            action = "update"
        return f"{SALESORDER_SCOPE if v3 else ERP_SCOPE}:{action}"

    # -- handler helpers ----------------------------------------------------------------------------
    def _api(self, handler: Callable[[Request, Company], Response]) -> Handler:
        """Run a handler for the request's company under the state lock; ApiError → IPPException."""

        def wrapped(request: Request) -> Response:
            try:
                with self.lock:
                    return handler(request, request.company)  # type: ignore[attr-defined]
            except ApiError as exc:
                return self.error_response(exc.status, exc.message, exc.code)

        return wrapped

    @staticmethod
    def _wrapped_body(request: Request) -> dict[str, Any]:
        body = parse_json(request.body)
        if body is None:
            raise validation("The request body is empty")
        return unwrap(body)

    @staticmethod
    def _plain_body(request: Request) -> dict[str, Any]:
        body = parse_json(request.body)
        if not isinstance(body, dict):
            raise validation("The request body must be a JSON object")
        return body

    def _stamp_record(self, company: Company, record: dict[str, Any], *, created: bool = False) -> None:
        """A change to a record: new row version (ETag/timeStamp) and lastModifiedDateTime."""
        now = self.clock()
        record["_rv"] = company.next_row_version()
        record["timeStamp"] = row_version(record["_rv"])
        record["lastModifiedDateTime"] = now
        if created:
            record["createdDateTime"] = now

    @staticmethod
    def etag(record: dict[str, Any]) -> str:
        return f'"{record["timeStamp"]}"'

    def _check_if_match(self, request: Request, record: dict[str, Any], *, required: bool = False) -> None:
        """412 on a stale If-Match (or once, by the `stale_etag_once` fault); 428 when required and absent."""
        given = request.header("if-match").strip()
        if not given:
            if required:
                raise ApiError(428, "The If-Match header is required for this update.", Fault.PRECONDITION_REQUIRED)
            return
        if self.faults.stale_etag_once:
            self.faults.stale_etag_once = False
            raise ApiError(412, "The record has been changed by someone else.", Fault.PRECONDITION_FAILED)
        if given != "*" and given.removeprefix("W/").strip('"') != record["timeStamp"]:
            raise ApiError(412, "The record has been changed by someone else.", Fault.PRECONDITION_FAILED)

    def _created(self, path: str, record: dict[str, Any]) -> Response:
        """201 Created: empty body, absolute Location, ETag."""
        return Response(status=201, headers={"Location": f"{self.url}{path}", "ETag": self.etag(record)})

    def _no_content(self, record: dict[str, Any] | None = None) -> Response:
        return Response(status=204, headers={"ETag": self.etag(record)} if record else {})

    def _one(self, record: dict[str, Any], body: dict[str, Any]) -> Response:
        return Response(body=body, headers={"ETag": self.etag(record)})

    @staticmethod
    def _action_done(extra: dict[str, Any] | None = None) -> Response:
        return Response(
            body={"actionId": str(uuid.uuid4()), "actionResult": "Done", "errorInfo": None, **(extra or {})}
        )

    @staticmethod
    def _int_param(query: dict[str, str], name: str, default: int) -> int:
        raw = query.get(name, "")
        if raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise validation(f"Invalid value for '{name}': '{raw}'") from None
        if value < 1:
            raise validation(f"Invalid value for '{name}': '{raw}' (must be 1 or more)")
        return value

    def _page_bounds(self, query: dict[str, str], max_page_size: int) -> tuple[int, int]:
        """(start, size) of the requested page: pageNumber 1-based, pageSize capped silently.

        Visma calls both parameters mandatory; absent, the simulator serves page 1 of
        maxPageSize records rather than refusing (assumption, confidence L).
        """
        page = self._int_param(query, "pageNumber", 1)
        size = min(self._int_param(query, "pageSize", max_page_size), max_page_size)
        return (page - 1) * size, size

    @staticmethod
    def _with_metadata(items: list[dict[str, Any]], total: int, max_page_size: int) -> list[dict[str, Any]]:
        return [{**item, "metadata": {"totalCount": total, "maxPageSize": max_page_size}} for item in items]

    def _list(
        self, request: Request, records: list[dict[str, Any]], render: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Response:
        start, size = self._page_bounds(request.query, DEFAULT_MAX_PAGE_SIZE)
        page = [render(r) for r in records[start : start + size]]
        return Response(body=self._with_metadata(page, len(records), DEFAULT_MAX_PAGE_SIZE))
