"""`make bench`: orders through the whole path against the simulators, measured.

    python -m bench.run [--orders N] [--limited-orders N] [--coupled-orders N] [--workers W]
                        [--only abc,master,statuses] [--quick]

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
Norce Connect's 60 a minute in slices; var/bench-statuses.json; about 35 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import master, procstat
from bench.harness import (
    BEGAN,
    BENCH_DB,
    DEFAULT_DATABASE_URL,
    RECEIVER_PASSWORD,
    RECEIVER_USER,
    ROOT,
    VAR,
    Child,
    bench_database_url,
    build_integration,
    log,
    recreate_database,
    setup_django,
    start_cluster,
    start_web,
)

FORTNOX_LIMIT, FORTNOX_WINDOW = 25, 5.0
NORCE_CONNECT_LIMIT, NORCE_CONNECT_WINDOW = 60, 60.0
STEADY_FROM = 20  # the steady part of a limited run starts at this invoice (1-based)
IDLE_SECONDS = 3.0  # how long (a) watches the idle cluster to learn what polling the broker costs


# --- measuring ------------------------------------------------------------------------
def recording_window(window):
    """The simulator's sliding window, also noting when it refused a request and how early that request was."""
    from simulators.limits import SlidingWindow

    class RecordingWindow(SlidingWindow):
        def __init__(self) -> None:
            super().__init__(window.limit, window.window)
            self.enabled = window.enabled
            self.refusals: list[tuple[float, float]] = []  # (time, seconds before a slot was free)

        def hit(self, key: str) -> float | None:
            wait = super().hit(key)
            if wait is not None:
                self.refusals.append((time.time(), wait))
            return wait

    return RecordingWindow()


@dataclass
class Scenario:
    key: str
    title: str
    orders: int
    rate_limits: bool  # our limiter (RATE_LIMITS for the cluster)
    fortnox_limit: bool  # the Fortnox simulator's 25 per 5 s
    norce_limit: bool  # the Norce simulator's Connect 60 per minute
    send_status: bool  # the flow tells Norce "Confirmed"
    first_ref: int
    seed: int
    timeout: float
    measure_idle: bool = False  # watch the idle cluster first (CPU of polling the broker)


class StampRecorder(threading.Thread):
    """Collects the moments our shared limiter granted a request (its bucket row keeps the last window's)."""

    def __init__(self, key: str) -> None:
        super().__init__(name="bench-stamps", daemon=True)
        self.key = key
        self.seen: dict[float, int] = {}  # stamp → how often it appears in one reading
        self.halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.halt.wait(0.5):
                self._read()
            self._read()
        finally:
            connection.close()

    def _read(self) -> None:
        from integrations.models import RateLimitBucket

        hits = RateLimitBucket.objects.filter(key=self.key).values_list("hits", flat=True).first() or []
        for hit in hits:
            self.seen[hit] = max(self.seen.get(hit, 0), hits.count(hit))

    def stop(self) -> list[float]:
        self.halt.set()
        self.join(timeout=10)
        # After a 429 the limiter fills the window with copies of one moment: those are no requests.
        return sorted(stamp for stamp, copies in self.seen.items() if copies == 1)


def stamp_latencies(stamps: list[float], arrivals: list[float]) -> list[tuple[float, float]]:
    """(stamp, seconds until the simulator received the request) per limiter stamp (next unused arrival)."""
    out, j = [], 0
    for stamp in stamps:
        while j < len(arrivals) and arrivals[j] < stamp:
            j += 1
        if j == len(arrivals):
            break
        out.append((stamp, arrivals[j] - stamp))
        j += 1
    return out


def percentiles(values: list[float], scale: float = 1000.0) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale, 1)  # noqa: E731
    return {"p50": pick(0.5), "p99": pick(0.99), "max": round(ordered[-1] * scale, 1), "count": len(ordered)}


class Progress:
    """Which orders Norce has seen Confirmed (simulator time) and which have a Reference."""

    def __init__(self, norce, integration) -> None:
        self.norce = norce
        self.integration = integration
        self.confirmed: dict[str, float] = {}
        self._seen = 0

    def poll(self) -> None:
        with self.norce.lock:
            new = self.norce.order_statuses[self._seen :]
            self._seen += len(new)
        for status in new:
            if status["status_name"] == "Confirmed":
                self.confirmed.setdefault(str(status["client_order_ref"]), status["time"])

    def references(self, refs: list[str]) -> dict[str, float]:
        from integrations.models import Reference

        rows = Reference.objects.filter(integration=self.integration, data_type="order", source_id__in=refs)
        return {source_id: created.timestamp() for source_id, created in rows.values_list("source_id", "created_at")}

    def reference_count(self) -> int:
        from integrations.models import Reference

        return Reference.objects.filter(integration=self.integration, data_type="order").count()

    def wait(
        self,
        refs: list[str],
        *,
        expected_references: int,
        acknowledged: bool,
        timeout: float,
        report: Callable[[int], None] | None = None,
    ) -> bool:
        """Until every ref has a Reference (and Confirmed, when acknowledged) or `timeout`; True if all did."""
        deadline = time.monotonic() + timeout
        next_report = time.monotonic() + 10
        while True:
            self.poll()
            waiting_for_status = acknowledged and any(ref not in self.confirmed for ref in refs)
            if waiting_for_status:
                done = sum(r in self.confirmed for r in refs)
            else:
                done = self.reference_count() - (expected_references - len(refs))  # earlier orders left out
                if done >= len(refs):
                    return True
            if time.monotonic() > deadline:
                return False
            if report and time.monotonic() > next_report:
                report(done)
                next_report += 10
            time.sleep(0.1)


def wait_tasks_idle(integration, timeout: float = 30.0) -> bool:
    """Until no task of the integration runs or is due; one queued for a later retry is not in flight."""
    from django.db.models import Q
    from django.utils import timezone

    from integrations.models import Task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due = Q(status=Task.Status.QUEUED) & (Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=timezone.now()))
        if not Task.objects.filter(Q(integration=integration) & (Q(status=Task.Status.RUNNING) | due)).exists():
            return True
        time.sleep(0.1)
    return False


@dataclass
class Snapshot:
    at: float
    cluster_cpu: float
    cluster_processes: int
    web_cpu: float
    postgres: dict[int, float]
    bench_cpu: float
    fortnox_requests: int
    norce_requests: int
    fortnox_rejected: int
    fortnox_429: int
    norce_rejected: int
    norce_429: int


def snapshot(cluster: Child, web: Child, fortnox, norce, own_backend: int | None) -> Snapshot:
    cluster_cpu, processes = procstat.group_cpu(cluster.pid)
    with fortnox.lock:
        fortnox_requests, fortnox_429 = len(fortnox.requests_seen), fortnox.status_counts.get(429, 0)
    with norce.lock:
        norce_requests, norce_429 = len(norce.requests_seen), norce.status_counts.get(429, 0)
    return Snapshot(
        at=time.time(),
        cluster_cpu=cluster_cpu,
        cluster_processes=processes,
        web_cpu=procstat.process_cpu(web.pid),
        postgres=procstat.postgres_backends(BENCH_DB, exclude={own_backend} if own_backend else set()),
        bench_cpu=time.process_time(),
        fortnox_requests=fortnox_requests,
        norce_requests=norce_requests,
        fortnox_rejected=fortnox.limiter.rejected,
        fortnox_429=fortnox_429,
        norce_rejected=norce.connect_limiter.rejected,
        norce_429=norce_429,
    )


def api_calls(simulator, start: int) -> dict[str, int]:
    """Requests the simulator saw since index `start` (its control API left out), by method and path shape."""
    with simulator.lock:
        seen = simulator.requests_seen[start:]
    counts: dict[str, int] = {}
    for _, method, path in seen:
        if path.startswith("/_sim/"):
            continue
        parts = path.split("/")  # ["", "3", "invoices", "12"]: keep the API version, number the ids
        shape = "/".join(parts[:2] + ["{n}" if part.isdigit() else part for part in parts[2:]])
        key = f"{method} {shape}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def steady_rate(
    times: list[float], skip: int = STEADY_FROM, block: int = FORTNOX_LIMIT
) -> tuple[float | None, int, int]:
    """(completions per second, first, last) over the steady part: from completion `first` to `last` (1-based).

    Under a sliding-window limit completions come in bursts of up to `block` per window,
    so the span is a whole number of blocks when there are enough completions (in
    steady state that is a whole number of windows, whatever the phase); otherwise it
    runs to the last completion.
    """
    times = sorted(times)
    first = max(1, min(skip, len(times) // 5 or 1))
    whole = (len(times) - first) // block
    last = first + whole * block if whole else len(times)
    if last - first < 2:
        return None, first, last
    span = times[last - 1] - times[first - 1]
    return ((last - first) / span if span > 0 else None), first, last


def fitted_rate(times: list[float], skip: int) -> float | None:
    """Least-squares slope of completions over time from the `skip`-th completion on (bursts average out)."""
    ys = sorted(times)[skip - 1 :]
    if len(ys) < 3:
        return None
    n = len(ys)
    mean_t, mean_k = sum(ys) / n, (n - 1) / 2
    var = sum((t - mean_t) ** 2 for t in ys)
    return sum((t - mean_t) * (k - mean_k) for k, t in enumerate(ys)) / var if var > 0 else None


def own_backend_pid() -> int | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def most_at_once(integration, since: float, *, longer_than: float = 1.0) -> dict[str, int]:
    """Per task trigger, the most tasks of the integration running at the same moment since `since`.

    Only runs longer than `longer_than` seconds count: a task that finds another one
    busy and steps back at once holds a worker for milliseconds, not a share of it.
    """
    from integrations.models import Task

    now = time.time()
    events: dict[str, list[tuple[float, int]]] = {}
    rows = Task.objects.filter(integration=integration, started_at__isnull=False).values_list(
        "trigger", "status", "started_at", "finished_at", "heartbeat_at"
    )
    for trigger, status, started, finished, heartbeat in rows:
        # A task queued again for a retry keeps its last start; its run ended at its last heartbeat.
        if finished:
            end = finished.timestamp()
        elif status == Task.Status.RUNNING or heartbeat is None:
            end = now
        else:
            end = heartbeat.timestamp()
        if end < since or end - started.timestamp() <= longer_than:
            continue
        events.setdefault(trigger, []).extend([(started.timestamp(), 1), (end, -1)])
    peak: dict[str, int] = {}
    for trigger, marks in events.items():
        running = top = 0
        for _, step in sorted(marks, key=lambda m: (m[0], m[1])):  # an end before a start at the same moment
            running += step
            top = max(top, running)
        peak[trigger] = top
    return dict(sorted(peak.items()))


def diagnostics(integration, norce) -> dict[str, Any]:
    from django.db.models import Count

    from integrations.models import Entity, LogEntry, Task

    def counts(qs, field_name: str) -> dict[str, int]:
        return {row[field_name]: row["n"] for row in qs.values(field_name).annotate(n=Count("id"))}

    with norce.lock:
        push_states: dict[str, int] = {}
        for state in norce.push_state.values():
            push_states[state] = push_states.get(state, 0) + 1
    return {
        "entities": counts(Entity.objects.filter(integration=integration, data_type="order"), "status"),
        "tasks": counts(Task.objects.filter(integration=integration), "status"),
        "tasks_by_trigger": counts(Task.objects.filter(integration=integration), "trigger"),
        "error_codes": counts(LogEntry.objects.filter(integration=integration, level=LogEntry.Level.ERROR), "code"),
        "push_states": push_states,
    }


def run_scenario(
    sc: Scenario, *, web: Child, web_port: int, pool: list[dict[str, Any]], workers: int, children: list[Child]
) -> dict[str, Any]:
    from bench.orders import OrderFactory
    from integrations.engine.tokens import store_tokens
    from integrations.models import Task
    from simulators.fortnox.server import FortnoxSimulator
    from simulators.norce.server import NorceSimulator

    fortnox = FortnoxSimulator()
    fortnox.seed_demo()
    fortnox.limiter.enabled = sc.fortnox_limit
    fortnox.limiter = recording_window(fortnox.limiter)
    norce = NorceSimulator(seed=sc.seed, first_order_ref=sc.first_ref)
    norce.connect_limiter.enabled = sc.norce_limit
    norce.push_retry_delays = [0.5, 1, 2, 3, 5, 8]
    cluster: Child | None = None
    fortnox.start()
    norce.start()
    try:
        flow_settings: dict[str, Any] = {"freight_article": "FRAKT"}
        if not sc.send_status:
            flow_settings["send_status_to_commerce"] = False
        integration, erp = build_integration(
            name=f"Bench ({sc.key}) {sc.title}",
            norce_url=norce.url,
            fortnox_url=fortnox.url,
            flow_settings=flow_settings,
        )
        store_tokens(erp, fortnox.issue_tokens("fortnox-client"))
        norce.configure_receiver(
            f"http://127.0.0.1:{web_port}/norce/{integration.pk}/orders", RECEIVER_USER, RECEIVER_PASSWORD
        )
        factory = OrderFactory(pool, first_ref=sc.first_ref, seed=sc.seed)
        warm_up = factory.warm_up_orders()
        timed = factory.orders(sc.orders)  # built before the clock starts
        warm_refs = [o["ClientOrderRef"] for o in warm_up]
        refs = [o["ClientOrderRef"] for o in timed]

        cluster = start_cluster(workers, sc.rate_limits, sc.key)
        children.append(cluster)
        progress = Progress(norce, integration)
        started = time.monotonic()
        for order in warm_up:
            norce.place_order(order)
        if not progress.wait(warm_refs, expected_references=len(warm_refs), acknowledged=sc.send_status, timeout=120):
            raise RuntimeError(
                f"({sc.key}) warm-up did not finish: {diagnostics(integration, norce)}\n{cluster.tail()}"
            )
        wait_tasks_idle(integration)
        log(f"({sc.key}) warm-up: {len(warm_refs)} orders from {len(pool)} buyers in {time.monotonic() - started:.1f}s")
        idle_ms_per_s = None
        if sc.measure_idle:
            time.sleep(0.5)
            idle_from, idle_at = procstat.group_cpu(cluster.pid)[0], time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle_ms_per_s = (procstat.group_cpu(cluster.pid)[0] - idle_from) * 1000 / (time.monotonic() - idle_at)
            log(f"({sc.key}) idle q cluster: {idle_ms_per_s:.0f} ms CPU per second")

        backend = own_backend_pid()
        recorder = StampRecorder(f"fortnox:{erp.pk}") if sc.rate_limits else None
        before = snapshot(cluster, web, fortnox, norce, backend)
        if recorder:
            recorder.start()
        t0 = time.time()
        for order in timed:
            norce.place_order(order)
        pushed = time.time()
        log(
            f"({sc.key}) {len(timed)} orders placed in {pushed - t0:.2f}s; waiting for "
            f"{'Confirmed and ' if sc.send_status else ''}References …"
        )
        complete = progress.wait(
            refs,
            expected_references=len(warm_refs) + len(refs),
            acknowledged=sc.send_status,
            timeout=sc.timeout,
            report=lambda n: log(f"({sc.key})   … {n}/{len(refs)}"),
        )
        finished_at = time.time()
        tasks_idle = wait_tasks_idle(integration)
        after = snapshot(cluster, web, fortnox, norce, backend)
        stamps = [t for t in recorder.stop() if t >= before.at] if recorder else []
        cluster_alive = cluster.alive()
        cluster.stop(timeout=3)  # every task has finished: no need for django-q's slow graceful stop

        reference_times = progress.references(refs)
        confirmed_times = [progress.confirmed[r] for r in refs if r in progress.confirmed]
        done = len(reference_times)
        last = max(confirmed_times if sc.send_status else reference_times.values(), default=finished_at)
        elapsed = max(1e-9, last - t0)
        fortnox_calls = api_calls(fortnox, before.fortnox_requests)
        norce_calls = api_calls(norce, before.norce_requests)
        fortnox_api = sum(n for k, n in fortnox_calls.items() if " /3/" in k)
        fortnox_token = sum(n for k, n in fortnox_calls.items() if "/oauth-v1/" in k)
        norce_connect = sum(n for k, n in norce_calls.items() if "/commerce/connect/" in k)
        norce_all = sum(norce_calls.values())
        invoice_rate, skip, steady_to = steady_rate(list(reference_times.values()))
        confirmed_rate, _, _ = steady_rate(confirmed_times)
        per_order = max(done, 1)
        fortnox_per_order = fortnox_api / per_order
        cpu = {
            "cluster_ms": (after.cluster_cpu - before.cluster_cpu) * 1000,
            "web_ms": (after.web_cpu - before.web_cpu) * 1000,
            "postgres_ms": procstat.backends_delta(before.postgres, after.postgres) * 1000,
            "bench_process_ms": (after.bench_cpu - before.bench_cpu) * 1000,
        }
        retried = Task.objects.filter(integration=integration, attempts__gt=1).count()
        invoice_times = sorted(reference_times.values())
        longest_gap = max((b - a for a, b in zip(invoice_times, invoice_times[1:])), default=None)
        window = after.at - before.at
        with fortnox.lock:
            arrivals = sorted(
                t for t, _, path in fortnox.requests_seen[before.fortnox_requests :] if path.startswith("/3/")
            )
        latencies = stamp_latencies(stamps, arrivals)
        latency = percentiles([seconds for _, seconds in latencies])
        result = {
            "scenario": sc.key,
            "title": sc.title,
            "settings": asdict(sc),
            "workers": workers,
            "orders": len(refs),
            "completed": done,
            "complete": complete and done == len(refs),
            "tasks_idle_at_end": tasks_idle,
            "cluster_alive_at_end": cluster_alive,
            "warm_up_orders": len(warm_refs),
            "push_seconds": pushed - t0,
            "elapsed_seconds": elapsed,
            "orders_per_second": done / elapsed,
            "invoices_per_second": done / max(1e-9, max(reference_times.values(), default=t0) - t0),
            "status_lag_seconds": (max(confirmed_times) - max(reference_times.values()))
            if confirmed_times and reference_times
            else None,
            "steady_from_invoice": skip,
            "steady_to_invoice": steady_to,
            "invoices_per_second_steady": invoice_rate,
            "invoices_per_second_fitted": fitted_rate(list(reference_times.values()), skip),
            "confirmed_per_second_steady": confirmed_rate if sc.send_status else None,
            "cpu": cpu,
            "cpu_window_seconds": window,
            "cpu_ms_per_order": (cpu["cluster_ms"] + cpu["web_ms"]) / per_order,
            "cluster_idle_cpu_ms_per_second": idle_ms_per_s,
            "cluster_idle_cpu_ms_per_order": idle_ms_per_s * window / per_order if idle_ms_per_s is not None else None,
            "cluster_processes": after.cluster_processes,
            "fortnox_calls": fortnox_calls,
            "fortnox_api_calls_per_order": fortnox_per_order,
            "fortnox_token_calls": fortnox_token,
            "norce_calls": norce_calls,
            "norce_calls_per_order": norce_all / per_order,
            "norce_connect_calls_per_order": norce_connect / per_order,
            "fortnox_429": after.fortnox_429 - before.fortnox_429,
            "fortnox_rate_limited": after.fortnox_rejected - before.fortnox_rejected,
            "fortnox_stamp_to_arrival_ms": latency,
            # When (seconds after the first push) requests took over 50 ms from our stamp to the simulator.
            "fortnox_slow_during_push": sum(1 for stamp, seconds in latencies if seconds > 0.05 and stamp <= pushed),
            "fortnox_slow_requests_at": [
                [round(stamp - t0, 2), round(seconds * 1000, 1)] for stamp, seconds in latencies if seconds > 0.05
            ],
            "fortnox_429_early_ms": [round(wait * 1000, 1) for at, wait in fortnox.limiter.refusals if at >= before.at],
            "norce_429": after.norce_429 - before.norce_429,
            "norce_rate_limited": after.norce_rejected - before.norce_rejected,
            "tasks_retried": retried,
            "longest_pause_between_invoices_seconds": longest_gap,
            "most_tasks_running_at_once": most_at_once(integration, t0),
            "diagnostics": diagnostics(integration, norce),
            # Seconds from the first push to each order's Reference / Confirmed, in order.
            "invoice_offsets": sorted(round(t - t0, 3) for t in reference_times.values()),
            "confirmed_offsets": sorted(round(t - t0, 3) for t in confirmed_times),
        }
        if sc.fortnox_limit and sc.rate_limits:
            calls_per_invoice = fortnox_per_order or 1.0
            allowance = (FORTNOX_LIMIT / FORTNOX_WINDOW) / calls_per_invoice
            result["fortnox_allowance_invoices_per_second"] = allowance
            result["ratio_to_fortnox_allowance"] = (invoice_rate / allowance) if invoice_rate else None
        if sc.norce_limit and sc.rate_limits and sc.send_status:
            calls = result["norce_connect_calls_per_order"] or 1.0
            result["norce_allowance_orders_per_second"] = (NORCE_CONNECT_LIMIT / NORCE_CONNECT_WINDOW) / calls
        log(
            f"({sc.key}) {done}/{len(refs)} orders in {elapsed:.1f}s "
            f"({'complete' if result['complete'] else 'INCOMPLETE'})"
        )
        if not result["complete"]:
            log(f"({sc.key}) state: {result['diagnostics']}; cluster log {cluster.log_path}")
        return result
    finally:
        if cluster is not None:
            cluster.stop()
        norce.stop()
        fortnox.stop()


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
        default="abc,master,statuses",
        help="what to run: order scenarios by letter and/or 'master' (the master data "
        "benchmark, bench.master) and/or 'statuses' (a backlog of 2,000 order statuses, "
        "bench.statuses), e.g. 'ab' or 'master' (default abc,master,statuses)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=None,
        help="master data: skip the 1M full file with rate limits on (also BENCH_QUICK=1)",
    )
    parser.add_argument("--json", type=Path, default=VAR / "bench-orders.json", help="where to write the figures")
    args = parser.parse_args(argv)
    only = {part.strip().lower() for part in args.only.split(",") if part.strip()}
    args.master = "master" in only
    args.statuses = "statuses" in only
    args.only = "".join(part for part in only if part not in ("master", "statuses"))
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
            fortnox_limit=False,
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
            fortnox_limit=True,
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
            fortnox_limit=True,
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    code = orders_main(args) if scenarios(args) else 0
    if args.master and code != 130:
        code = max(code, run_master(args, in_process=not scenarios(args)))
    if args.statuses and code != 130:
        code = max(code, run_statuses(args))
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
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
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
