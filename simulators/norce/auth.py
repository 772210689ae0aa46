"""Norce's identity server (POST /identity/1.0/connect/token, client credentials) and the
bearer token and rate limit every /commerce/ call must pass."""

from __future__ import annotations

import secrets
import time

from simulators.base import Request, Response, Simulator
from simulators.limits import retry_after
from simulators.norce.common import CONNECT_BASE

DEFAULT_CLIENTS = {"norce-client": "norce-secret-value"}
SCOPES = {"playground", "stage", "prod", "production", "lab"}


class TokenService(Simulator):
    """Access tokens of `NorceSimulator`: issued, checked and expired."""

    def before_request(self, request: Request) -> Response | None:
        if not request.path.lower().startswith("/commerce/"):
            return None
        scheme, _, token = request.header("authorization").partition(" ")
        with self.lock:
            entry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entry is None or entry[1] <= time.time():
            response = self.error_response(401, "A valid bearer token is required")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if entry else "Bearer"
            return response
        if request.path.lower().startswith(CONNECT_BASE.lower()):
            wait = self.connect_limiter.hit(f"client-{self.client_id}")
            if wait is not None:
                response = self.error_response(429, "Too many requests: 60 per minute")
                response.headers["Retry-After"] = retry_after(wait)
                return response
        return None

    def _token(self, request: Request) -> Response:
        with self.lock:
            self.token_requests += 1
        # The base server does not pass the peer address on; every caller of a test
        # simulator is local, so X-Forwarded-For (if any) stands in for the client IP.
        client_ip = request.header("x-forwarded-for", "127.0.0.1").split(",")[0].strip()
        wait = self.token_limiter.hit(client_ip)
        if wait is not None:
            response = self.error_response(429, "Too many token requests: 3 per minute, burst 20")
            response.headers["Retry-After"] = retry_after(wait)
            return response
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response(status=400, body={"error": "unsupported_grant_type"})
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or self.clients.get(client_id) != secret:
            return Response(status=401, body={"error": "invalid_client"})
        scopes = form.get("scope", "").split()
        if not scopes or any(s not in SCOPES for s in scopes):
            return Response(status=400, body={"error": "invalid_scope"})
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (client_id, time.time() + self.token_ttl)
            self.tokens_issued += 1
        return Response(
            body={
                "access_token": token,
                "expires_in": self.token_ttl,
                "token_type": "Bearer",
                "scope": " ".join(scopes),
            }
        )

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next call with one gets 401)."""
        with self.lock:
            self.tokens = {token: (client, 0.0) for token, (client, _) in self.tokens.items()}
