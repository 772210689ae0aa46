"""OAuth access tokens cached on the Connector row and shared by all workers.

Obtaining a token happens under a row lock on the connector: a second worker that
needs a token waits for the first and then uses the token it stored. That is what
keeps single-use refresh tokens (Fortnox) from being spent twice, and keeps token
endpoints with tiny limits (Norce: 3/min) from being hammered.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from django.db import transaction
from django.utils import timezone

from integrations.models import Connector

# Refresh a little before expiry so a token never dies mid-request.
MIN_VALIDITY = timedelta(seconds=120)


def _valid(tokens: dict[str, Any], not_this: str | None) -> bool:
    access = tokens.get("access_token")
    expires = tokens.get("expires_at")
    if not access or access == not_this or not expires:
        return False
    return timezone.now() + MIN_VALIDITY < datetime.fromisoformat(expires)


def store_tokens(connector: Connector, grant: dict[str, Any], *, keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save a token response (access_token, expires_in, refresh_token?) on the connector."""
    expires_at = timezone.now() + timedelta(seconds=int(grant.get("expires_in") or 3600))
    tokens = dict(keep or {})
    tokens.update({k: v for k, v in grant.items() if k in ("access_token", "refresh_token", "scope", "token_type")})
    tokens["expires_at"] = expires_at.isoformat()
    connector.tokens = tokens
    connector.token_expires_at = expires_at
    connector.save(update_fields=["tokens", "token_expires_at", "updated_at"])
    return tokens


def access_token(connector: Connector, obtain: Callable[[dict[str, Any]], dict[str, Any]], *, rejected: str | None = None) -> str:
    """Return a valid access token, calling `obtain(current_tokens)` under a lock when needed.

    `rejected` is a token the API just refused (401): it is never returned again.
    `obtain` receives the stored tokens (with any refresh token) and returns the
    token endpoint's JSON answer.
    """
    if _valid(connector.tokens, rejected):
        return connector.tokens["access_token"]
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        if _valid(locked.tokens, rejected):
            connector.tokens, connector.token_expires_at = locked.tokens, locked.token_expires_at
            return locked.tokens["access_token"]
        grant = obtain(locked.tokens)
        keep = {k: v for k, v in locked.tokens.items() if k == "refresh_token"}
        tokens = store_tokens(locked, grant, keep=keep)
    connector.tokens, connector.token_expires_at = tokens, locked.token_expires_at
    return tokens["access_token"]
