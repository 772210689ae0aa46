"""One orders scenario: fresh simulators, an integration and a q cluster; warm-up, timed orders, figures."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import procstat
from bench.erps import FORTNOX, Erp
from bench.harness import (
    BENCH_DB,
    RECEIVER_PASSWORD,
    RECEIVER_USER,
    Child,
    build_integration,
    log,
    start_cluster,
)
from bench.orders_measure import (
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
    erp_limit: bool  # the ERP simulator's limit (Fortnox: 25 per 5 s)
    norce_limit: bool  # the Norce simulator's Connect 60 per minute
    send_status: bool  # the flow tells Norce "Confirmed"
    first_ref: int
    seed: int
    timeout: float
    measure_idle: bool = False  # watch the idle cluster first (CPU of polling the broker)
    erp: Erp = FORTNOX  # the ERP the orders are invoiced in, and its limit (bench.erps)
    database: str = BENCH_DB  # whose PostgreSQL backends count as the bench's
    log_name: str = "bench-qcluster"  # the cluster's log: var/<log_name>-<key>.log

    def settings(self) -> dict[str, Any]:
        return {**asdict(self), "erp": self.erp.key, "erp_limit_counted": self.erp.limit_text}


def run_scenario(
    sc: Scenario, *, web: Child, web_port: int, pool: list[dict[str, Any]], workers: int, children: list[Child]
) -> dict[str, Any]:
    from bench.orders import OrderFactory
    from integrations.models import Task
    from simulators.norce.server import NorceSimulator

    erp_def, p = sc.erp, sc.erp.key  # p: the prefix of the ERP's figures
    erp_sim = erp_def.simulator()
    erp_sim.limiter.enabled = sc.erp_limit
    erp_sim.limiter = recording_window(erp_sim.limiter)
    norce = NorceSimulator(seed=sc.seed, first_order_ref=sc.first_ref)
    norce.connect_limiter.enabled = sc.norce_limit
    norce.push_retry_delays = [0.5, 1, 2, 3, 5, 8]
    cluster: Child | None = None
    erp_sim.start()
    norce.start()
    try:
        flow_settings: dict[str, Any] = {"freight_article": "FRAKT"}
        if not sc.send_status:
            flow_settings["send_status_to_commerce"] = False
        integration, erp = build_integration(
            name=f"Bench ({sc.key}) {sc.title}",
            norce_url=norce.url,
            erp=erp_def,
            erp_simulator=erp_sim,
            flow_settings=flow_settings,
        )
        norce.configure_receiver(
            f"http://127.0.0.1:{web_port}/norce/{integration.pk}/orders", RECEIVER_USER, RECEIVER_PASSWORD
        )
        factory = OrderFactory(pool, first_ref=sc.first_ref, seed=sc.seed)
        warm_up = factory.warm_up_orders()
        timed = factory.orders(sc.orders)  # built before the clock starts
        warm_refs = [o["ClientOrderRef"] for o in warm_up]
        refs = [o["ClientOrderRef"] for o in timed]

        cluster = start_cluster(workers, sc.rate_limits, sc.key, sc.log_name)
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

        settle = erp_def.fresh_window_in(erp_sim)
        if settle > 0:  # the timed orders start with a whole window of the ERP's limit
            log(f"({sc.key}) waiting {settle:.0f}s for {erp_def.title}'s limit window to reset")
            time.sleep(settle + 0.2)
        backend = own_backend_pid()
        recorder = StampRecorder(erp_def.bucket(erp)) if sc.rate_limits else None
        before = snapshot(cluster, web, erp_sim, norce, backend, sc.database)
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
        after = snapshot(cluster, web, erp_sim, norce, backend, sc.database)
        stamps = [t for t in recorder.stop() if t >= before.at] if recorder else []
        holds = recorder.holds() if recorder else 0
        cluster_alive = cluster.alive()
        cluster.stop(timeout=3)  # every task has finished: no need for django-q's slow graceful stop

        reference_times = progress.references(refs)
        confirmed_times = [progress.confirmed[r] for r in refs if r in progress.confirmed]
        done = len(reference_times)
        last = max(confirmed_times if sc.send_status else reference_times.values(), default=finished_at)
        elapsed = max(1e-9, last - t0)
        erp_calls = api_calls(erp_sim, before.erp_requests)
        norce_calls = api_calls(norce, before.norce_requests)
        erp_api = sum(n for k, n in erp_calls.items() if erp_def.is_api(k.split(" ", 1)[1]))
        erp_token = sum(n for k, n in erp_calls.items() if erp_def.is_token(k.split(" ", 1)[1]))
        norce_connect = sum(n for k, n in norce_calls.items() if "/commerce/connect/" in k)
        norce_all = sum(norce_calls.values())
        per_order = max(done, 1)
        erp_per_order = erp_api / per_order
        # Under the limit invoices come in bursts of what one window's requests pay for.
        block = max(1, round(erp_def.limit / max(erp_per_order, 1.0)))
        invoice_rate, skip, steady_to = steady_rate(list(reference_times.values()), block=block)
        confirmed_rate, _, _ = steady_rate(confirmed_times, block=block)
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
        with erp_sim.lock:
            arrivals = sorted(t for t, _, path in erp_sim.requests_seen[before.erp_requests :] if erp_def.is_api(path))
        latencies = stamp_latencies(stamps, arrivals)
        latency = percentiles([seconds for _, seconds in latencies])
        result = {
            "scenario": sc.key,
            "title": sc.title,
            "settings": sc.settings(),
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
            "steady_block_invoices": block,
            "invoices_per_second_steady": invoice_rate,
            "invoices_per_second_fitted": fitted_rate(list(reference_times.values()), skip),
            "confirmed_per_second_steady": confirmed_rate if sc.send_status else None,
            "cpu": cpu,
            "cpu_window_seconds": window,
            "cpu_ms_per_order": (cpu["cluster_ms"] + cpu["web_ms"]) / per_order,
            "cluster_idle_cpu_ms_per_second": idle_ms_per_s,
            "cluster_idle_cpu_ms_per_order": idle_ms_per_s * window / per_order if idle_ms_per_s is not None else None,
            "cluster_processes": after.cluster_processes,
            f"{p}_calls": erp_calls,
            f"{p}_api_calls_per_order": erp_per_order,
            f"{p}_token_calls": erp_token,
            "norce_calls": norce_calls,
            "norce_calls_per_order": norce_all / per_order,
            "norce_connect_calls_per_order": norce_connect / per_order,
            f"{p}_429": after.erp_429 - before.erp_429,
            f"{p}_rate_limited": after.erp_rejected - before.erp_rejected,
            f"{p}_stamp_to_arrival_ms": latency,
            # When (seconds after the first push) requests took over 50 ms from our stamp to the simulator.
            f"{p}_slow_during_push": sum(1 for stamp, seconds in latencies if seconds > 0.05 and stamp <= pushed),
            f"{p}_slow_requests_at": [
                [round(stamp - t0, 2), round(seconds * 1000, 1)] for stamp, seconds in latencies if seconds > 0.05
            ],
            f"{p}_429_early_ms": [round(wait * 1000, 1) for at, wait in erp_sim.limiter.refusals if at >= before.at],
            # Times our shared window was filled to hold every worker back (after a 429, or when
            # the ERP said its window was spent), as the limiter's bucket showed them.
            "limiter_holds": holds,
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
        if sc.erp_limit and sc.rate_limits:
            calls_per_invoice = erp_per_order or 1.0
            allowance = (erp_def.limit / erp_def.window) / calls_per_invoice
            result[f"{p}_allowance_invoices_per_second"] = allowance
            result[f"ratio_to_{p}_allowance"] = (invoice_rate / allowance) if invoice_rate else None
            # The limit's bound on the whole run: calls per order × orders ÷ limit, in windows.
            result[f"{p}_windows_needed"] = erp_api / erp_def.limit
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
        erp_sim.stop()
