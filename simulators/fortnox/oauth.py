"""OAuth on the Fortnox host: the consent page (/oauth-v1/auth), the token endpoint
(/oauth-v1/token: authorization_code, rotating refresh_token, client_credentials) and the
codes and grants they hand out."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 45 * 24 * 3600
AUTH_CODE_SECONDS = 600

DEFAULT_CLIENT_ID = "fortnox-client"
DEFAULT_CLIENT_SECRET = "fortnox-secret-value"
DEFAULT_SCOPE = "companyinformation settings customer article invoice payment bookkeeping currency price"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str | None  # as sent to /auth; the token request must repeat it
    scope: str
    tenant_id: int
    expires_at: float
    service_account: bool = False
    used: bool = False


@dataclass
class AccessGrant:
    client_id: str
    tenant_id: int
    scopes: frozenset[str]
    expires_at: float


@dataclass
class RefreshGrant:
    client_id: str
    tenant_id: int
    scope: str
    expires_at: float
    spent: bool = False


class OAuthServer(FortnoxApi):
    """The OAuth endpoints, the registered clients and the tokens they were given."""

    def _init_auth_state(self) -> None:
        self.auth_codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessGrant] = {}
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.refresh_token_uses: dict[str, int] = {}  # every presentation of a refresh token, valid or not
        self.issued_tokens: list[dict[str, Any]] = []  # every token response, oldest first
        self.service_consents: set[str] = set()  # client ids with an approved service account

    def add_client(self, client_id: str, client_secret: str, *, redirect_uri: str | None = None) -> None:
        """Register an OAuth client (an app in the developer portal)."""
        with self.lock:
            self.clients[client_id] = client_secret
            if redirect_uri:
                self.client_redirect_uris[client_id] = redirect_uri

    def issue_tokens(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        *,
        tenant_id: int | None = None,
        scope: str = DEFAULT_SCOPE,
        refresh: bool = True,
    ) -> dict[str, Any]:
        """Issue a token pair directly (seeding a connector without the consent flow)."""
        with self.lock:
            return self._issue(
                client_id,
                self.tenant_id if tenant_id is None else tenant_id,
                scope,
                grant_type="seed",
                with_refresh=refresh,
            )

    def expire_access_tokens(self, token: str | None = None) -> None:
        """Make one (or every) access token expired: the next call with it gets 401."""
        with self.lock:
            for key, grant in self.access_tokens.items():
                if token is None or key == token:
                    grant.expires_at = 0.0

    def expire_refresh_tokens(self, token: str | None = None) -> None:
        """Make one (or every) refresh token older than 45 days."""
        with self.lock:
            for key, grant in self.refresh_tokens.items():
                if token is None or key == token:
                    grant.expires_at = 0.0

    def _token_held(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Delay successful token answers by `hold_token_answer` seconds, after the grant was made."""

        def wrapped(request: Request) -> Response:
            response = handler(request)
            if response.status >= 300:
                return response
            with self.lock:
                delay = self.hold_token_answer
                if delay and self.hold_token_answers > 0:
                    self.hold_token_answers -= 1
                    if self.hold_token_answers == 0:
                        self.hold_token_answer = 0.0
            if delay:
                time.sleep(delay)
            return response

        return wrapped

    def _authorize(self, request: Request) -> Response:
        """The consent page: approves at once and redirects back with a code (10 minutes, single use)."""
        query = request.query
        client_id = query.get("client_id", "")
        if client_id not in self.clients:
            return self._page(400, "Okänd klient", f"client_id {client_id!r} är inte registrerad.")
        missing = [p for p in ("response_type", "scope", "state") if not query.get(p)]
        if missing:
            return self._page(400, "Ogiltig begäran", f"Parametrar saknas: {', '.join(missing)}.")
        if query["response_type"] != "code":
            return self._page(400, "Ogiltig begäran", "response_type måste vara code.")
        redirect_uri = query.get("redirect_uri") or self.client_redirect_uris.get(client_id)
        registered = self.client_redirect_uris.get(client_id)
        if not redirect_uri or (registered and redirect_uri != registered):
            return self._page(400, "Ogiltig begäran", "redirect_uri saknas eller matchar inte appens inställning.")
        code = secrets.token_urlsafe(24)
        self.auth_codes[code] = AuthCode(
            client_id=client_id,
            redirect_uri=query.get("redirect_uri"),
            scope=query["scope"],
            tenant_id=self.tenant_id,
            expires_at=time.time() + AUTH_CODE_SECONDS,
            service_account=query.get("account_type") == "service",
        )
        parts = urlsplit(redirect_uri)
        params = parse_qsl(parts.query, keep_blank_values=True) + [("code", code), ("state", query["state"])]
        location = urlunsplit(parts._replace(query=urlencode(params)))
        return Response(status=302, body=b"", headers={"Location": location}, content_type="text/html")

    def _token(self, request: Request) -> Response:
        """The token endpoint (Basic client auth; form body)."""
        client_id = self._client_from_basic(request.header("authorization"))
        if client_id is None:
            return self._oauth_error(401, "invalid_client", "Client authentication failed.")
        form = request.form()
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            code = self.auth_codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at <= time.time() or code.client_id != client_id:
                return self._oauth_error(400, "invalid_grant", "The authorization code is invalid, expired or used.")
            if code.redirect_uri is not None and form.get("redirect_uri") != code.redirect_uri:
                return self._oauth_error(
                    400, "invalid_grant", "The redirect_uri does not match the authorization request."
                )
            code.used = True
            if code.service_account:
                self.service_consents.add(client_id)
            return Response(body=self._issue(client_id, code.tenant_id, code.scope, grant_type=grant_type))
        if grant_type == "refresh_token":
            token = form.get("refresh_token", "")
            self.refresh_token_uses[token] = self.refresh_token_uses.get(token, 0) + 1
            grant = self.refresh_tokens.get(token)
            if grant is None or grant.spent or grant.expires_at <= time.time() or grant.client_id != client_id:
                return self._oauth_error(400, "invalid_grant", "Invalid refresh token.")
            grant.spent = True  # single use: every refresh rotates the refresh token
            return Response(body=self._issue(client_id, grant.tenant_id, grant.scope, grant_type=grant_type))
        if grant_type == "client_credentials":
            tenant = request.header("tenantid").strip()
            if not tenant:
                return self._oauth_error(400, "invalid_request", "The TenantId header is required.")
            # One company per simulator: only its own tenant has given consent.
            if tenant != str(self.tenant_id):
                return self._oauth_error(400, "invalid_grant", f"No consent for tenant {tenant}.")
            if self.require_service_consent and client_id not in self.service_consents:
                return self._oauth_error(400, "invalid_grant", "No service account consent for this client.")
            scope = form.get("scope") or DEFAULT_SCOPE
            return Response(
                body=self._issue(client_id, self.tenant_id, scope, grant_type=grant_type, with_refresh=False)
            )
        return self._oauth_error(400, "unsupported_grant_type", f"Grant type {grant_type!r} is not supported.")

    def _client_from_basic(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return client_id if self.clients.get(client_id) == secret and secret else None

    def _issue(
        self, client_id: str, tenant_id: int, scope: str, *, grant_type: str, with_refresh: bool = True
    ) -> dict[str, Any]:
        now = time.time()
        access = self._jwt(
            {
                "iss": "fortnox-simulator",
                "sub": client_id,
                "clientId": client_id,
                "tenantId": tenant_id,
                "scope": scope.split(),
                "iat": int(now),
                "exp": int(now) + ACCESS_TOKEN_SECONDS,
                "jti": secrets.token_hex(8),
            }
        )
        self.access_tokens[access] = AccessGrant(
            client_id, tenant_id, frozenset(scope.split()), now + ACCESS_TOKEN_SECONDS
        )
        body: dict[str, Any] = {"access_token": access}
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = RefreshGrant(client_id, tenant_id, scope, now + REFRESH_TOKEN_SECONDS)
            body["refresh_token"] = refresh
        body.update({"scope": scope, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "bearer"})
        self.issued_tokens.append(
            {"grant_type": grant_type, "client_id": client_id, "tenant_id": tenant_id, "issued_at": now, **body}
        )
        return body

    @staticmethod
    def _jwt(claims: dict[str, Any]) -> str:
        """A JWT-shaped token; the signature is random (Fortnox publishes no key to verify with)."""
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{b64url(secrets.token_bytes(32))}"

    @staticmethod
    def _oauth_error(status: int, error: str, description: str) -> Response:
        return Response(status=status, body={"error": error, "error_description": description})

    @staticmethod
    def _page(status: int, title: str, text: str) -> Response:
        html = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(text)}</p>"
        return Response(status=status, body=html, content_type="text/html; charset=utf-8")
