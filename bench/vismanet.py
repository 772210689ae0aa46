"""Visma.net benchmark: web orders into Visma.net customer invoices, and full-file resyncs from it.

    python -m bench.vismanet [--quick] [--orders N] [--limited-orders N] [--coupled-orders N]
                             [--items N] [--only a,b,c,resync] [--workers W] [--json var/bench-vismanet.json]
    python -m bench.run --only vismanet [--quick]

Orders, as bench.run does them for Fortnox (bench.orders_scenario): Norce simulator → order
receiver (own process) → django-q2 cluster (own process group) → Visma.net simulator customer
invoice (connector `vismanet`, flow default document "invoice") → Reference → status back to
Norce. Scenarios:

  (a) rate limits off: throughput, CPU per order, API calls per order by endpoint;
  (b) the Visma.net limit on, scaled (bench.erps: the simulator counts 150 requests per fixed
      30 s window, Brygga's requests_per_hour is the same rate, 18,000), Norce status off so that
      only the Visma.net budget paces the run: invoices per second against what the limit
      allows, calls per order, 429s;
  (c) every limit on (that Visma.net limit, and Norce Connect's 60 per minute for the status).

Then the master data (bench.vismanet_resync): `seed_generated(--items)` items, computed on
demand, and `manage.py resync <id> products|prices|stock --full` in its own process, measured
(API calls by endpoint, Norce Connect jobs, duration, rows per second, peak memory): products
with rate limits off, then products, prices and stock with every limit on as in production
(Visma.net 3,600 per hour on both sides, Norce Connect 60 per minute).

Its own database (BENCH_VISMANET_DB, default the orders benchmark's name + _vismanet, e.g.
brygga_bench_vismanet, recreated at start). Figures are printed as a table and written to
var/bench-vismanet.json. --quick (or BENCH_QUICK=1): 60/100/30 orders and 10,000 items.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procstat
from bench.erps import VISMANET_SCALED
from bench.harness import (
    BENCH_DB,
    DEFAULT_DATABASE_URL,
    ROOT,
    VAR,
    Child,
    bench_database_url,
    log,
    machine_info,
    recreate_database,
    setup_django,
    spread_resync_run_ids,
    start_web,
)
from bench.orders_scenario import Scenario, run_scenario
from bench.vismanet_report import NOTES, render_orders, render_resync
from bench.vismanet_resync import resync_cases

VISMANET_DB = os.environ.get("BENCH_VISMANET_DB") or f"{BENCH_DB}_vismanet"
CALLS_PER_ORDER_GUESS = 5.0  # for the timeouts only: the figure is measured
PARTS = ("a", "b", "c", "resync")


def quick_default() -> bool:
    return os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.vismanet", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=quick_default(), help="smaller counts")
    parser.add_argument("--orders", type=int, default=None, help="orders in (a), limits off (300; quick 60)")
    parser.add_argument("--limited-orders", type=int, default=None, help="orders in (b) (200; quick 100)")
    parser.add_argument("--coupled-orders", type=int, default=None, help="orders in (c) (100; quick 30; 0 skips)")
    parser.add_argument("--items", type=int, default=None, help="generated items resynced (100000; quick 10000)")
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("Q_WORKERS", "2")), help="q cluster workers (2)"
    )
    parser.add_argument("--buyers", type=int, default=20, help="returning customers in the pool (20)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads serving the order receiver (8)")
    parser.add_argument("--only", default=",".join(PARTS), help="what to run: a, b, c and/or resync (all)")
    parser.add_argument("--json", type=Path, default=VAR / "bench-vismanet.json", help="where to write the figures")
    args = parser.parse_args(argv)
    args.only = {part.strip().lower() for part in args.only.split(",") if part.strip()}
    unknown = args.only - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    defaults = {
        "orders": (300, 60),
        "limited_orders": (200, 100),
        "coupled_orders": (100, 30),
        "items": (100_000, 10_000),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    erp = VISMANET_SCALED
    invoices_per_second = erp.limit / erp.window / CALLS_PER_ORDER_GUESS
    common = {"erp": erp, "database": VISMANET_DB, "log_name": "bench-vismanet-qcluster"}
    all_ = [
        Scenario(
            "a",
            "rate limits off",
            args.orders,
            rate_limits=False,
            erp_limit=False,
            norce_limit=False,
            send_status=True,
            first_ref=810001,
            seed=111,
            timeout=max(120.0, args.orders * 1.0),
            measure_idle=True,
            **common,
        ),
        Scenario(
            "b",
            f"Visma.net limit on ({erp.limit_text}, scaled), Norce status off",
            args.limited_orders,
            rate_limits=True,
            erp_limit=True,
            norce_limit=True,
            send_status=False,
            first_ref=820001,
            seed=222,
            timeout=90 + 2 * args.limited_orders / invoices_per_second,
            **common,
        ),
        Scenario(
            "c",
            f"every limit on (Visma.net {erp.limit_text} scaled, Norce Connect)",
            args.coupled_orders,
            rate_limits=True,
            erp_limit=True,
            norce_limit=True,
            send_status=True,
            first_ref=830001,
            seed=333,
            timeout=120 + 2 * args.coupled_orders / min(1.0, invoices_per_second),
            **common,
        ),
    ]
    return [sc for sc in all_ if sc.key in args.only and sc.orders > 0]


def run_orders(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from bench.orders import buyer_pool

    pool = buyer_pool(args.buyers, seed=7)
    children: list[Child] = []
    try:
        web, port = start_web(args.web_threads, log_name="bench-vismanet-web")
        children.append(web)
        log(f"order receiver on 127.0.0.1:{port} (pid {web.pid}, {args.web_threads} threads)")
        for sc in scenarios(args):
            log(f"({sc.key}) Visma.net, {sc.title}: {sc.orders} orders, {args.workers} workers")
            try:
                results[sc.key] = run_scenario(
                    sc, web=web, web_port=port, pool=pool, workers=args.workers, children=children
                )
            except Exception as exc:  # noqa: BLE001 - report it and go on with the next scenario
                log(f"({sc.key}) failed: {type(exc).__name__}: {exc}")
                results[sc.key] = {"scenario": sc.key, "title": sc.title, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        for child in reversed(children):
            child.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    VAR.mkdir(exist_ok=True)
    if not procstat.available():
        log("/proc is not readable here: CPU figures will be zero")
    began = time.monotonic()
    load_before = os.getloadavg()
    url = bench_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, VISMANET_DB)
    log(f"database {VISMANET_DB}: recreating and migrating")
    recreate_database(url, VISMANET_DB)
    setup_django(url)
    spread_resync_run_ids()

    orders: dict[str, Any] = {}
    resync: dict[str, Any] = {}
    interrupted = False
    try:
        if scenarios(args):
            run_orders(args, orders)
        if "resync" in args.only:
            resync_cases(args.items, results=resync)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping")
    finally:
        from django.db import connections

        connections.close_all()

    total = time.monotonic() - began
    orders_table = render_orders(orders) if orders else ""
    resync_table = render_resync(resync, args.items) if resync else ""
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "total_seconds": round(total, 1),
        "machine": machine_info(load_before),
        "options": {
            k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v)
            for k, v in vars(args).items()
        },
        "scaling": {
            "simulator_limit": VISMANET_SCALED.limit,
            "simulator_window_seconds": VISMANET_SCALED.window,
            "brygga_requests_per_hour": VISMANET_SCALED.requests_per_hour,
        },
        "orders": orders,
        "resync": resync,
        "table": (orders_table + "\n" + resync_table).splitlines(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    print()
    print(
        f"Brygga Visma.net benchmark — {os.cpu_count()} CPUs, load {load_before[0]:.2f} at start, "
        f"{total:.0f}s in all{' (quick)' if args.quick else ''}"
    )
    if orders_table:
        print(orders_table)
    if resync_table:
        print()
        print(resync_table)
    if orders_table:
        print()
        print(NOTES)
    print(f"\nFigures: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    if interrupted:
        return 130
    everything = [*orders.values(), *resync.values()]
    return 1 if any("error" in r or not r.get("complete") for r in everything) else 0


if __name__ == "__main__":
    sys.exit(main())
