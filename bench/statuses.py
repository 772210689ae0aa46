"""Benchmark: a backlog of order statuses drains at Norce Connect's pace.

    python -m bench.statuses [--statuses 2000] [--slice 120]

N invoiced orders wait for `Confirmed` (as after a soak); one follow-up task is queued and a
real cluster sends them under every limit: our shared limiter and the Norce simulator's own
Connect window (60 requests a minute). Each task sends for one slice (TASK_SLICE_SECONDS) and
hands over, so none reaches the queue's timeout. The figure is statuses per second against
Norce's bound of 1/s, from the first status to the last; the slices used and the largest gap
between two statuses (a handover) are printed too. Figures go to var/bench-statuses.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.erps import FORTNOX
from bench.harness import (
    BENCH_DB,
    DEFAULT_DATABASE_URL,
    VAR,
    bench_database_url,
    build_integration,
    log,
    recreate_database,
    setup_django,
    start_cluster,
)

NORCE_BOUND = 60 / 60.0  # Norce Connect: 60 requests a minute


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(prog="python -m bench.statuses", description=__doc__.splitlines()[0])
    parser.add_argument("--statuses", type=int, default=2000, help="invoiced orders waiting for a status (2000)")
    parser.add_argument("--slice", type=float, default=120.0, help="TASK_SLICE_SECONDS for the cluster (120)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=str(VAR / "bench-statuses.json"))
    args = parser.parse_args(argv)
    VAR.mkdir(exist_ok=True)
    url = bench_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, f"{BENCH_DB}_statuses")
    recreate_database(url, f"{BENCH_DB}_statuses")
    setup_django(url)

    from integrations import services
    from integrations.models import Entity, Task
    from simulators.fortnox.server import FortnoxSimulator
    from simulators.norce.server import NorceSimulator

    norce, fortnox = NorceSimulator(seed=41), FortnoxSimulator()
    norce.start()
    fortnox.start()
    cluster = None
    try:
        norce.connect_limiter.enabled = True
        integration, _ = build_integration(
            name="Status backlog",
            norce_url=norce.url,
            erp=FORTNOX,
            erp_simulator=fortnox,
            flow_settings={"freight_article": "FRAKT"},
        )
        flow = integration.flows.get(kind="orders_to_erp")
        log(f"{args.statuses} invoiced orders waiting for their status")
        rows = []
        for n in range(args.statuses):
            ref = norce.place_order(push=False)["ClientOrderRef"]
            rows.append(
                Entity(
                    integration=integration,
                    data_type="order",
                    source_id=ref,
                    reference=ref,
                    status=Entity.Status.SYNCED,
                    target_id=str(100000 + n),
                    received_via="push",
                )
            )
        Entity.objects.bulk_create(rows, batch_size=1000)
        os.environ["TASK_SLICE_SECONDS"] = str(args.slice)
        cluster = start_cluster(args.workers, True, "statuses")
        time.sleep(3)
        began = time.monotonic()
        services.queue_follow_up(flow, {"acknowledge": True})
        deadline = began + args.statuses / NORCE_BOUND * 1.5 + 120
        while time.monotonic() < deadline:
            left = Entity.objects.filter(
                integration=integration, data_type="order", acknowledged_at__isnull=True
            ).count()
            if left == 0:
                break
            if not cluster.alive():
                raise RuntimeError(f"the cluster died: {cluster.tail()}")
            time.sleep(1)
        stamps = sorted(
            e.acknowledged_at.timestamp()
            for e in Entity.objects.filter(integration=integration, data_type="order", acknowledged_at__isnull=False)
        )
        sent = [s for s in norce.order_statuses if s["status_name"] == "Confirmed"]
        tasks = Task.objects.filter(flow=flow, params__acknowledge=True)
        result: dict[str, Any] = {
            "statuses": args.statuses,
            "acknowledged": len(stamps),
            "sent_to_norce": len(sent),
            "distinct_orders_confirmed": len({s["client_order_ref"] for s in sent}),
            "slice_seconds": args.slice,
            "tasks": tasks.count(),
            "tasks_not_succeeded": tasks.exclude(status=Task.Status.SUCCEEDED).count(),
            "norce_429": norce.connect_limiter.rejected,
            "wall_seconds": round(time.monotonic() - began, 1),
        }
        if len(stamps) > 1:
            span = stamps[-1] - stamps[0]
            result["rate_per_second"] = round((len(stamps) - 1) / span, 4)
            result["ratio_to_norce_bound"] = round(result["rate_per_second"] / NORCE_BOUND, 3)
            result["largest_gap_seconds"] = round(max(b - a for a, b in zip(stamps, stamps[1:])), 2)
        (VAR / "bench-statuses.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        ok = result["acknowledged"] == args.statuses and result.get("ratio_to_norce_bound", 0) >= 0.95
        print(
            f"status backlog: {result.get('rate_per_second')}/s = {result.get('ratio_to_norce_bound')} of "
            f"Norce Connect's 1/s (goal ≥ 0.95): {'ok' if ok else 'BELOW GOAL'}"
        )
        return 0 if ok else 1
    finally:
        if cluster is not None:
            cluster.stop()
        norce.stop()
        fortnox.stop()


if __name__ == "__main__":
    sys.exit(main())
