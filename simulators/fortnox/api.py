"""What every Fortnox resource shares: bearer auth and the per-token rate limit in front
of /3/ and /api/, the two error bodies, request bodies, lists and paging."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from simulators.base import Request, Response, Simulator
from simulators.fortnox.errors import ApiError, Code, WarehouseError
from simulators.fortnox.values import STOCKHOLM, as_text, natural_key
from simulators.limits import retry_after

RATE_LIMIT = 25  # requests ...
RATE_WINDOW = 5.0  # ... per sliding window of this many seconds, per access token
DEFAULT_LIMIT, MAX_LIMIT = 100, 500

BOOLEAN_FIELDS = frozenset(
    {
        "Active",
        "Bulky",
        "EUQuarterlyReport",
        "Expired",
        "Housework",
        "HouseWork",
        "NotCompleted",
        "PreSelected",
        "ShowPriceVATIncluded",
        "StockGoods",
        "VATIncluded",
        "WebshopArticle",
    }
)

SCOPE_OF_RESOURCE = {
    "customers": "customer",
    "articles": "article",
    "invoices": "invoice",
    "companyinformation": "companyinformation",
    "settings": "settings",
    "pricelists": "price",
    "prices": "price",
}


class FortnoxApi(Simulator):
    """The request layer under the resources of `FortnoxSimulator` (one company, one host)."""

    def clock(self) -> datetime:
        """Now in Swedish local time (naive), as Fortnox stamps changes. Tests may replace it."""
        return datetime.now(STOCKHOLM).replace(tzinfo=None, microsecond=0)

    def error_response(self, status: int, message: str, code: int | None = None) -> Response:
        """Fortnox's ErrorInformation body; lowercase keys as the docs show, capitalised on request."""
        if code is None:
            code = {
                401: Code.INVALID_LOGIN,
                403: Code.NO_SCOPE_ACCESS,
                404: Code.NOT_FOUND,
                405: Code.NOT_FOUND,
                429: Code.RATE_LIMITED,
            }.get(status, Code.SYSTEM_EXCEPTION if status >= 500 else Code.INVALID_PARAMETER)
        keys = ("Error", "Message", "Code") if self.capitalised_errors else ("error", "message", "code")
        return Response(status=status, body={"ErrorInformation": dict(zip(keys, (1, message, code)))})

    @staticmethod
    def warehouse_error_response(status: int, error: str, message: str) -> Response:
        """The warehouse module's WebException body: {"error", "id", "message"}.

        The spec gives only the three string fields; `error` is read as a short code (the
        stock point docs name "alreadyexists") and `id` as an identifier of the failure.
        """
        return Response(status=status, body={"error": error, "id": str(uuid.uuid4()), "message": message})

    def before_request(self, request: Request) -> Response | None:
        """Bearer auth and the per-token rate limit on /3/ and /api/; lowercase query names and
        scopes on /3/ only (warehouse parameters are camelCase; its scope is undocumented)."""
        warehouse = request.path.startswith("/api/")
        if not (request.path == "/3" or request.path.startswith("/3/") or warehouse):
            return None

        def fail(status: int, message: str, code: int, error: str) -> Response:
            if warehouse:
                return self.warehouse_error_response(status, error, message)
            return self.error_response(status, message, code)

        header = request.header("authorization")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            return fail(
                401,
                "Kan inte logga in, access-token eller client-secret saknas (2).",
                Code.LOGIN_MISSING,
                "unauthorized",
            )
        token = header[7:].strip()
        with self.lock:
            grant = self.access_tokens.get(token)
        if grant is None or grant.expires_at <= time.time():
            return fail(401, "Ogiltig inloggning", Code.INVALID_LOGIN, "unauthorized")
        wait = self.limiter.hit(token)
        if wait is not None:
            response = fail(429, "Too Many Requests", Code.RATE_LIMITED, "toomanyrequests")
            if self.retry_after_header:
                response.headers["Retry-After"] = retry_after(wait)
            return response
        if warehouse:
            return None
        # Query parameter names must be lower case; how the real API answers otherwise is
        # undocumented: the simulator refuses them so a client cannot get it wrong silently.
        upper = sorted(k for k in request.query if k != k.lower())
        if upper:
            return self.error_response(400, f"Ogiltig parameter i anropet. ({upper[0]})", Code.INVALID_PARAMETER)
        parts = request.path.split("/")
        scope = SCOPE_OF_RESOURCE.get(parts[2].lower()) if len(parts) > 2 else None
        if self.enforce_scopes and scope and scope not in grant.scopes:
            return self.error_response(403, "Har inte behörighet för scope", Code.NO_SCOPE_ACCESS)
        return None

    def _api(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Run a handler under the state lock and turn ApiError into an ErrorInformation answer."""

        def wrapped(request: Request) -> Response:
            request.params = {key: unquote(value) for key, value in request.params.items()}
            try:
                with self.lock:
                    return handler(request)
            except ApiError as exc:
                return self.error_response(exc.status, exc.message, exc.code)

        return wrapped

    def _warehouse_api(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Like `_api`, with the warehouse module's error body (also for the ApiErrors of shared helpers)."""

        def wrapped(request: Request) -> Response:
            request.params = {key: unquote(value) for key, value in request.params.items()}
            try:
                with self.lock:
                    return handler(request)
            except WarehouseError as exc:
                return self.warehouse_error_response(exc.status, exc.error, exc.message)
            except ApiError as exc:
                return self.warehouse_error_response(
                    exc.status, "badrequest" if exc.status == 400 else "error", exc.message
                )

        return wrapped

    @staticmethod
    def _payload(request: Request, wrapper: str, writable: frozenset[str], read_only: frozenset[str]) -> dict[str, Any]:
        """The object inside `{"<Wrapper>": {...}}`, with read-only fields dropped."""
        if not request.body.strip():
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Error deserializing JSON: JSON_ERROR_SYNTAX", Code.JSON_SYNTAX) from None
        if not isinstance(body, dict) or not body:
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        unknown = [key for key in body if key != wrapper]
        if unknown:
            raise ApiError(400, f"Felaktigt fältnamn ({unknown[0]})", Code.INVALID_FIELD)
        data = body[wrapper]
        if not isinstance(data, dict):
            raise ApiError(400, "Ingen eller felaktig typ av data.", Code.EMPTY_BODY)
        return FortnoxApi._fields(data, writable, read_only)

    @staticmethod
    def _fields(data: dict[str, Any], writable: frozenset[str], read_only: frozenset[str]) -> dict[str, Any]:
        """Check field names; read-only fields clients echo back are ignored, unknown ones refused."""
        for key, value in data.items():
            if key not in writable and key not in read_only:
                raise ApiError(400, f"Felaktigt fältnamn ({key})", Code.INVALID_FIELD)
            if key in BOOLEAN_FIELDS and key in writable and not isinstance(value, bool):
                if str(value).lower() not in ("true", "false"):
                    raise ApiError(400, f"Värdet måste vara en boolean ({value})", Code.NOT_BOOLEAN)
                data[key] = str(value).lower() == "true"
        return {k: v for k, v in data.items() if k in writable}

    def _list(
        self,
        request: Request,
        resource: str,
        records: list[dict[str, Any]],
        *,
        search: dict[str, str],
        sort: dict[str, str],
        key_field: str,
    ) -> tuple[list[dict[str, Any]], dict]:
        """Search (case-insensitive substrings), lastmodified, sort and page a list."""
        query = request.query
        # Several search parameters are combined (AND); the real API is documented to honour
        # one resource-specific filter at a time, and clients post-filter anyway.
        for param, field_name in search.items():
            if param in query:
                needle = query[param].lower()
                records = [r for r in records if needle in as_text(r.get(field_name)).lower()]
        if query.get("lastmodified"):
            since = self._parse_lastmodified(query["lastmodified"])
            records = [r for r in records if self.modified_at.get((resource, r[key_field]), datetime.min) > since]
        sort_by = query.get("sortby", "")
        if sort_by and sort_by not in sort:
            raise ApiError(400, f"Ogiltig parameter i anropet. (sortby={sort_by})", Code.INVALID_PARAMETER)
        sort_field = sort.get(sort_by, key_field)
        descending = query.get("sortorder", "ascending") == "descending"
        records = sorted(records, key=lambda r: natural_key(r.get(sort_field)), reverse=descending)
        start, limit, meta = self._paging(query, len(records))
        return records[start : start + limit], meta

    def _paging(self, query: dict[str, str], total: int) -> tuple[int, int, dict[str, int]]:
        """(first position, limit, MetaInformation) of a page of a list of `total`."""
        page = self._int_param(query, "page", 1, minimum=1)
        limit = min(self._int_param(query, "limit", DEFAULT_LIMIT, minimum=1), MAX_LIMIT)
        offset = self._int_param(query, "offset", 0, minimum=0)
        # Whether offset combines with page is undocumented: here it skips records before paging.
        meta = {
            "@TotalResources": total,
            "@TotalPages": math.ceil(max(total - offset, 0) / limit),
            "@CurrentPage": page,
        }
        return offset + (page - 1) * limit, limit, meta

    @staticmethod
    def _int_param(query: dict[str, str], name: str, default: int, *, minimum: int) -> int:
        if name not in query or query[name] == "":
            return default
        try:
            value = int(query[name])
        except ValueError:
            raise ApiError(400, f"Ogiltig parameter i anropet. ({name})", Code.INVALID_PARAMETER) from None
        if value < minimum:
            raise ApiError(400, f"Ogiltig parameter i anropet. ({name})", Code.INVALID_PARAMETER)
        return value

    @staticmethod
    def _parse_lastmodified(value: str) -> datetime:
        """`YYYY-MM-DD HH:MM[:SS]` or a bare date, Swedish local time."""
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                return datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
        raise ApiError(400, "Ogiltig parameter i anropet. (lastmodified)", Code.INVALID_PARAMETER)

    def _touch(self, resource: str, key: str) -> None:
        self.modified_at[(resource, key)] = self.clock()

    def _url(self, path: str) -> str:
        return f"{self.url}{path}"

    @staticmethod
    def _next_number(taken: Iterable[str]) -> str:
        numeric = [int(n) for n in taken if n.isdigit()]
        return str(max(numeric, default=0) + 1)
