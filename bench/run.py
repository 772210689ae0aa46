"""`make bench`: orders through the whole path against the simulators, measured.

    python -m bench.run [--orders N] [--limited-orders N] [--coupled-orders N] [--workers W]
                        [--only abc,master,statuses,vismanet] [--quick]

Norce simulator → order receiver (Brygga's WSGI app, own process) → task → django-q2
cluster (`manage.py qcluster`, own process group) → Fortnox simulator invoice →
Reference → SendOrderStatus back to the Norce simulator. Both simulators run in
this process. Scenarios:

  (a) rate limits off: throughput, CPU per order, API calls per order;
  (b) Fortnox limit on (ours and the simulator's 25 per 5 s), Norce status off so
      that only the Fortnox budget paces the run: invoices per second against what
      the limit allows, calls per order, 429s;
  (c) production pacing: every limit on (Fortnox, and Norce Connect's 60 per
      minute for the status call), status to Norce on.

Each scenario gets fresh simulators, a fresh integration and its own cluster. A
warm-up round first makes the pool's returning customers known (see bench.orders);
only the timed orders are counted. Figures are printed as a table and written to
var/bench-orders.json. Nothing is asserted.

Then, in a process of its own, the master data benchmark (bench.master: products full
file and incremental bulk, stock latency; var/bench-master.json). `--only master` runs
just that one, `--only abc` just the orders; `--quick` skips its longest case. Last, the
status backlog (bench.statuses: 2,000 invoiced orders waiting for `Confirmed`, drained under
Norce Connect's 60 a minute in slices; var/bench-statuses.json; about 35 minutes). Then
Visma.net (bench.vismanet: orders into customer invoices with its limit off and on, scaled, and
full-file resyncs of 100,000 generated items; var/bench-vismanet.json); `--only vismanet` runs
just that one, and `--quick` runs it with smaller counts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import master, procstat, vismanet
from bench.harness import (
    BEGAN,
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
    start_web,
)
from bench.orders_measure import FORTNOX_LIMIT, FORTNOX_WINDOW
from bench.orders_report import NOTES, render, rows_for
from bench.orders_scenario import Scenario, run_scenario


# --- main -----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="Orders benchmark against the simulators.")
    parser.add_argument("--orders", type=int, default=None, help="orders in (a), rate limits off (default 300)")
    parser.add_argument(
        "--limited-orders",
        type=int,
        default=None,
        help="orders in (b), Fortnox limit on (default 200, or 2/3 of --orders)",
    )
    parser.add_argument(
        "--coupled-orders",
        type=int,
        default=None,
        help="orders in (c), every limit on (default 100, or 1/3 of --orders; 0 skips it)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("Q_WORKERS", "2")),
        help="q cluster workers (default Q_WORKERS or 2)",
    )
    parser.add_argument("--buyers", type=int, default=20, help="returning customers in the pool (default 20)")
    parser.add_argument("--web-threads", type=int, default=8, help="threads serving the order receiver (default 8)")
    parser.add_argument(
        "--only",
        default="abc,master,statuses,vismanet",
        help="what to run: order scenarios by letter and/or 'master' (the master data "
        "benchmark, bench.master) and/or 'statuses' (a backlog of 2,000 order statuses, "
        "bench.statuses) and/or 'vismanet' (orders and resyncs against Visma.net, "
        "bench.vismanet), e.g. 'ab' or 'master' (default abc,master,statuses,vismanet)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=None,
        help="master data: skip the 1M full file with rate limits on; Visma.net: smaller counts (also BENCH_QUICK=1)",
    )
    parser.add_argument("--json", type=Path, default=VAR / "bench-orders.json", help="where to write the figures")
    args = parser.parse_args(argv)
    only = {part.strip().lower() for part in args.only.split(",") if part.strip()}
    args.master = "master" in only
    args.statuses = "statuses" in only
    args.vismanet = "vismanet" in only
    args.only = "".join(part for part in only if part not in ("master", "statuses", "vismanet"))
    base = args.orders
    args.orders = 300 if base is None else base
    if args.limited_orders is None:
        args.limited_orders = 200 if base is None else max(1, round(base * 2 / 3))
    if args.coupled_orders is None:
        args.coupled_orders = 100 if base is None else max(1, round(base / 3))
    return args


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    fortnox_rate = FORTNOX_LIMIT / FORTNOX_WINDOW / 1.05
    all_ = [
        Scenario(
            "a",
            "rate limits off",
            args.orders,
            rate_limits=False,
            erp_limit=False,
            norce_limit=False,
            send_status=True,
            first_ref=710001,
            seed=101,
            timeout=max(90.0, args.orders * 0.5),
            measure_idle=True,
        ),
        Scenario(
            "b",
            "Fortnox limit on, Norce status off",
            args.limited_orders,
            rate_limits=True,
            erp_limit=True,
            norce_limit=True,
            send_status=False,
            first_ref=720001,
            seed=202,
            timeout=60 + 2 * args.limited_orders / fortnox_rate,
        ),
        Scenario(
            "c",
            "every limit on (Fortnox and Norce Connect)",
            args.coupled_orders,
            rate_limits=True,
            erp_limit=True,
            norce_limit=True,
            send_status=True,
            first_ref=730001,
            seed=303,
            timeout=90 + 1.5 * args.coupled_orders,
        ),
    ]
    return [sc for sc in all_ if sc.key in args.only and sc.orders > 0]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_statuses(args: argparse.Namespace) -> int:
    """The status-backlog benchmark (bench.statuses), in a process of its own."""
    return subprocess.call([sys.executable, "-m", "bench.statuses"], cwd=ROOT)


def run_master(args: argparse.Namespace, *, in_process: bool) -> int:
    """The master data benchmark (bench.master): here, or in a process of its own after the orders."""
    flags = [] if args.quick is None else (["--quick"] if args.quick else [])
    if in_process:
        return master.main(flags)
    return subprocess.call([sys.executable, "-m", "bench.master", *flags], cwd=ROOT)


def run_vismanet(args: argparse.Namespace, *, in_process: bool) -> int:
    """The Visma.net benchmark (bench.vismanet): here, or in a process of its own after the others."""
    flags = [] if args.quick is None else (["--quick"] if args.quick else [])
    if in_process:
        return vismanet.main(flags)
    return subprocess.call([sys.executable, "-m", "bench.vismanet", *flags], cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    code = orders_main(args) if scenarios(args) else 0
    if args.master and code != 130:
        code = max(code, run_master(args, in_process=not scenarios(args)))
    if args.statuses and code != 130:
        code = max(code, run_statuses(args))
    if args.vismanet and code != 130:
        alone = not scenarios(args) and not args.master and not args.statuses
        code = max(code, run_vismanet(args, in_process=alone))
    return code


def orders_main(args: argparse.Namespace) -> int:
    VAR.mkdir(exist_ok=True)
    if not procstat.available():
        log("/proc is not readable here: CPU figures will be zero")
    began = BEGAN
    load_before = os.getloadavg()
    url = bench_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    log(f"database {BENCH_DB}: recreating and migrating")
    recreate_database(url)
    setup_django(url)

    from bench.orders import buyer_pool

    pool = buyer_pool(args.buyers, seed=7)
    children: list[Child] = []
    results: dict[str, Any] = {}
    interrupted = False
    try:
        web, port = start_web(args.web_threads)
        children.append(web)
        log(f"order receiver on 127.0.0.1:{port} (pid {web.pid}, {args.web_threads} threads)")
        for sc in scenarios(args):
            log(f"({sc.key}) {sc.title}: {sc.orders} orders, {args.workers} workers")
            try:
                results[sc.key] = run_scenario(
                    sc, web=web, web_port=port, pool=pool, workers=args.workers, children=children
                )
            except Exception as exc:  # noqa: BLE001 - report it and go on with the next scenario
                log(f"({sc.key}) failed: {type(exc).__name__}: {exc}")
                results[sc.key] = {"scenario": sc.key, "title": sc.title, "error": f"{type(exc).__name__}: {exc}"}
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping")
    finally:
        for child in reversed(children):
            child.stop()
        from django.db import connections

        connections.close_all()

    rows = [row for key in sorted(results) for row in rows_for(results[key])]
    total = time.monotonic() - began
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "total_seconds": total,
        "machine": machine_info(load_before),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "scenarios": results,
        "table": [asdict(row) for row in rows],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    if rows:
        print()
        print(
            f"Brygga orders benchmark — {os.cpu_count()} CPUs, load {load_before[0]:.2f} at start, {total:.0f}s in all"
        )
        print(render(rows))
        print()
        print(NOTES)
        print(f"\nFigures: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    if interrupted:
        return 130
    return 1 if any("error" in r or not r.get("complete") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
