"""Visma Connect's token endpoint for service integrations: client credentials for one tenant.

    POST /connect/token   grant_type=client_credentials, client_id, client_secret, scope, tenant_id

A token is for one tenant (company); API calls with it reach that company only. The token
lifetime (3600 s) comes from another Visma product's example (confidence M).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi

DEFAULT_CLIENT_ID = "brygga-visma-client"
DEFAULT_CLIENT_SECRET = "brygga-visma-secret"
DEFAULT_SCOPE = (
    "vismanet_erp_service_api:create vismanet_erp_service_api:read vismanet_erp_service_api:update "
    "vismanet_erp_service_api:delete visma.net.erp.salesorder:create visma.net.erp.salesorder:read "
    "visma.net.erp.salesorder:update"
)
TOKEN_LIFETIME = 3600
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class Grant:
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    expires_at: float  # unix time


class OAuthServer(VismaNetApi):
    """Clients, their tenants and the access tokens of `VismaNetSimulator`."""

    def _init_auth_state(self) -> None:
        # client id → (secret, tenants granted to the client's application)
        self.clients: dict[str, tuple[str, set[str]]] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.tokens_issued = 0

    def add_client(self, client_id: str, client_secret: str, tenants: set[str] | None = None) -> None:
        """An application with access to `tenants` (default: every company of the simulator)."""
        with self.lock:
            self.clients[client_id] = (client_secret, set(self.companies) if tenants is None else set(tenants))

    def grant_tenant(self, client_id: str, tenant_id: str) -> None:
        with self.lock:
            self.clients[client_id][1].add(tenant_id)

    def issue_tokens(
        self, client_id: str = DEFAULT_CLIENT_ID, tenant_id: str | None = None, *, scope: str = DEFAULT_SCOPE
    ) -> dict[str, object]:
        """A token answer for `client_id` and a tenant, without the HTTP round trip (seeding a connector)."""
        with self.lock:
            return self._issue(client_id, tenant_id or self.default_tenant_id, scope)

    def expire_tokens(self, token: str | None = None) -> None:
        """Expire one access token, or all of them (the next API call answers 401)."""
        with self.lock:
            for key, grant in self.access_tokens.items():
                if token is None or key == token:
                    grant.expires_at = 0

    def _issue(self, client_id: str, tenant_id: str, scope: str) -> dict[str, object]:
        token = secrets.token_urlsafe(32)
        names = scope.split()
        self.access_tokens[token] = Grant(client_id, tenant_id, frozenset(names), time.time() + TOKEN_LIFETIME)
        self.tokens_issued += 1
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "scope": " ".join(names)}

    def _token(self, request: Request) -> Response:
        if self.faults.token_down:
            return Response(status=503, body={"error": "temporarily_unavailable"})
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return self._oauth_error("unsupported_grant_type", "only client_credentials is supported")
        with self.lock:
            client = self.clients.get(form.get("client_id", ""))
            if client is None or not secrets.compare_digest(client[0], form.get("client_secret", "")):
                return self._oauth_error("invalid_client")
            tenant_id = form.get("tenant_id", "").strip()
            if not tenant_id or not GUID.match(tenant_id):
                return self._oauth_error("invalid_request", "tenant_id is missing or not a GUID")
            if tenant_id not in self.companies:
                return self._oauth_error("invalid_request", f"unknown tenant_id {tenant_id}")
            if tenant_id not in client[1]:
                return self._oauth_error("invalid_tenant", "the application has no access to this tenant")
            return Response(body=self._issue(form["client_id"], tenant_id, form.get("scope") or DEFAULT_SCOPE))

    @staticmethod
    def _oauth_error(error: str, description: str | None = None) -> Response:
        body = {"error": error}
        if description:
            body["error_description"] = description
        return Response(status=400, body=body)
