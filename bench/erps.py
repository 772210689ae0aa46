"""The ERPs the benchmarks run against: their simulator, how Brygga's connector is set up on it,
which requests are API calls, and the rate limit the simulator enforces.

`FORTNOX`: 25 requests per 5 s (sliding), as Fortnox documents it and Brygga counts it.

Visma.net counts a fixed window per company + client per hour (3,600 in the simulator, and
Brygga's `requests_per_hour` by default). Brygga's shared limiter counts the Visma.net budget
over 3600 s whatever the setting (`VismaNetClient.rate`), and an hour is too long for a
benchmark, so the orders runs scale the limit (`VISMANET_SCALED`): the simulator counts
`limit` requests per `window` seconds, and Brygga's `requests_per_hour` is the same mean rate,
limit × 3600 / window. Brygga's own count then never fills within a run; what paces it is the
simulator's `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`, on which the client holds the
shared window back until the reset, and a 429's Retry-After for a request that was already on
its way. At the end of a real hour the same header is answered to the same request at which
Brygga's own count of 3,600 fills. `VISMANET` is the production limit (the resyncs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The scaled Visma.net limit of the orders runs: 150 requests per 30 s (5 a second, as
# Fortnox's 25 per 5 s); a 30 s window keeps the whole-second X-RateLimit-Reset small beside it.
VISMANET_ORDERS_LIMIT, VISMANET_ORDERS_WINDOW = 150, 30.0


@dataclass(frozen=True)
class Erp:
    key: str  # Connector.System, and the prefix of the figures (fortnox_calls, vismanet_429, …)
    title: str
    limit: int  # requests the simulator allows …
    window: float  # … per this many seconds
    sliding: bool  # sliding window (else a fixed one, opened by its first request)

    @property
    def limit_text(self) -> str:
        return f"{self.limit}/{self.window:g} s"

    # -- the simulator ------------------------------------------------------------------------
    def simulator(self, *, demo: bool = True):
        raise NotImplementedError

    def is_api(self, path: str) -> bool:
        raise NotImplementedError

    def fresh_window_in(self, simulator) -> float:
        """Seconds until the simulator's limit window holds none of the requests made so far (0: now)."""
        return 0.0

    def is_token(self, path: str) -> bool:
        raise NotImplementedError

    # -- Brygga's connector on it ---------------------------------------------------------------
    def connector_settings(self, simulator) -> dict[str, Any]:
        return {}

    def credentials(self) -> dict[str, str]:
        raise NotImplementedError

    def prime(self, connector, simulator) -> None:
        """Whatever the connector needs before its first call (tokens an admin would have granted)."""

    def bucket(self, connector) -> str:
        """The key of Brygga's shared rate-limit window for the connector."""
        return f"{self.key}:{connector.pk}"

    # -- the generated catalogue ----------------------------------------------------------------
    def catalogue(self, simulator):
        """The first generated segment and a function index → (number, EAN, name, price, stock)."""
        raise NotImplementedError


class Fortnox(Erp):
    def simulator(self, *, demo: bool = True):
        from simulators.fortnox.server import FortnoxSimulator

        sim = FortnoxSimulator()
        if demo:
            sim.seed_demo()
        return sim

    def is_api(self, path: str) -> bool:
        return path.startswith("/3/")

    def is_token(self, path: str) -> bool:
        return path.startswith("/oauth")

    def credentials(self) -> dict[str, str]:
        return {"client_id": "fortnox-client", "client_secret": "fortnox-secret-value"}

    def prime(self, connector, simulator) -> None:
        from integrations.engine.tokens import store_tokens

        store_tokens(connector, simulator.issue_tokens("fortnox-client"))

    def catalogue(self, simulator):
        segment = simulator.segments[0]

        def row(index: int) -> tuple[str, str, str]:
            article = segment.article(index)
            return article["ArticleNumber"], article["EAN"], article["Description"]

        return segment, row


class VismaNet(Erp):
    @property
    def requests_per_hour(self) -> int:
        return round(self.limit * 3600 / self.window)

    def simulator(self, *, demo: bool = True):
        from simulators.vismanet.ratelimit import FixedWindow
        from simulators.vismanet.server import VismaNetSimulator

        sim = VismaNetSimulator()
        sim.limiter = FixedWindow(self.limit, self.window)
        if demo:
            sim.seed_demo()
        return sim

    def is_api(self, path: str) -> bool:
        from simulators.vismanet.api import ERP_PREFIXES

        return path.lower().startswith(ERP_PREFIXES)

    def is_token(self, path: str) -> bool:
        return path == "/connect/token"

    def fresh_window_in(self, simulator) -> float:
        from simulators.vismanet.server import DEFAULT_CLIENT_ID, DEFAULT_TENANT_ID

        headers = simulator.limiter.headers(f"{DEFAULT_TENANT_ID}:{DEFAULT_CLIENT_ID}")
        if not simulator.limiter.enabled or int(headers["X-RateLimit-Remaining"]) >= self.limit:
            return 0.0
        return float(headers["X-RateLimit-Reset"])

    def connector_settings(self, simulator) -> dict[str, Any]:
        from simulators.vismanet.server import DEFAULT_TENANT_ID

        # The simulator serves the API, Visma Connect and SalesOrders V3 on one host.
        return {
            "tenant_id": DEFAULT_TENANT_ID,
            "salesorder_url": simulator.url,
            "requests_per_hour": self.requests_per_hour,
        }

    def credentials(self) -> dict[str, str]:
        from simulators.vismanet.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

        return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}

    def catalogue(self, simulator):
        segment = simulator.company().segments[0]

        def row(index: int) -> tuple[str, str, str]:
            item = segment.item(index, 0)
            return item["inventoryNumber"], item["ean"], item["description"]

        return segment, row


FORTNOX = Fortnox("fortnox", "Fortnox", 25, 5.0, sliding=True)
# Visma.net as it counts in production (the simulator's HOURLY_LIMIT, Brygga's default budget).
VISMANET = VismaNet("vismanet", "Visma.net", 3600, 3600.0, sliding=False)
VISMANET_SCALED = VismaNet("vismanet", "Visma.net", VISMANET_ORDERS_LIMIT, VISMANET_ORDERS_WINDOW, sliding=False)
ERPS = {"fortnox": FORTNOX, "vismanet": VISMANET}
