"""Settings of a Fortnox connector that decide how Brygga gets its tokens.

``grant`` (in the connector's settings JSON) names the OAuth grant, explicitly:

- ``"authorization_code"`` (the default): a Fortnox administrator presses "Connect to
  Fortnox" and approves; Brygga then keeps a single-use refresh token (valid 45 days,
  rotated on every refresh) and renews the access token with it.
- ``"client_credentials"``: a service account. "Connect to Fortnox" asks Fortnox for a
  service account (``account_type=service`` on the consent page; only a Fortnox system
  administrator may approve it, and the app must allow service accounts). Afterwards
  Brygga asks for access tokens with client id, secret and the company's ``tenant_id``
  (Fortnox's DatabaseNumber, sent as the ``TenantId`` header); no refresh token is kept.

The grant is used whatever tokens are stored: a connector switched to client credentials
stops using its refresh token; one switched back uses the refresh token it still holds
or asks for "Connect to Fortnox" again.

``commit_wait_seconds`` (default 180) is how long Brygga gives Fortnox to commit a
document whose create got no clear answer (a timeout, a lost connection, a 5xx) before a
lookup by order reference is trusted to show whether it exists. Until then nothing is
created again for that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUTHORIZATION_CODE = "authorization_code"
CLIENT_CREDENTIALS = "client_credentials"
GRANTS: dict[str, str] = {
    AUTHORIZATION_CODE: "Authorization code (an administrator connects; refresh tokens)",
    CLIENT_CREDENTIALS: "Client credentials (service account; tenant id)",
}


# Fortnox documents no bound on how long an invoice POST may take to commit. Answers after
# 100 s have been seen with our 30 s timeout; 180 s covers that with room. Configurable per
# connector because a tenant with large documents or a slow day may need more.
DEFAULT_COMMIT_WAIT_SECONDS = 180.0
MAX_COMMIT_WAIT_SECONDS = 3600.0


def commit_wait_seconds(raw: dict[str, Any] | None) -> float:
    """Seconds to wait after an unclear create before trusting a lookup (``commit_wait_seconds``)."""
    value = (raw or {}).get("commit_wait_seconds", DEFAULT_COMMIT_WAIT_SECONDS) if isinstance(raw, dict) else None
    if value is None or value == "":
        return DEFAULT_COMMIT_WAIT_SECONDS
    if isinstance(value, bool):
        raise ValueError(f"'commit_wait_seconds' must be a number of seconds, not {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"'commit_wait_seconds' must be a number of seconds, not {value!r}") from None
    if not 0 <= seconds <= MAX_COMMIT_WAIT_SECONDS:
        raise ValueError(f"'commit_wait_seconds' must be between 0 and {MAX_COMMIT_WAIT_SECONDS:g}, not {value!r}")
    return seconds


@dataclass(frozen=True)
class FortnoxAuthSettings:
    grant: str = AUTHORIZATION_CODE
    tenant_id: str = ""

    @property
    def service_account(self) -> bool:
        return self.grant == CLIENT_CREDENTIALS

    @property
    def label(self) -> str:
        text = GRANTS[self.grant]
        return f"{text}, tenant {self.tenant_id}" if self.tenant_id and self.service_account else text


def parse_auth_settings(raw: dict[str, Any] | None) -> FortnoxAuthSettings:
    """The grant settings from a connector's JSON, raising ValueError naming every problem.

    Other keys are left to the code that reads them.
    """
    raw = raw if isinstance(raw, dict) else {}
    problems: list[str] = []
    if "service_account" in raw:
        problems.append('\'service_account\' is no longer read: set "grant": "client_credentials" instead')
    grant = raw.get("grant", AUTHORIZATION_CODE)
    if grant in (None, ""):
        grant = AUTHORIZATION_CODE
    if grant not in GRANTS:
        problems.append(f"'grant' must be one of {', '.join(repr(g) for g in GRANTS)}, not {grant!r}")
    tenant = raw.get("tenant_id")
    tenant_id = "" if tenant is None else str(tenant).strip()
    if isinstance(tenant, bool) or (tenant_id and not tenant_id.isascii()) or (tenant_id and not tenant_id.isdigit()):
        problems.append(f"'tenant_id' must be Fortnox's DatabaseNumber (digits), not {tenant!r}")
    elif grant == CLIENT_CREDENTIALS and not tenant_id:
        problems.append(
            '\'tenant_id\' is required with "grant": "client_credentials": enter the company\'s '
            "Fortnox DatabaseNumber (shown by 'Test connection' as 'tenant …')"
        )
    if problems:
        raise ValueError("; ".join(problems))
    return FortnoxAuthSettings(grant=grant, tenant_id=tenant_id)


def validate_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The connector settings with ``grant`` (and ``tenant_id``) normalised; ValueError on bad values."""
    parsed = parse_auth_settings(raw)
    commit_wait_seconds(raw)
    settings = dict(raw or {})
    settings["grant"] = parsed.grant
    if parsed.tenant_id:
        settings["tenant_id"] = parsed.tenant_id
    else:
        settings.pop("tenant_id", None)
    return settings
