"""The consent ERP's client: it only trades an authorization code for tokens, and remembers each trade."""

from __future__ import annotations

from typing import Any

exchanged: list[tuple[int, str, str]] = []


class ConsentErpClient:
    def __init__(self, connector: Any, *, store: Any, limiter: Any, session: Any = None) -> None:
        self.connector = connector
        self.store = store

    def exchange_code(self, *, code: str, redirect_uri: str) -> None:
        exchanged.append((self.connector.pk, code, redirect_uri))
        self.store.store_tokens({"access_token": f"token-for-{code}", "refresh_token": "refresh", "expires_in": 3600})
