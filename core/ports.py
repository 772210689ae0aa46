"""The ports: what a connector is handed by the engine, typed as protocols.

A connector's client talks to its system through the shared transport; it is handed
the connector's account (settings and credentials), a store for what it must keep
between calls (tokens, a changed grant, "reconnect needed") and the rate limiter all
workers share. The engine implements these on its database; a test may hand in its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from core.limits import RateLimit

# `obtain(current_tokens)` asks the system's token endpoint and returns its JSON answer.
TokenGrant = Callable[[dict[str, Any]], dict[str, Any]]


class ConnectorAccount(Protocol):
    """One merchant's access to one system, as configured by staff."""

    pk: Any
    system: str
    base_url: str
    auth_url: str
    settings: dict[str, Any]
    credentials: dict[str, Any]
    tokens: dict[str, Any]


class ConnectorStore(Protocol):
    """What a connector keeps between calls, shared by every worker."""

    def access_token(
        self,
        obtain: TokenGrant,
        *,
        rejected: str | None = None,
        grant: str | None = None,
        refresh: bool = True,
        unrecorded: str | None = None,
    ) -> str:
        """A valid access token; `obtain` is called (once across all workers) when none is.

        `rejected` is a token the API just refused, never returned again. With `grant`, only
        tokens that grant produced are used; `refresh=False`: the grant keeps no refresh token;
        `unrecorded` names the grant of tokens stored without one."""
        ...

    def store_tokens(
        self, answer: dict[str, Any], *, grant_type: str | None = None, refresh: bool = True
    ) -> dict[str, Any]:
        """Keep a token endpoint's answer (e.g. after an authorization-code exchange)."""
        ...

    def save_settings(self, settings: dict[str, Any]) -> None:
        """Keep the connector's changed settings (e.g. a grant it moved to by itself)."""
        ...


class RateLimiter(Protocol):
    """A rate limit shared by every worker and process, as the API counts it."""

    def acquire(self, key: str, rate: RateLimit, *, priority: bool = False) -> float:
        """Block until a request may be sent under `rate`; return the seconds waited."""
        ...

    def penalise(self, key: str, rate: RateLimit, seconds: float) -> None:
        """After an unexpected 429, hold every worker back for `seconds`."""
        ...
