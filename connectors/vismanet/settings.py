"""Settings of a Visma.net connector (its settings JSON), read and checked by core.settings.

``tenant_id`` (required) is the company's Visma Connect tenant GUID — the customer contract
tenant; a token is for one company, so one connector is one company. The client id and secret
are credentials. Keys other than these are kept as they are.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core import settings as schema

# Visma Connect scopes of a service integration: the ERP service API and SalesOrders V3. Visma
# does not publish the V3 scope names for certain (open question 2), hence a setting.
DEFAULT_SCOPE = (
    "vismanet_erp_service_api:create vismanet_erp_service_api:read vismanet_erp_service_api:update "
    "vismanet_erp_service_api:delete visma.net.erp.salesorder:create visma.net.erp.salesorder:read "
    "visma.net.erp.salesorder:update"
)
DEFAULT_SALESORDER_URL = "https://salesorder.visma.net"
DEFAULT_AUTH_URL = "https://connect.visma.com"
# Visma does not publish its hourly limit per company and client; 3600 is the budget Brygga keeps
# to unless told otherwise, and it also obeys X-RateLimit-Remaining/Reset and Retry-After.
DEFAULT_REQUESTS_PER_HOUR = 3600
# Requests of Visma.net's window left for those already in flight: once X-RateLimit-Remaining is
# at or below this, every worker waits for X-RateLimit-Reset. Each worker has at most one request
# in flight, so 2 covers the other workers of a deployment with up to 3 workers per connector
# (django-q2's default Q_WORKERS is 2); a larger deployment raises it.
DEFAULT_RATE_LIMIT_RESERVE = 2
# How long a create whose answer was lost is given to commit before a lookup is trusted.
# Visma.net documents no bound; large documents are committed within seconds in practice, and
# a release may run in the background, so the Fortnox figure (180 s) is kept.
DEFAULT_COMMIT_WAIT_SECONDS = 180
MAX_COMMIT_WAIT_SECONDS = 3600
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class VismaNetSettings:
    tenant_id: str = ""  # the company's Visma Connect tenant (GUID)
    scope: str = DEFAULT_SCOPE  # space separated
    salesorder_url: str = DEFAULT_SALESORDER_URL  # the SalesOrders V3 service
    # The zone of lastModifiedDateTime filters and values: Visma does not say (open question 9);
    # company local time is assumed, and every poll re-reads an overlap.
    timezone: str = "Europe/Stockholm"
    # VAT rate (percent, as text) → Visma.net VAT code id, e.g. {"25": "MP1"}; rates not named are
    # looked up in the company's VAT codes (GET /v1/vat).
    vat_codes: dict[str, str] = field(default_factory=dict)
    branch: str = ""  # branch number of invoices and customers ("" = the company's default)
    customer_class: str = ""  # customer class of customers Brygga creates ("" = the company's default)
    tracking_field: str = "customStr1"  # the shipment field holding the parcel number when no package line does
    requests_per_hour: int = DEFAULT_REQUESTS_PER_HOUR
    rate_limit_reserve: int = DEFAULT_RATE_LIMIT_RESERVE
    use_background_for_lists: bool = False  # read list pages through the background API
    commit_wait_seconds: int = DEFAULT_COMMIT_WAIT_SECONDS
    # State the VAT the buyer was charged per VAT code (taxDetailLines), so the invoice total
    # equals the order's to the öre; off: Visma.net computes VAT from the net lines by itself.
    send_vat_amounts: bool = True
    # A queued invoice release is followed by reading the invoice for at most this long.
    release_wait_seconds: int = 20

    def check(self) -> list[str]:
        problems = []
        if not GUID.match(self.tenant_id.strip()):
            problems.append("tenant_id must be the company's Visma Connect tenant id (a GUID)")
        if not self.scope.strip():
            problems.append("scope must name at least one scope")
        if not self.salesorder_url.startswith(("http://", "https://")):
            problems.append("salesorder_url must be an http(s) URL")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone must be a time zone name such as Europe/Stockholm, not {self.timezone!r}")
        if not isinstance(self.vat_codes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in self.vat_codes.items()
        ):
            problems.append('vat_codes must map VAT rates to VAT code ids, e.g. {"25": "MP1"}')
        if self.requests_per_hour < 1:
            problems.append("requests_per_hour must be at least 1")
        if self.commit_wait_seconds > MAX_COMMIT_WAIT_SECONDS:
            problems.append(f"commit_wait_seconds must be at most {MAX_COMMIT_WAIT_SECONDS}")
        return problems


def parse_settings(raw: dict[str, Any] | None) -> VismaNetSettings:
    """The connector settings read as they stand (problems ignored: validate_settings names them)."""
    settings, _ = schema.read(VismaNetSettings, raw if isinstance(raw, dict) else {})
    return settings


def validate_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The connector settings with these keys checked and normalised; ValueError naming every problem."""
    raw = dict(raw or {})
    settings, problems = schema.read(VismaNetSettings, raw)
    if "vat_codes" in raw and not isinstance(raw["vat_codes"], dict):
        problems.append('vat_codes must map VAT rates to VAT code ids, e.g. {"25": "MP1"}')
    if "tenant_id" not in raw and not any(p.startswith("tenant_id") for p in problems):
        problems.append("tenant_id is required: the company's Visma Connect tenant id (a GUID)")
    if problems:
        raise ValueError("; ".join(dict.fromkeys(problems)))
    settings.tenant_id = settings.tenant_id.strip()
    return {**raw, **{key: value for key, value in asdict(settings).items() if key in raw}}
