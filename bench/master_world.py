"""The master data benchmark's world: fresh simulators and an integration with the master-data flows."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bench.harness import build_integration

FORTNOX_PAGE = 500  # articles per Fortnox list page (the API's maximum, used by the client)
SPOT_CHECKS = 25


# --- simulators and the integration ----------------------------------------------------------
class World:
    """Fresh simulators and an integration with the four master-data flows."""

    def __init__(
        self,
        *,
        name: str,
        articles: int,
        limits: bool,
        seeded_before: timedelta | None = None,
        with_schedules: bool = False,
    ) -> None:
        from integrations.demo import add_master_data_flows
        from integrations.engine.tokens import store_tokens
        from simulators.fortnox.server import FortnoxSimulator
        from simulators.norce.server import NorceSimulator

        self.fortnox = FortnoxSimulator()
        self.fortnox.limiter.enabled = limits
        if seeded_before is not None:  # the catalogue was last changed a while ago (outside the overlap)
            real_clock = self.fortnox.clock
            self.fortnox.clock = lambda: real_clock() - seeded_before
        self.seed = self.fortnox.seed_generated(articles)
        if seeded_before is not None:
            del self.fortnox.clock  # the class's clock again
        self.norce = NorceSimulator(seed=1)
        self.norce.connect_limiter.enabled = limits
        self.fortnox.start()
        self.norce.start()
        self.integration, erp = build_integration(
            name=name, norce_url=self.norce.url, fortnox_url=self.fortnox.url, flow_settings={}
        )
        store_tokens(erp, self.fortnox.issue_tokens("fortnox-client"))
        self.flows = add_master_data_flows(self.integration, with_schedules=with_schedules)
        self.articles = articles

    def counters(self) -> dict[str, Any]:
        with self.fortnox.lock:
            fortnox_seen = list(self.fortnox.requests_seen)
            fortnox_429 = self.fortnox.status_counts.get(429, 0)
        with self.norce.lock:
            norce_seen = list(self.norce.requests_seen)
            norce_429 = self.norce.status_counts.get(429, 0)
        with self.norce.connect.lock:
            imports = len(self.norce.connect.imports)
        return {
            "fortnox_api": sum(1 for _, _, path in fortnox_seen if path.startswith("/3/")),
            "fortnox_token": sum(1 for _, _, path in fortnox_seen if path.startswith("/oauth")),
            "fortnox_429": fortnox_429,
            "connect": sum(1 for _, _, path in norce_seen if path.startswith("/commerce/connect/")),
            "connect_job_get": sum(1 for _, _, path in norce_seen if "/Job/Get" in path),
            "norce_token": sum(1 for _, _, path in norce_seen if path.startswith("/identity/")),
            "norce_429": norce_429,
            "imports": imports,
        }

    def verify(self, *, sample: int = SPOT_CHECKS) -> dict[str, Any]:
        """Norce's SKUs against the Fortnox catalogue: count, and a spot check of some SKUs."""
        segment = self.fortnox.segments[0]
        connect = self.norce.connect
        with connect.lock:
            skus = len(connect.skus)
            active = sum(1 for sku in connect.skus.values() if sku.get("Status") == 1)
        rng = random.Random(7)
        indices = sorted({0, segment.count - 1, *(rng.randrange(segment.count) for _ in range(sample))})
        mismatches: list[str] = []
        for index in indices:
            article = segment.article(index)
            number = article["ArticleNumber"]
            sku = connect.sku(number)
            if sku is None:
                mismatches.append(f"{number}: missing")
                continue
            name = ((sku.get("Cultures") or {}).get("sv-SE") or {}).get("ErpName")
            problems = [
                what
                for what, ok in (
                    ("EanCode", sku.get("EanCode") == article["EAN"]),
                    ("ErpName", name == article["Description"]),
                    ("Status", sku.get("Status") == 1),
                )
                if not ok
            ]
            if problems:
                mismatches.append(f"{number}: {', '.join(problems)} differ")
        return {
            "norce_skus": skus,
            "norce_active": active,
            "fortnox_articles": self.articles,
            "spot_checked": len(indices),
            "mismatches": mismatches[:10],
            "equal": skus == self.articles and active == self.articles and not mismatches,
        }

    def close(self) -> None:
        self.fortnox.stop()
        self.norce.stop()
        self.norce.connect.close()  # its stored payloads (the full file is hundreds of MB)
