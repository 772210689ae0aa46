"""The consent ERP's OAuth: a consent page address and a signed state of its own (not Fortnox's salt)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core import signing

CONSENT_URL = "https://consent-erp.invalid/authorize"
STATE_SALT = "tests.consent-erp.oauth-state"


def authorization_url(connector: Any, *, redirect_uri: str, state: str) -> str:
    key = (connector.credentials or {}).get("app_key", "")
    return f"{CONSENT_URL}?{urlencode({'app': key, 'redirect_uri': redirect_uri, 'state': state})}"


def make_state(connector_id: int) -> str:
    return signing.dumps({"connector": int(connector_id)}, salt=STATE_SALT)


def read_state(state: str) -> int:
    data = signing.loads(state, salt=STATE_SALT, max_age=15 * 60)
    if not isinstance(data, dict) or "connector" not in data:
        raise signing.BadSignature("state carries no connector")
    return int(data["connector"])
