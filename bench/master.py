"""Master data benchmark: products from Fortnox into Norce (full file and incremental), stock latency.

    python -m bench.master [--quick] [--sizes 100000,1000000] [--incremental 100000] [--latency-runs 5]
                           [--cases full-1000000-on,stock] [--json var/bench-master.json]
    python -m bench.run --only master [--quick]

Both simulators run in this process; what is measured runs in its own process:
`manage.py resync <id> products [--full] --no-progress` (a child process whose peak
memory is read from /proc and from its rusage), or a django-q2 cluster
(`manage.py qcluster`, default settings, 2 workers). Cases:

  (1) full file, `seed_generated(N)` articles → one streamed FullFile import, for each N
      in --sizes, with rate limits off and on (ours and the simulators': Fortnox 25 per
      5 s, Norce Connect 60 per minute). --quick (or BENCH_QUICK=1) skips the largest N
      with limits on (≈ 2,000 Fortnox pages at 5 a second ≈ 7 minutes on its own).
  (2) incremental bulk: --incremental N changed SKUs through collect + batches of the
      products flow's default batch_size, rate limits off.
  (3) stock latency, every limit on, default flow settings, a q cluster: one article's
      stock changed in Fortnox and the stock flow's schedule rule triggered at that
      moment (what its next tick does), until Norce's onhand shows the value; repeated
      --latency-runs times after one warm-up. The latency under the 5-minute schedule is
      computed from it (pipeline + interval/2 on average, pipeline + interval at worst).
      Then once more while a products full file of the 100k catalogue runs in the other
      worker (stock holds a reserved share of the Norce Connect limit; the Fortnox budget
      is shared with the full file's reading).

Every case gets fresh simulators and a fresh integration in its own database
(BENCH_MASTER_DB, default the orders benchmark's name + _master, e.g. brygga_bench_master,
recreated at start). Figures are printed
as a table and written to var/bench-master.json. Nothing is asserted.

Runtime measured on 2 CPUs: ≈ 10 minutes with --quick (1M without limits 3.5 min, the
100k full files 0.5 and 1 min, incremental 100k 4 min, stock latency 1.2 min), plus
≈ 8 minutes for 1M with limits on (2,000 Fortnox pages at 5 a second).
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

from bench.harness import (
    BENCH_DB,
    DEFAULT_DATABASE_URL,
    ROOT,
    VAR,
    bench_database_url,
    log,
    machine_info,
    recreate_database,
    setup_django,
    spread_resync_run_ids,
)
from bench.master_report import render
from bench.master_resync import resync_case
from bench.master_stock import stock_latency_case

MASTER_DB = os.environ.get("BENCH_MASTER_DB") or f"{BENCH_DB}_master"
DEFAULT_SIZES = (100_000, 1_000_000)


def quick_default() -> bool:
    return os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")


# --- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.master", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        default=quick_default(),
        help="skip the largest size with rate limits on (also BENCH_QUICK=1)",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="full-file catalogue sizes (default 100000,1000000)",
    )
    parser.add_argument("--incremental", type=int, default=100_000, help="changed SKUs in (2); 0 skips it")
    parser.add_argument("--latency-runs", type=int, default=5, help="stock changes measured in (3); 0 skips it")
    parser.add_argument(
        "--latency-articles",
        type=int,
        default=100_000,
        help="catalogue of (3), sent as the concurrent full file (default 100000)",
    )
    parser.add_argument(
        "--cases",
        default="",
        help="run only the cases whose key contains one of these (comma-separated), e.g. "
        "'full-1000000-on' or 'incremental,stock'; keys are printed as they run",
    )
    parser.add_argument("--json", type=Path, default=VAR / "bench-master.json", help="where to write the figures")
    args = parser.parse_args(argv)
    args.cases = [part.strip() for part in args.cases.split(",") if part.strip()]
    args.sizes = sorted(int(s) for s in str(args.sizes).split(",") if s.strip())
    return args


def cases(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for n in args.sizes:
        out.append((f"full-{n}-off", f"full file {n:,}, rate limits off", {"n": n, "full": True, "limits": False}))
    for n in args.sizes:
        if args.quick and n == max(args.sizes) and len(args.sizes) > 1 and not args.cases:
            continue
        out.append((f"full-{n}-on", f"full file {n:,}, rate limits on", {"n": n, "full": True, "limits": True}))
    if args.incremental > 0:
        n = args.incremental
        out.append(
            (
                f"incremental-{n}-off",
                f"incremental {n:,} changed, rate limits off",
                {"n": n, "full": False, "limits": False},
            )
        )
    return [case for case in out if selected(args, case[0])]


def selected(args: argparse.Namespace, key: str) -> bool:
    return not args.cases or any(part in key for part in args.cases)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    VAR.mkdir(exist_ok=True)
    began = time.monotonic()
    load_before = os.getloadavg()
    url = bench_database_url(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL, MASTER_DB)
    log(f"database {MASTER_DB}: recreating and migrating")
    recreate_database(url, MASTER_DB)
    setup_django(url)
    spread_resync_run_ids()
    results: dict[str, Any] = {}
    interrupted = False
    try:
        for key, title, spec in cases(args):
            try:
                results[key] = resync_case(key, title, **spec)
            except Exception as exc:  # noqa: BLE001 - report it and go on with the next case
                log(f"[{key}] failed: {type(exc).__name__}: {exc}")
                results[key] = {"case": key, "title": title, "error": f"{type(exc).__name__}: {exc}"}
        if args.latency_runs > 0 and selected(args, "stock"):
            try:
                results["stock"] = stock_latency_case(runs=args.latency_runs, full_file_articles=args.latency_articles)
            except Exception as exc:  # noqa: BLE001
                log(f"[stock] failed: {type(exc).__name__}: {exc}")
                results["stock"] = {"case": "stock", "error": f"{type(exc).__name__}: {exc}"}
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping")
    finally:
        from django.db import connections

        connections.close_all()

    total = time.monotonic() - began
    table = render(results)
    report = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "total_seconds": round(total, 1),
        "machine": machine_info(load_before),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cases": results,
        "table": table.splitlines(),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    print()
    print(
        f"Brygga master data benchmark — {os.cpu_count()} CPUs, load {load_before[0]:.2f} at start, "
        f"{total:.0f}s in all{' (quick)' if args.quick else ''}"
    )
    print(table)
    print(f"\nFigures: {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    if interrupted:
        return 130
    return 1 if any("error" in r or not r.get("complete") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
