"""The token store connectors are handed: OAuth access tokens cached on the Connector row and
shared by all workers.

Obtaining a token happens under a row lock on the connector: a second worker that
needs a token waits for the first and then uses the token it stored. That is what
keeps single-use refresh tokens (Fortnox) from being spent twice, and keeps token
endpoints with tiny limits (Norce: 3/min) from being hammered.

A caller that names its ``grant`` gets tokens obtained by that grant only: the grant is
stored with the tokens, so a connector switched to another grant never reuses a token
(or a refresh token) the old grant produced.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import SyncError
from integrations.models import Connector

# Refresh a little before expiry so a token never dies mid-request.
MIN_VALIDITY = timedelta(seconds=120)


def _same_grant(tokens: dict[str, Any], grant: str | None, unrecorded: str | None) -> bool:
    """Tokens stored without a grant (older rows, seeded tokens) count as `unrecorded`'s, or any grant's."""
    if grant is None:
        return True
    return (tokens.get("grant") or unrecorded or grant) == grant


def _valid(
    tokens: dict[str, Any], not_this: str | None, grant: str | None = None, unrecorded: str | None = None
) -> bool:
    if not _same_grant(tokens, grant, unrecorded):
        return False
    access = tokens.get("access_token")
    expires = tokens.get("expires_at")
    if not access or access == not_this or not expires:
        return False
    return timezone.now() + MIN_VALIDITY < datetime.fromisoformat(expires)


def store_tokens(
    connector: Connector,
    grant: dict[str, Any],
    *,
    keep: dict[str, Any] | None = None,
    grant_type: str | None = None,
    refresh: bool = True,
) -> dict[str, Any]:
    """Save a token response (access_token, expires_in, refresh_token?) on the connector.

    `grant_type` records which grant produced the tokens; `refresh=False` keeps no
    refresh token (a grant that does not use one).
    """
    expires_at = timezone.now() + timedelta(seconds=int(grant.get("expires_in") or 3600))
    tokens = dict(keep or {})
    tokens.update({k: v for k, v in grant.items() if k in ("access_token", "refresh_token", "scope", "token_type")})
    if not refresh:
        tokens.pop("refresh_token", None)
    if grant_type:
        tokens["grant"] = grant_type
    tokens["expires_at"] = expires_at.isoformat()
    connector.tokens = tokens
    connector.token_expires_at = expires_at
    # New tokens mean the system accepts Brygga again: a "reconnect" state is over.
    connector.reconnect_needed_at, connector.reconnect_reason = None, ""
    connector.save(
        update_fields=["tokens", "token_expires_at", "reconnect_needed_at", "reconnect_reason", "updated_at"]
    )
    return tokens


def mark_reconnect_needed(connector: Connector, reason: str) -> None:
    """The system no longer accepts Brygga's authorisation and only a person can restore it: the
    connector says so at once (admin, dashboard, API), and the engine lets its tasks wait."""
    now = timezone.now()
    Connector.objects.filter(pk=connector.pk, reconnect_needed_at__isnull=True).update(
        reconnect_needed_at=now, reconnect_reason=reason[:2000]
    )
    connector.reconnect_needed_at = connector.reconnect_needed_at or now
    connector.reconnect_reason = connector.reconnect_reason or reason[:2000]


def access_token(
    connector: Connector,
    obtain: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    rejected: str | None = None,
    grant: str | None = None,
    refresh: bool = True,
    unrecorded: str | None = None,
) -> str:
    """Return a valid access token, calling `obtain(current_tokens)` under a lock when needed.

    `rejected` is a token the API just refused (401): it is never returned again.
    `obtain` receives the stored tokens (with any refresh token) and returns the
    token endpoint's JSON answer. With `grant`, only tokens that grant produced are
    used and the new ones are recorded as its; `refresh=False` means the grant uses no
    refresh token: `obtain` is not shown one and none is kept. `unrecorded` names the
    grant that produced tokens stored without one (None: any grant may use them).
    """
    if _valid(connector.tokens, rejected, grant, unrecorded):
        return connector.tokens["access_token"]
    try:
        tokens, expires_at = _obtain_locked(
            connector, obtain, rejected=rejected, grant=grant, refresh=refresh, unrecorded=unrecorded
        )
    except SyncError as exc:
        if (exc.details or {}).get("reconnect_needed"):
            # Outside the lock's transaction, so the state survives the error that ends it.
            mark_reconnect_needed(connector, exc.message)
        raise
    connector.tokens, connector.token_expires_at = tokens, expires_at
    return tokens["access_token"]


def _obtain_locked(
    connector: Connector,
    obtain: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    rejected: str | None,
    grant: str | None,
    refresh: bool,
    unrecorded: str | None,
) -> tuple[dict[str, Any], datetime | None]:
    """Under the connector's row lock: the tokens another worker just stored, or new ones."""
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        if _valid(locked.tokens, rejected, grant, unrecorded):
            return locked.tokens, locked.token_expires_at
        current = dict(locked.tokens or {})
        if not refresh:
            current.pop("refresh_token", None)
        answer = obtain(current)
        keep = {k: v for k, v in current.items() if k == "refresh_token"} if refresh else {}
        tokens = store_tokens(locked, answer, keep=keep, grant_type=grant, refresh=refresh)
        connector.reconnect_needed_at, connector.reconnect_reason = None, ""
        return tokens, locked.token_expires_at


class ConnectorTokens:
    """The `core.ports.ConnectorStore` a connector's client is handed: its row in the database."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def access_token(
        self,
        obtain: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        rejected: str | None = None,
        grant: str | None = None,
        refresh: bool = True,
        unrecorded: str | None = None,
    ) -> str:
        return access_token(
            self.connector, obtain, rejected=rejected, grant=grant, refresh=refresh, unrecorded=unrecorded
        )

    def store_tokens(
        self, answer: dict[str, Any], *, grant_type: str | None = None, refresh: bool = True
    ) -> dict[str, Any]:
        return store_tokens(self.connector, answer, grant_type=grant_type, refresh=refresh)

    def save_settings(self, settings: dict[str, Any]) -> None:
        Connector.objects.filter(pk=self.connector.pk).update(settings=settings)
        self.connector.settings = settings
