"""The orders benchmark's table: rows per scenario, with goals against the APIs' bounds, and its notes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.orders_measure import FORTNOX_LIMIT


# --- report ---------------------------------------------------------------------------
@dataclass
class Row:
    metric: str
    value: str
    goal: str = ""
    ok: str = ""
    section: bool = False


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def check(value: float | None, goal: str, passes: Callable[[float], bool]) -> tuple[str, str]:
    if value is None:
        return goal, "n/a"
    return goal, "yes" if passes(value) else "NO"


def rows_for(r: dict[str, Any]) -> list[Row]:
    if "error" in r:
        return [Row(f"({r['scenario']}) {r['title']} — FAILED: {r['error'][:200]}", "", section=True)]
    key, n = r["scenario"], r["orders"]
    rows = [
        Row(
            f"({key}) {r['title']} — {n} orders after {r['warm_up_orders']} warm-up, "
            f"{r['workers']} workers" + ("" if r["complete"] else f" — INCOMPLETE {r['completed']}/{n}"),
            "",
            section=True,
        )
    ]
    cpu = r["cpu"]
    per = max(r["completed"], 1)
    calls_goal = check(r["fortnox_api_calls_per_order"], "≤ 1.05", lambda v: v <= 1.05)
    if key == "a":
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
            Row("Fortnox API calls/order", fmt(r["fortnox_api_calls_per_order"]), *calls_goal),
            Row("Norce API calls/order", fmt(r["norce_calls_per_order"])),
        ]
    else:
        ratio = r.get("ratio_to_fortnox_allowance")
        rows += [
            Row(
                f"invoices/s, steady (invoice {r['steady_from_invoice']} → {r['steady_to_invoice']}"
                + (f", whole windows of {FORTNOX_LIMIT})" if r["steady_to_invoice"] < r["completed"] else ")"),
                fmt(r["invoices_per_second_steady"]),
            ),
            Row("  cross-check: least-squares slope, same invoices", fmt(r.get("invoices_per_second_fitted"))),
            Row(
                "Fortnox limit allows, invoices/s (25/5 s ÷ calls/invoice)",
                fmt(r.get("fortnox_allowance_invoices_per_second")),
            ),
            Row("invoices/s ÷ allowance", fmt(ratio), *check(ratio, "≥ 0.95", lambda v: v >= 0.95)),
            Row("Fortnox API calls/order", fmt(r["fortnox_api_calls_per_order"]), *calls_goal),
            Row(
                "429s from Fortnox"
                + (
                    f" (arrived {', '.join(f'{ms:g}' for ms in r['fortnox_429_early_ms'])} ms early)"
                    if r.get("fortnox_429_early_ms")
                    else ""
                ),
                str(r["fortnox_429"]),
                *check(r["fortnox_429"], "0", lambda v: v == 0),
            ),
            Row(
                "our limiter's stamp → Fortnox receipt, ms p50 / p99 / max",
                "{p50:g} / {p99:g} / {max:g}".format(**r["fortnox_stamp_to_arrival_ms"])
                if r.get("fortnox_stamp_to_arrival_ms")
                else "n/a",
                *check((r.get("fortnox_stamp_to_arrival_ms") or {}).get("max"), "< 100 (margin)", lambda v: v < 100),
            ),
            Row(
                f"  requests over 50 ms / of them while pushing (first {r['push_seconds']:.1f} s)",
                f"{len(r.get('fortnox_slow_requests_at') or [])} / {r.get('fortnox_slow_during_push', 0)}",
            ),
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
            peaks = r.get("most_tasks_running_at_once") or {}
            if "follow_up" in (r["diagnostics"].get("tasks_by_trigger") or {}):
                rows.append(
                    Row(
                        f"most follow-up tasks running at once (> 1 s), of {r['workers']} workers",
                        str(peaks.get("follow_up", 0)),
                    )
                )
        rows.append(Row("CPU ms/order, q cluster + web", fmt(r["cpu_ms_per_order"], 1)))
    if r["tasks_retried"]:
        rows.append(Row("tasks that needed a retry", str(r["tasks_retried"])))
    return rows


def render(rows: list[Row]) -> str:
    head = Row("metric", "value", "goal", "ok?")
    body = [row for row in rows if not row.section]
    w = [max(len(getattr(row, name)) for row in [head, *body]) for name in ("metric", "value", "goal", "ok")]
    line = lambda row: f"  {row.metric:<{w[0]}}  {row.value:>{w[1]}}  {row.goal:<{w[2]}}  {row.ok}".rstrip()  # noqa: E731
    out = [line(head), "  " + "-" * (sum(w) + 6)]
    for row in rows:
        out.append(row.metric if row.section else line(row))
    return "\n".join(out)


NOTES = """\
Notes:
- CPU: "q cluster" is the whole `manage.py qcluster` process group (sentinel, pusher, monitor, workers),
  read from /proc over the timed window; it includes the broker's polling (Q_POLL=0.05), whose idle cost
  is measured on the idle cluster before (a). "web" is the process serving the order receiver.
  PostgreSQL (live backends of the bench database; closed ones are missed) and this process (both
  simulators, the pushes, polling for progress) are shown but not counted.
- Fortnox calls/order count requests to /3/ over the timed orders (token calls are in the JSON).
- (b) runs with the flow's send_status_to_commerce off so that only the Fortnox budget paces it; (c) is the
  same with the status to Norce on and Norce Connect's 60/min limit. Our limiter counts a 5.1 s window
  (0.1 s margin), so the best ratio is 5/5.1 = 0.98.
- Steady throughput skips the first invoices (the window starts with room for a burst), then spans
  whole blocks of 25 invoices, as the limit lets invoices through in bursts of up to 25 per window.
- Our limiter stamps a request before sending it; Fortnox counts it on arrival. Requests slower than
  50 ms from stamp to receipt "while pushing" are this process's doing: the Fortnox simulator shares
  it with the threads pushing the orders."""
