"""The master data benchmarks' world: fresh simulators and an integration with the master-data flows."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bench.erps import FORTNOX, Erp
from bench.harness import build_integration
from bench.orders_measure import endpoint

FORTNOX_PAGE = 500  # articles per Fortnox list page (the API's maximum, used by the client)
SPOT_CHECKS = 25


# --- simulators and the integration ----------------------------------------------------------
class World:
    """Fresh simulators (an ERP's, bench.erps, and Norce's) and an integration with the four
    master-data flows; the ERP holds a generated catalogue of `articles` items."""

    def __init__(
        self,
        *,
        name: str,
        articles: int,
        limits: bool,
        seeded_before: timedelta | None = None,
        with_schedules: bool = False,
        erp: Erp = FORTNOX,
    ) -> None:
        from integrations.demo import add_master_data_flows
        from simulators.norce.server import NorceSimulator

        self.erp = erp
        self.erp_sim = erp.simulator(demo=False)
        self.erp_sim.limiter.enabled = limits
        if seeded_before is not None:  # the catalogue was last changed a while ago (outside the overlap)
            real_clock = self.erp_sim.clock
            self.erp_sim.clock = lambda: real_clock() - seeded_before
        self.seed = self.erp_sim.seed_generated(articles)
        if seeded_before is not None:
            del self.erp_sim.clock  # the class's clock again
        self.norce = NorceSimulator(seed=1)
        self.norce.connect_limiter.enabled = limits
        self.erp_sim.start()
        self.norce.start()
        self.integration, _ = build_integration(
            name=name, norce_url=self.norce.url, erp=erp, erp_simulator=self.erp_sim, flow_settings={}
        )
        self.flows = add_master_data_flows(self.integration, with_schedules=with_schedules)
        self.articles = articles

    def counters(self) -> dict[str, Any]:
        """Requests so far; the ERP's under its prefix (fortnox_api, vismanet_429, …), and by endpoint."""
        p = self.erp.key
        with self.erp_sim.lock:
            erp_seen = list(self.erp_sim.requests_seen)
            erp_429 = self.erp_sim.status_counts.get(429, 0)
        with self.norce.lock:
            norce_seen = list(self.norce.requests_seen)
            norce_429 = self.norce.status_counts.get(429, 0)
        with self.norce.connect.lock:
            imports = len(self.norce.connect.imports)
        by_endpoint: dict[str, int] = {}
        for _, method, path in erp_seen:
            if self.erp.is_api(path) or self.erp.is_token(path):
                key = endpoint(method, path)
                by_endpoint[key] = by_endpoint.get(key, 0) + 1
        return {
            f"{p}_api": sum(1 for _, _, path in erp_seen if self.erp.is_api(path)),
            f"{p}_token": sum(1 for _, _, path in erp_seen if self.erp.is_token(path)),
            f"{p}_429": erp_429,
            "connect": sum(1 for _, _, path in norce_seen if path.startswith("/commerce/connect/")),
            "connect_job_get": sum(1 for _, _, path in norce_seen if "/Job/Get" in path),
            "norce_token": sum(1 for _, _, path in norce_seen if path.startswith("/identity/")),
            "norce_429": norce_429,
            "imports": imports,
            "erp_by_endpoint": by_endpoint,
        }

    def verify(self, *, sample: int = SPOT_CHECKS) -> dict[str, Any]:
        """Norce's SKUs against the ERP's catalogue: count, and a spot check of some SKUs."""
        segment, row = self.erp.catalogue(self.erp_sim)
        connect = self.norce.connect
        with connect.lock:
            skus = len(connect.skus)
            active = sum(1 for sku in connect.skus.values() if sku.get("Status") == 1)
        mismatches: list[str] = []
        for index in self.sample_indices(segment.count, sample):
            number, ean, name = row(index)
            sku = connect.sku(number)
            if sku is None:
                mismatches.append(f"{number}: missing")
                continue
            norce_name = ((sku.get("Cultures") or {}).get("sv-SE") or {}).get("ErpName")
            problems = [
                what
                for what, ok in (
                    ("EanCode", sku.get("EanCode") == ean),
                    ("ErpName", norce_name == name),
                    ("Status", sku.get("Status") == 1),
                )
                if not ok
            ]
            if problems:
                mismatches.append(f"{number}: {', '.join(problems)} differ")
        return {
            "norce_skus": skus,
            "norce_active": active,
            f"{self.erp.key}_articles": self.articles,
            "spot_checked": len(self.sample_indices(segment.count, sample)),
            "mismatches": mismatches[:10],
            "equal": skus == self.articles and active == self.articles and not mismatches,
        }

    @staticmethod
    def sample_indices(count: int, sample: int = SPOT_CHECKS) -> list[int]:
        rng = random.Random(7)
        return sorted({0, count - 1, *(rng.randrange(count) for _ in range(sample))})

    def close(self) -> None:
        self.erp_sim.stop()
        self.norce.stop()
        self.norce.connect.close()  # its stored payloads (the full file is hundreds of MB)
