"""Fortnox OAuth2: the consent URL, the code exchange and the signed ``state``.

Flow: admin builds ``authorization_url`` with ``make_state(connector.pk)``; Fortnox
redirects back with ``code`` and ``state``; the view checks ``read_state(state)``
and calls ``FortnoxClient.exchange_code``. Access and refresh tokens are then kept
fresh by ``FortnoxClient`` through the store it is handed.

With ``settings["grant"] = "client_credentials"`` (see ``connectors.fortnox.settings``)
the consent page is asked for a service account; after that consent Brygga gets its
access tokens by client credentials and keeps no refresh token.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from django.core import signing

from connectors.fortnox.errors import AUTH
from connectors.fortnox.settings import FortnoxAuthSettings, parse_auth_settings
from core.errors import CONNECTOR_SETTINGS, SyncError
from core.ports import ConnectorAccount

DEFAULT_AUTH_URL = "https://apps.fortnox.se"
DEFAULT_SCOPES = ["invoice", "customer", "article", "companyinformation", "settings", "payment", "bookkeeping", "price"]
STATE_SALT = "brygga.connectors.fortnox.oauth-state"
STATE_MAX_AGE = 15 * 60  # seconds; Fortnox's authorization code itself lives 10 minutes


def auth_settings(connector: ConnectorAccount) -> FortnoxAuthSettings:
    """The connector's explicit grant (settings["grant"]); SyncError when the settings are invalid."""
    try:
        return parse_auth_settings(connector.settings)
    except ValueError as exc:
        raise SyncError(
            CONNECTOR_SETTINGS.code,
            f"Fortnox connector settings: {exc}",
            permanent=True,
            hint="Correct 'Grant' and 'Tenant id' on the Fortnox connector in Brygga admin.",
        ) from exc


def oauth_base(connector: ConnectorAccount) -> str:
    """The OAuth host, e.g. https://apps.fortnox.se."""
    return (connector.auth_url or DEFAULT_AUTH_URL).rstrip("/")


def token_url(connector: ConnectorAccount) -> str:
    return f"{oauth_base(connector)}/oauth-v1/token"


def client_id(connector: ConnectorAccount) -> str:
    value = str((connector.credentials or {}).get("client_id") or "")
    if not value:
        raise SyncError(
            AUTH.code,
            "The Fortnox connector has no client id",
            hint="Enter the Fortnox app's client id and secret on the connector in Brygga admin.",
        )
    return value


def basic_auth(connector: ConnectorAccount) -> str:
    """The ``Authorization: Basic base64(client_id:client_secret)`` header value."""
    secret = str((connector.credentials or {}).get("client_secret") or "")
    if not secret:
        raise SyncError(
            AUTH.code,
            "The Fortnox connector has no client secret",
            hint="Enter the Fortnox app's client id and secret on the connector in Brygga admin.",
        )
    pair = f"{client_id(connector)}:{secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def authorization_url(
    connector: ConnectorAccount,
    *,
    redirect_uri: str,
    state: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    service_account: bool | None = None,
) -> str:
    """The Fortnox consent page URL the user is sent to.

    `service_account` defaults to the connector's grant (client credentials → yes).
    """
    if service_account is None:
        service_account = auth_settings(connector).service_account
    params = {
        "client_id": client_id(connector),
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "access_type": "offline",
        "response_type": "code",
    }
    if service_account:
        # Fortnox creates a service account (one per app and company; only a system
        # administrator may approve it, and the app must allow service accounts in the
        # developer portal). Afterwards the connector gets tokens by client credentials
        # with settings["tenant_id"] as the TenantId header.
        params["account_type"] = "service"
    # quote (not quote_plus): scopes are separated by %20, which every OAuth server reads.
    return f"{oauth_base(connector)}/oauth-v1/auth?{urlencode(params, quote_via=quote)}"


def make_state(connector_id: int) -> str:
    """A signed, timestamped ``state`` naming the connector being connected."""
    return signing.dumps({"connector": int(connector_id)}, salt=STATE_SALT)


def read_state(state: str) -> int:
    """The connector id from ``state``.

    Raises ``django.core.signing.BadSignature`` (``SignatureExpired`` after 15 minutes).
    """
    data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    if not isinstance(data, dict) or "connector" not in data:
        raise signing.BadSignature("state carries no connector")
    return int(data["connector"])
