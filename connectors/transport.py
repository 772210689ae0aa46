"""The one HTTP helper every connector client uses.

It applies the shared rate limiter, retries transient failures a few times in
process (429 honouring Retry-After, 5xx, timeouts, connection errors), and turns
whatever still fails into a SyncError with a stable code. Clients subclass
ApiClient and supply authentication and the system's error-body parsing.

A client is handed what it shares with every other worker (see core.ports): the
connector's store (tokens) and the rate limiter. It imports nothing of the engine.
"""

from __future__ import annotations

import json
import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings

from core.errors import (
    HTTP_BAD_RESPONSE,
    HTTP_CLIENT_ERROR,
    HTTP_CONNECTION,
    HTTP_RATE_LIMITED,
    HTTP_SERVER_ERROR,
    HTTP_TIMEOUT,
    SyncError,
)
from core.limits import RateLimit
from core.ports import ConnectorAccount, ConnectorStore, RateLimiter

log = logging.getLogger("brygga.transport")

TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class ApiClient:
    """Base class: rate-limited, retrying JSON-over-HTTP for one connector."""

    system = "generic"
    # In-process attempts per call before the error goes up to the Task.
    attempts = 4
    backoff = 0.5  # seconds, doubled per attempt, with jitter
    # Priority callers may use the share of a rate limit kept in reserve (RateLimit.reserve).
    priority = False

    def __init__(
        self,
        connector: ConnectorAccount,
        *,
        store: ConnectorStore,
        limiter: RateLimiter,
        session: requests.Session | None = None,
    ) -> None:
        self.connector = connector
        self.store = store
        self.limiter = limiter
        self.session = session or requests.Session()
        self.timeout = settings.BRYGGA["HTTP_TIMEOUT"]
        self.calls = 0  # requests actually sent, for logs and benchmarks

    # -- to override ---------------------------------------------------------------
    def rate_limit(self, url: str) -> tuple[str, RateLimit] | None:
        """(bucket key, limit) for this URL, or None when the API has no limit we know of."""
        return None

    def auth_headers(self, *, rejected: str | None = None) -> dict[str, str]:
        return {}

    def error_from_response(self, response: requests.Response) -> SyncError:
        return SyncError(
            HTTP_CLIENT_ERROR.code,
            f"{response.status_code} from {self.system}: {response.text[:300]}",
            status=response.status_code,
        )

    # -- the helper ----------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        authenticate: bool = True,
        allow_404: bool = False,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request. A non-idempotent call (a create, a single-use token grant) is
        re-sent only after a 429, which the API refused before doing any work: after a 5xx
        or a timeout it may have happened, and the caller must look before trying again.

        `data` may be a callable returning a fresh iterable of bytes: the body is then
        generated while it is sent (chunked), and generated again for a retry."""
        last_error: SyncError | None = None
        rejected_token: str | None = None
        for attempt in range(1, self.attempts + 1):
            limit = self.rate_limit(url)
            if limit:
                self.limiter.acquire(limit[0], limit[1], priority=self.priority)
            sent_headers = {"Accept": "application/json"}
            if authenticate:
                sent_headers.update(self.auth_headers(rejected=rejected_token))
            sent_headers.update(headers or {})
            try:
                self.calls += 1
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data() if callable(data) else data,
                    headers=sent_headers,
                    timeout=self.timeout,
                )
            except requests.Timeout as exc:
                last_error = SyncError(
                    HTTP_TIMEOUT.code,
                    f"{method} {self._path(url)} timed out after {self.timeout:g}s",
                    details={"error": type(exc).__name__},
                )
            except requests.ConnectionError as exc:
                last_error = SyncError(
                    HTTP_CONNECTION.code,
                    f"{method} {self._path(url)}: cannot connect to {self.system}",
                    details={"error": type(exc).__name__},
                )
            else:
                if response.status_code < 400 or (allow_404 and response.status_code == 404):
                    return response
                if response.status_code == 401 and authenticate and rejected_token is None and attempt < self.attempts:
                    # The token may have been revoked or rotated: get a fresh one once.
                    rejected_token = self._bearer(sent_headers)
                    if rejected_token:
                        continue
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code == 429:
                    wait = retry_after if retry_after is not None else self.default_429_wait()
                    if limit and retry_after is not None:
                        # The API named a wait: hold every worker back for it. Without one, our
                        # shared window already keeps to the limit, and the 429 means requests
                        # arrived bunched up: only this request pauses, the window stays as it is.
                        self.limiter.penalise(limit[0], limit[1], wait)
                    last_error = SyncError(
                        HTTP_RATE_LIMITED.code,
                        f"{method} {self._path(url)}: 429 from {self.system}",
                        retry_after=wait,
                        status=429,
                    )
                elif response.status_code in TRANSIENT_STATUSES:
                    error = self.error_from_response(response)
                    last_error = SyncError(
                        HTTP_SERVER_ERROR.code,
                        f"{method} {self._path(url)}: {response.status_code} from {self.system}: {error.message}",
                        retry_after=retry_after,
                        status=response.status_code,
                    )
                else:
                    raise self.error_from_response(response)
            if not idempotent and last_error.code != "http.rate_limited":
                raise last_error
            if attempt < self.attempts:
                self._sleep(attempt, last_error)
        assert last_error is not None
        raise last_error

    def get_json(self, url: str, **kwargs: Any) -> Any:
        return self.decode(self.request("GET", url, **kwargs))

    def decode(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise SyncError(
                HTTP_BAD_RESPONSE.code,
                f"{self.system} answered {response.status_code} with a body that is not JSON: {response.text[:120]!r}",
            ) from exc

    def default_429_wait(self) -> float:
        return 1.0

    def _sleep(self, attempt: int, error: SyncError | None) -> None:
        if error is not None and error.retry_after is not None:
            delay = error.retry_after
        else:
            delay = self.backoff * (2 ** (attempt - 1))
        delay = min(delay, 30.0) * (1 + random.random() * 0.1)
        log.info("%s: retrying in %.2fs after %s", self.system, delay, error)
        time.sleep(delay)

    @staticmethod
    def _bearer(headers: dict[str, str]) -> str | None:
        value = headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    @staticmethod
    def _path(url: str) -> str:
        return url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0]
