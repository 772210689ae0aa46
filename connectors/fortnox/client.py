"""Fortnox API v3 client: tokens, rate limit, error mapping and the calls the flows need."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import requests

from connectors.fortnox import oauth
from connectors.fortnox.errors import INVALID_REFRESH_TOKEN, NOT_CONNECTED, error_for, oauth_error_for
from connectors.fortnox.lists import FortnoxLists, _segment
from connectors.fortnox.lists import Page as Page
from connectors.fortnox.mapping import invoice_is_live, truthy
from connectors.fortnox.settings import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, FortnoxAuthSettings, commit_wait_seconds
from connectors.transport import ApiClient
from core.errors import HTTP_BAD_RESPONSE, SyncError, answer_lost
from core.limits import RateLimit
from core.ports import ConnectorAccount, ConnectorStore, RateLimiter

log = logging.getLogger("brygga.connectors.fortnox")

# Fortnox counts 25 requests per 5 s sliding window per access token, i.e. per
# client id and tenant. One connector holds one tenant's token, so its pk is the key.
RATE = RateLimit(25, 5.0)
CUSTOMER_FIELDS = {"email": "Email", "organisationnumber": "OrganisationNumber"}


class FortnoxClient(FortnoxLists, ApiClient):
    """One Fortnox tenant, reached through one connector."""

    system = "fortnox"

    def __init__(
        self,
        connector: ConnectorAccount,
        *,
        store: ConnectorStore,
        limiter: RateLimiter,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(connector, store=store, limiter=limiter, session=session)
        self._grant_type = ""  # the grant being requested, for naming token errors

    # -- transport hooks -------------------------------------------------------------
    @property
    def api_base(self) -> str:
        return self.connector.base_url.rstrip("/")

    def url(self, path: str) -> str:
        """Absolute URL of a v3 resource, e.g. ``url("invoices/12")``."""
        return f"{self.api_base}/3/{path.lstrip('/')}"

    def rate_limit(self, url: str) -> tuple[str, RateLimit] | None:
        if "/oauth-v1/" in url:  # the token endpoint is not counted against the API budget
            return None
        return f"fortnox:{self.connector.pk}", RATE

    def default_429_wait(self) -> float:
        # Fortnox sends no Retry-After. Our shared limiter already keeps to 25 per 5 s on
        # this token, so a 429 means requests arrived bunched up (network delay), not that
        # the budget is spent: a short pause is enough. Without our limiter (RATE_LIMITS
        # off) the same pause repeats until the window frees.
        return 1.0

    def auth_headers(self, *, rejected: str | None = None) -> dict[str, str]:
        auth = self.auth_settings()
        # Tokens stored before the grant was recorded came from "Connect to Fortnox".
        token = self.store.access_token(
            self._obtain,
            rejected=rejected,
            grant=auth.grant,
            refresh=not auth.service_account,
            unrecorded=AUTHORIZATION_CODE,
        )
        return {"Authorization": f"Bearer {token}"}

    def error_from_response(self, response: requests.Response) -> SyncError:
        body = _json_or_none(response)
        if "/oauth-v1/" in (response.url or ""):
            return oauth_error_for(response.status_code, body, response.text, grant_type=self._grant_type)
        return error_for(response.status_code, body, response.text)

    # -- tokens ----------------------------------------------------------------------
    def auth_settings(self) -> FortnoxAuthSettings:
        """The connector's explicit grant (settings["grant"]), see connectors.fortnox.settings."""
        return oauth.auth_settings(self.connector)

    def _obtain(self, tokens: dict[str, Any]) -> dict[str, Any]:
        """A new token by the connector's grant, whatever tokens are stored."""
        auth = self.auth_settings()
        if auth.service_account:
            # A service account: client id and secret plus the tenant; a stored refresh
            # token (from an earlier authorization-code connection) is not used.
            return self.grant({"grant_type": "client_credentials"}, headers={"TenantId": auth.tenant_id})
        if tokens.get("refresh_token"):
            return self._refresh(tokens)
        if tokens.get("grant") == CLIENT_CREDENTIALS:
            raise SyncError(
                NOT_CONNECTED.code,
                "The Fortnox connector now uses the authorization-code grant but holds no refresh "
                "token: it was connected as a service account (client credentials)",
            )
        raise SyncError(NOT_CONNECTED.code, "The Fortnox connector has no tokens yet")

    def _refresh(self, tokens: dict[str, Any]) -> dict[str, Any]:
        """Rotate the single-use refresh token, recovering from a lost answer where Fortnox allows.

        Fortnox's refresh token works once, and a spent one can only be replaced by a person
        activating the integration again. So when the answer to a refresh is lost (timeout,
        broken connection, 5xx) the same token is tried once more: if the first request never
        reached Fortnox it still works. If it was spent, and the company's tenant is known (the
        ``tenantId`` claim of the last access token, or the connector's tenant id), Brygga asks
        for a token by client credentials: Fortnox lets an integration move to a service account
        without the customer acting, when the app is allowed service accounts. Only when that is
        refused does the connector go to the one "reconnect Fortnox" state.
        """
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        try:
            return self.grant(form)
        except SyncError as exc:
            if exc.code != INVALID_REFRESH_TOKEN.code and not answer_lost(exc):
                raise
            first = exc
        if answer_lost(first):
            try:
                return self.grant(form)  # the first request may never have reached Fortnox
            except SyncError as exc:
                if exc.code != INVALID_REFRESH_TOKEN.code:
                    raise  # still unreachable: a transient error, the task retries later
                first = exc
        tenant = self.auth_settings().tenant_id or tenant_of(tokens.get("access_token"))
        if tenant and self.connector.settings.get("service_account_fallback", True):
            try:
                answer = self.grant({"grant_type": "client_credentials"}, headers={"TenantId": tenant})
            except SyncError as exc:
                if answer_lost(exc):
                    raise
                reason = (
                    f"{first.message}. Brygga then asked for a service-account token for tenant {tenant}, "
                    f"and Fortnox refused that too: {exc.message}"
                )
            else:
                self._switch_to_service_account(tenant)
                return answer
        else:
            reason = first.message
        # The store marks the connector once the token lock's transaction is over.
        raise SyncError(
            INVALID_REFRESH_TOKEN.code,
            reason,
            permanent=True,
            hint=INVALID_REFRESH_TOKEN.hint,
            details={**first.details, "connector_id": self.connector.pk, "reconnect_needed": True},
        )

    def _switch_to_service_account(self, tenant: str) -> None:
        """From now on the connector gets its tokens by client credentials (no refresh token to lose)."""
        self.store.save_settings({**(self.connector.settings or {}), "grant": CLIENT_CREDENTIALS, "tenant_id": tenant})
        log.warning(
            "Fortnox connector %s: the refresh token was spent; moved to the service account of "
            "tenant %s (client credentials)",
            self.connector.pk,
            tenant,
        )

    def grant(self, form: dict[str, str], *, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """POST to the token endpoint with Basic auth; return the token JSON."""
        sent = {
            "Authorization": oauth.basic_auth(self.connector),
            "Content-Type": "application/x-www-form-urlencoded",
            **(headers or {}),
        }
        # Refresh tokens and codes are single-use: never resend after an unclear failure.
        self._grant_type = form.get("grant_type", "")
        try:
            response = self.request(
                "POST", oauth.token_url(self.connector), data=form, headers=sent, authenticate=False, idempotent=False
            )
        finally:
            self._grant_type = ""
        body = self.decode(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Fortnox token endpoint answered without an access token")
        return body

    def exchange_code(self, *, code: str, redirect_uri: str) -> None:
        """Trade the authorization code from the consent page for tokens and keep them."""
        service_account = self.auth_settings().service_account
        answer = self.grant({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
        # A service account's consent answers with tokens too; the access token is used
        # until it expires, then client credentials take over. Any refresh token in the
        # answer is not kept: that grant never uses one.
        self.store.store_tokens(
            answer,
            grant_type=CLIENT_CREDENTIALS if service_account else AUTHORIZATION_CODE,
            refresh=not service_account,
        )

    # -- calls -----------------------------------------------------------------------
    def test_connection(self) -> str:
        info = self.company_information()
        return (
            f"Connected to {info.get('CompanyName', '?')} ({info.get('OrganizationNumber', '')}), "
            f"tenant {info.get('DatabaseNumber', '?')}"
        )

    def company_information(self) -> dict[str, Any]:
        """The company's name, org. number and DatabaseNumber (tenant id): 'Test connection'."""
        return self._unwrap(self.get_json(self.url("companyinformation")), "CompanyInformation")

    def live_invoices(self, field: str, value: str) -> list[dict[str, Any]]:
        """Every live invoice whose `field` equals `value` exactly, oldest first.

        Live means neither cancelled (``Cancelled``) nor credited (a credit note points
        at it through ``CreditInvoiceReference``) nor itself a credit note (``Credit``).
        Fortnox searches are case-insensitive substring matches (``123`` finds
        ``1234``), so every page of hits is read and compared exactly. A list item
        that does not carry the credit fields is read in full to decide.
        """
        hits = [
            item
            for item in self._list("invoices", "Invoices", {field.lower(): value})
            if _field(item, field) == value and not truthy(item.get("Cancelled"))
        ]
        live = []
        for item in sorted(hits, key=lambda item: _number_key(item.get("DocumentNumber"))):
            if "Credit" not in item or "CreditInvoiceReference" not in item:
                item = {**item, **self.get_invoice(str(item.get("DocumentNumber")))}
            if invoice_is_live(item):
                live.append(item)
        return live

    @property
    def commit_wait(self) -> float:
        """Seconds Fortnox is given to commit a create whose answer was lost (connector setting)."""
        return commit_wait_seconds(self.connector.settings)

    def invoices_changed_since(self, since: datetime) -> Iterator[dict[str, Any]]:
        """Every invoice (list item) changed after `since`, for reconciling by order reference."""
        return self._list("invoices", "Invoices", self._since(since, {"sortby": "documentnumber"}))

    def cancel_invoice(self, number: str | int) -> dict[str, Any]:
        """Cancel an unbooked invoice (``PUT /3/invoices/{n}/cancel``)."""
        return self._invoice_action(number, "cancel")

    def credit_invoice(self, number: str | int) -> dict[str, Any]:
        """Credit a booked invoice (``PUT /3/invoices/{n}/credit``); the answer is the original,
        whose ``CreditInvoiceReference`` names the new credit invoice."""
        return self._invoice_action(number, "credit")

    def _invoice_action(self, number: str | int, action: str) -> dict[str, Any]:
        # Not idempotent on the wire (a second credit is refused by Fortnox, but a lost answer
        # must be read back, not resent): the caller reads the invoice again before retrying.
        response = self.request("PUT", self.url(f"invoices/{_segment(number)}/{action}"), idempotent=False)
        return self._unwrap(self.decode(response), "Invoice")

    def get_invoice(self, number: str | int) -> dict[str, Any]:
        return self._unwrap(self.get_json(self.url(f"invoices/{_segment(number)}")), "Invoice")

    def create_invoice(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST an invoice; a 5xx or timeout is raised at once (the flow looks it up before retrying)."""
        response = self.request("POST", self.url("invoices"), json_body={"Invoice": payload}, idempotent=False)
        return self._unwrap(self.decode(response), "Invoice")

    def find_customer(self, field: str, value: str) -> dict[str, Any] | None:
        """The customer whose e-mail or organisation number equals `value`, active ones first.

        The comparison ignores case and surrounding blanks; organisation numbers
        also ignore hyphens and spaces (556677-8899 equals 5566778899).
        """
        key = field.lower()
        if key not in CUSTOMER_FIELDS:
            raise ValueError(f"find_customer: field must be one of {', '.join(CUSTOMER_FIELDS)}")
        wanted = _normalise(key, value)
        if not wanted:
            return None
        hits = [
            item
            for item in self._list("customers", "Customers", {key: value.strip()})
            if _normalise(key, _field(item, CUSTOMER_FIELDS[key])) == wanted
        ]
        hits.sort(key=lambda item: (item.get("Active") is False, _number_key(item.get("CustomerNumber"))))
        return hits[0] if hits else None

    def get_customer(self, number: str) -> dict[str, Any] | None:
        """The customer, or None when Fortnox has no customer with that number."""
        response = self.request("GET", self.url(f"customers/{_segment(number)}"), allow_404=True)
        if response.status_code == 404:
            return None
        return self._unwrap(self.decode(response), "Customer")

    def create_customer(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", self.url("customers"), json_body={"Customer": payload}, idempotent=False)
        return self._unwrap(self.decode(response), "Customer")

    def get_article(self, number: str) -> dict[str, Any] | None:
        """The article, or None when Fortnox has no article with that number."""
        response = self.request("GET", self.url(f"articles/{_segment(number)}"), allow_404=True)
        if response.status_code == 404:
            return None
        return self._unwrap(self.decode(response), "Article")

    def known_articles(self, numbers: Iterable[str]) -> set[str]:
        """The subset of `numbers` that exist as articles (for mapping's `known_articles`)."""
        return {number for number in sorted(set(numbers)) if number and self.get_article(number) is not None}

    def create_article(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.request("POST", self.url("articles"), json_body={"Article": payload}, idempotent=False)
        return self._unwrap(self.decode(response), "Article")

    # -- helpers ---------------------------------------------------------------------
    def _list(self, resource: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a list search, page by page (MetaInformation may be absent)."""
        for page in self.pages(resource, key, params):
            yield from page.items

    @staticmethod
    def _unwrap(body: Any, key: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get(key), dict):
            raise SyncError(HTTP_BAD_RESPONSE.code, f"Fortnox answered without the expected {key!r} object")
        unwrapped: dict[str, Any] = body[key]
        return unwrapped


def _json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _field(item: dict[str, Any], name: str) -> str:
    """A list item's field by case-insensitive name, as a string ('' when absent)."""
    lowered = name.lower()
    for key, value in item.items():
        if key.lower() == lowered:
            return "" if value is None else str(value)
    return ""


def _normalise(field: str, value: str) -> str:
    value = (value or "").strip().casefold()
    if field == "organisationnumber":
        value = value.replace("-", "").replace(" ", "")
    return value


def _number_key(value: Any) -> tuple[int, str]:
    text = "" if value is None else str(value)
    return (int(text), text) if text.isdigit() else (10**18, text)


def tenant_of(access_token: str | None) -> str:
    """The ``tenantId`` claim of a Fortnox access token (a JWT, read without verifying: Fortnox
    publishes no key and says to decode it so), or "" if it carries none."""
    try:
        payload = str(access_token or "").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return ""
    tenant = claims.get("tenantId") if isinstance(claims, dict) else None
    return str(tenant) if isinstance(tenant, (int, str)) and str(tenant).isdigit() else ""
