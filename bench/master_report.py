"""The master data benchmark's table."""

from __future__ import annotations

from typing import Any

RSS_GOAL_MB = 250


# --- report ----------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def render(results: dict[str, Any]) -> str:
    lines = []
    resyncs = [r for r in results.values() if isinstance(r, dict) and "full_file" in r]
    if resyncs:
        head = (
            "case",
            "N",
            "wall s",
            "items/s",
            "Fortnox calls",
            "imports (exp.)",
            "Connect calls",
            "429s",
            "peak RSS MB",
            "Norce = Fortnox",
            "case s",
        )
        rows = [head]
        for r in resyncs:
            mode = "full file" if r["full_file"] else f"incremental (batch {r['batch_size']})"
            rows.append(
                (
                    f"{mode}, limits {'on' if r['rate_limits'] else 'off'}",
                    fmt(r["n"]),
                    fmt(r["wall_seconds"], 1),
                    fmt(r["items_per_second"]),
                    f"{r['fortnox_calls']:,} ({r['fortnox_pages_expected']:,})",
                    f"{r['connect_imports']} ({r['connect_imports_expected']})",
                    f"{r['connect_calls']} ({r['connect_job_gets']} Job/Get)",
                    f"{r['fortnox_429']}/{r['norce_429']}",
                    fmt(r["peak_rss_mb"], 1),
                    ("yes" if r["verify"]["equal"] else "NO") + f" ({r['verify']['norce_skus']:,} SKUs)",
                    fmt(r["case_seconds"]),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        for j, row in enumerate(rows):
            lines.append(
                "  "
                + "  ".join(
                    cell.ljust(widths[i]) if i in (0, 9) else cell.rjust(widths[i]) for i, cell in enumerate(row)
                )
            )
            if j == 0:
                lines.append("  " + "-" * (sum(widths) + 2 * (len(widths) - 1)))
        lines.append(
            "  (Fortnox calls: expected pages in brackets; 429s: Fortnox/Norce; peak RSS of the resync "
            f"process, goal flat in N and < {RSS_GOAL_MB} MB)"
        )
    stock = results.get("stock")
    if isinstance(stock, dict) and "runs" in stock:
        times = ", ".join(fmt(s["seconds"], 2) for s in stock["runs"])
        busy = stock["during_full_file"]
        interval = stock["schedule_interval_seconds"]
        lines += [
            "",
            f"  Stock latency, every limit on (Fortnox change → Norce onhand), {len(stock['runs'])} runs: {times} s",
            (
                f"    pipeline (rule triggered at the change): median {fmt(stock['pipeline_median_seconds'], 2)} s, "
                f"max {fmt(stock['pipeline_max_seconds'], 2)} s"
            ),
            (
                f"    COMPUTED for the {interval // 60:.0f}-minute schedule: mean ≈ "
                f"{fmt(stock['computed_mean_seconds'], 1)} s (pipeline median + {interval / 2:.0f} s), worst ≈ "
                f"{fmt(stock['computed_worst_seconds'], 1)} s (pipeline max + {interval:.0f} s)"
            ),
            (
                f"    during a {stock['full_file_articles']:,}-SKU products full file in the other worker: "
                f"{fmt(busy['seconds'], 2)} s (full file {busy['full_file_during']} → {busy['full_file_after']})"
            ),
            (
                f"    that full file in the cluster: {stock['full_file_in_cluster']['status']} in "
                f"{fmt(stock['full_file_in_cluster']['seconds'], 1)} s; case took {fmt(stock['case_seconds'])} s"
            ),
        ]
    for key, r in results.items():
        if isinstance(r, dict) and "error" in r:
            lines.append(f"  {key}: ERROR {r['error']}")
    return "\n".join(lines)
