"""One orders scenario: fresh simulators, an integration and a q cluster; warm-up, timed orders, figures."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import procstat
from bench.harness import RECEIVER_PASSWORD, RECEIVER_USER, Child, build_integration, log, start_cluster
from bench.orders_measure import (
    FORTNOX_LIMIT,
    FORTNOX_WINDOW,
    NORCE_CONNECT_LIMIT,
    NORCE_CONNECT_WINDOW,
    Progress,
    StampRecorder,
    api_calls,
    diagnostics,
    fitted_rate,
    most_at_once,
    own_backend_pid,
    percentiles,
    recording_window,
    snapshot,
    stamp_latencies,
    steady_rate,
    wait_tasks_idle,
)

IDLE_SECONDS = 3.0  # how long (a) watches the idle cluster to learn what polling the broker costs


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
