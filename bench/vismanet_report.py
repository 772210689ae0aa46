"""The Visma.net benchmark's tables: the orders scenarios (rows as bench.orders_report's) and the resyncs."""

from __future__ import annotations

import math
from typing import Any

from bench.erps import VISMANET, VISMANET_SCALED
from bench.master_report import RSS_GOAL_MB
from bench.orders_report import Row, check, fmt, render

P = "vismanet"  # the prefix of the scenario's Visma.net figures


def _endpoint_rows(r: dict[str, Any]) -> list[Row]:
    per = max(r["completed"], 1)
    calls = r.get(f"{P}_calls") or {}
    return [
        Row(f"  {endpoint}", fmt(count / per))
        for endpoint, count in sorted(calls.items(), key=lambda kv: -kv[1])
        if VISMANET.is_api(endpoint.split(" ", 1)[1])
    ]


def orders_rows(r: dict[str, Any]) -> list[Row]:
    if "error" in r:
        return [Row(f"({r['scenario']}) {r['title']} — FAILED: {r['error'][:200]}", "", section=True)]
    key, n = r["scenario"], r["orders"]
    cpu, per = r["cpu"], max(r["completed"], 1)
    rows = [
        Row(
            f"({key}) Visma.net, {r['title']} — {n} orders after {r['warm_up_orders']} warm-up, "
            f"{r['workers']} workers" + ("" if r["complete"] else f" — INCOMPLETE {r['completed']}/{n}"),
            "",
            section=True,
        )
    ]
    calls_row = Row("Visma.net API calls/order, by endpoint:", fmt(r[f"{P}_api_calls_per_order"]))
    tokens = Row("  Visma Connect token calls (the whole run)", str(r[f"{P}_token_calls"]))
    if not r["settings"]["erp_limit"]:
        rows += [
            Row("orders/s, first push → last Confirmed", fmt(r["orders_per_second"], 1)),
            Row("  invoices/s, first push → last invoice", fmt(r.get("invoices_per_second"), 1)),
            Row("  last invoice → last Confirmed, s", fmt(r.get("status_lag_seconds"), 1)),
            Row("CPU ms/order, q cluster + web", fmt(r["cpu_ms_per_order"], 1)),
            Row(f"  q cluster ({r['cluster_processes']} processes)", fmt(cpu["cluster_ms"] / per, 1)),
            Row("    of which the idle cluster's broker polling", fmt(r.get("cluster_idle_cpu_ms_per_order"), 1)),
            Row("  web (order receiver process)", fmt(cpu["web_ms"] / per, 1)),
            Row("  not counted: PostgreSQL backends (approx.)", fmt(cpu["postgres_ms"] / per, 1)),
            Row("  not counted: simulators + driver", fmt(cpu["bench_process_ms"] / per, 1)),
            calls_row,
            *_endpoint_rows(r),
            tokens,
            Row("Norce API calls/order", fmt(r["norce_calls_per_order"])),
        ]
    else:
        erp = VISMANET_SCALED
        ratio = r.get(f"ratio_to_{P}_allowance")
        windows = r.get(f"{P}_windows_needed")
        last_invoice = (r.get("invoice_offsets") or [None])[-1]
        block, span = r["steady_block_invoices"], r["steady_to_invoice"] - r["steady_from_invoice"]
        rows += [
            Row(
                f"invoices/s, steady (invoice {r['steady_from_invoice']} → {r['steady_to_invoice']}"
                + (f", whole windows of {block})" if span >= block and span % block == 0 else ")"),
                fmt(r["invoices_per_second_steady"]),
            ),
            Row("  cross-check: least-squares slope, same invoices", fmt(r.get("invoices_per_second_fitted"))),
            Row(
                f"Visma.net limit allows, invoices/s ({erp.limit_text} ÷ calls/invoice)",
                fmt(r.get(f"{P}_allowance_invoices_per_second")),
            ),
            Row("invoices/s ÷ allowance", fmt(ratio), *check(ratio, "≥ 0.95", lambda v: v >= 0.95)),
            Row(
                f"calls/order × orders ÷ limit = windows of {erp.window:g} s the run needs",
                fmt(windows),
            ),
            Row(
                f"  first push → last invoice, s (the limit's floor: (⌈windows⌉ − 1) × {erp.window:g} s)",
                f"{fmt(last_invoice, 1)} ({fmt((math.ceil(windows) - 1) * erp.window if windows else None, 0)})",
            ),
            calls_row,
            *_endpoint_rows(r),
            tokens,
            Row(
                "429s from Visma.net"
                + (
                    f" (arrived {', '.join(f'{ms:g}' for ms in r[f'{P}_429_early_ms'][:8])} ms early)"
                    if r.get(f"{P}_429_early_ms")
                    else ""
                ),
                str(r[f"{P}_429"]),
                *check(r[f"{P}_429"], "0", lambda v: v == 0),
            ),
            Row("times every worker was held back (window spent / 429)", str(r.get("limiter_holds", 0))),
            Row("longest pause between two invoices, s", fmt(r.get("longest_pause_between_invoices_seconds"), 1)),
            Row(
                "orders/s, first push → last " + ("Confirmed" if r["settings"]["send_status"] else "invoice"),
                fmt(r["orders_per_second"]),
            ),
        ]
        if r["settings"]["send_status"]:
            rows += [
                Row(
                    "Norce Connect allows, orders/s (60/min ÷ calls/order)",
                    fmt(r.get("norce_allowance_orders_per_second")),
                ),
                Row("Norce calls/order (Connect + token)", fmt(r["norce_calls_per_order"])),
                Row("429s from Norce", str(r["norce_429"]), *check(r["norce_429"], "0", lambda v: v == 0)),
            ]
        rows.append(Row("CPU ms/order, q cluster + web", fmt(r["cpu_ms_per_order"], 1)))
    if r["tasks_retried"]:
        rows.append(Row("tasks that needed a retry", str(r["tasks_retried"])))
    return rows


def render_orders(results: dict[str, Any]) -> str:
    return render([row for key in sorted(results) for row in orders_rows(results[key])])


def render_resync(results: dict[str, Any], n: int) -> str:
    head = (
        "case",
        "rows",
        "wall s",
        "rows/s",
        "Visma.net calls (pages)",
        "of 3,600/h",
        "imports",
        "Connect calls",
        "jobs",
        "429s",
        "peak RSS MB",
        "Norce = Visma.net",
    )
    rows = [head]
    errors = []
    for key, r in results.items():
        if "error" in r:
            errors.append(f"  {key}: ERROR {r['error']}")
            continue
        jobs = ", ".join(f"{count} {status}" for status, count in sorted(r["jobs"].items())) or "-"
        rows.append(
            (
                f"{r['data']} full file, limits {'on' if r['rate_limits'] else 'off'}",
                f"{r['n']:,}",
                fmt(r["wall_seconds"], 1),
                fmt(r["rows_per_second"], 0),
                f"{r['vismanet_calls']:,} ({r['vismanet_pages_expected']:,})",
                f"{r['share_of_hourly_budget']:.1%}",
                str(r["connect_imports"]),
                f"{r['connect_calls']} ({r['connect_job_gets']} Job/Get)",
                jobs,
                f"{r['vismanet_429']}/{r['norce_429']}",
                fmt(r["peak_rss_mb"], 1),
                ("yes" if r["verify"]["equal"] else "NO") + f" ({r['verify']['norce_rows']:,})",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [f"  Visma.net full-file resync of {n:,} generated items → Norce Connect"]
    for j, row in enumerate(rows):
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(widths[i]) if i in (0, 8, 11) else cell.rjust(widths[i]) for i, cell in enumerate(row)
            )
        )
        if j == 0:
            lines.append("  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
    endpoints = {
        key: ", ".join(f"{endpoint} {count:,}" for endpoint, count in r["vismanet_calls_by_endpoint"].items())
        for key, r in results.items()
        if "error" not in r
    }
    lines.append("  Visma.net requests by endpoint:")
    lines += [f"    {key}: {text or '-'}" for key, text in endpoints.items()]
    lines.append(
        "  (pages expected in brackets: 5,000 inventory items or 1,000 prices a page; 429s: Visma.net/Norce; "
        "peak RSS: VmHWM of the resync "
        f"process, goal < {RSS_GOAL_MB} MB; limits on: Visma.net 3,600 per hour on both sides, Norce Connect 60/min)"
    )
    return "\n".join(lines + errors)


NOTES = f"""\
Notes:
- The Visma.net limit is scaled: the simulator counts {VISMANET_SCALED.limit} requests per fixed window of
  {VISMANET_SCALED.window:g} s (per company + client, opened by its first request) and Brygga's requests_per_hour is
  the same rate, {VISMANET_SCALED.requests_per_hour:,}. Brygga's limiter counts that budget over 3600 s whatever
  the setting, so within a run its own count never fills: what paces Brygga is Visma.net's
  X-RateLimit-Remaining 0, on which every worker is held until X-RateLimit-Reset (whole seconds), and a
  429 with Retry-After for a request another worker had already sent. At the end of a real hour, with
  3,600 on both sides, Brygga's own count fills at the same request and holds those too: the scaled
  runs' 429s are what Brygga meets when Visma.net's real limit is below requests_per_hour. The best
  ratio is about window ÷ (window + the Reset's rounding up to a whole second, ≈ 0.5 s).
- (b) and (c) start on a fresh window (they wait for the warm-up's to reset). Steady throughput skips
  the first invoices, then spans whole blocks of the invoices one window's requests pay for
  ({VISMANET_SCALED.limit} ÷ calls per invoice); the least-squares slope is lower under bursts of a
  {VISMANET_SCALED.window:g} s window and only a cross-check.
- Calls/order count requests to /v1, /v2 and /api/v3 over the timed orders; tokens are apart.
- CPU: as in the Fortnox orders benchmark (q cluster process group and the order receiver, from /proc)."""
