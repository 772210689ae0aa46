"""Stock latency case: a Fortnox stock change until Norce's onhand shows it, in a q cluster, every limit on."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from datetime import timedelta
from typing import Any

from bench.harness import VAR, Child, child_env, log
from bench.master_world import FORTNOX_PAGE, World

STOCK_ARTICLE = "G00000042"  # the article whose stock the latency case changes


# --- stock latency ---------------------------------------------------------------------------
def wait_flow_idle(flow, timeout: float = 120.0, triggers: tuple[str, ...] | None = None) -> bool:
    """Until no task of the flow runs or is due now (a follow-up due later does not count)."""
    from django.db.models import Q
    from django.utils import timezone

    from integrations.models import Task

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due = Q(status=Task.Status.QUEUED) & (Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=timezone.now()))
        tasks = Task.objects.filter(Q(flow=flow) & (Q(status=Task.Status.RUNNING) | due))
        if triggers:
            tasks = tasks.filter(trigger__in=triggers)
        if not tasks.exists():
            return True
        time.sleep(0.05)
    return False


def measure_stock_change(world: World, rule_id: int, value: int, timeout: float = 120.0) -> dict[str, Any]:
    """Change the article's stock in Fortnox, trigger the schedule rule, wait for Norce's onhand."""
    from integrations import schedules

    connect = world.norce.connect
    with connect.lock:
        imports_before = len(connect.imports)
    t0 = time.time()
    world.erp_sim.set_stock(STOCK_ARTICLE, value)
    created = schedules.trigger_rule(rule_id)
    landed = None
    while time.time() - t0 < timeout:
        onhand = connect.onhand(STOCK_ARTICLE, "MAIN", "MAIN")
        if onhand and onhand.get("OnhandValue") == value:
            landed = time.time()
            break
        time.sleep(0.01)
    with connect.lock:
        sent = next((i["time"] for i in connect.imports[imports_before:] if i["method"] == "ImportOnhands"), None)
    from integrations.models import Task

    task = Task.objects.filter(pk__in=created).values("started_at").first() if created else None
    return {
        "value": value,
        "tasks_created": len(created),
        "seconds": round(landed - t0, 3) if landed else None,
        "to_task_start": round(task["started_at"].timestamp() - t0, 3) if task and task["started_at"] else None,
        "to_import": round(sent - t0, 3) if sent else None,
    }


def stock_latency_case(*, runs: int, full_file_articles: int) -> dict[str, Any]:
    from django.utils import timezone
    from django_q.models import Schedule

    from integrations import services
    from integrations.flows.master_settings import parse_settings
    from integrations.models import ResyncRun, ScheduleRule

    began = time.time()
    key = "stock"
    log(f"[{key}] stock latency: {full_file_articles:,} articles, every limit on, default settings")
    world = World(
        name="Bench master stock latency",
        articles=full_file_articles,
        limits=True,
        seeded_before=timedelta(hours=2),
        with_schedules=True,
    )
    cluster: Child | None = None
    try:
        stock_flow, products_flow = world.flows["stock_to_commerce"], world.flows["products_to_commerce"]
        settings = parse_settings(stock_flow.kind, stock_flow.settings)
        rule = ScheduleRule.objects.filter(
            integration=world.integration, flows=stock_flow, schedule_type=ScheduleRule.Type.INTERVAL
        ).first()
        interval = rule.interval_minutes * 60
        # The bench plays the schedule's ticks itself (at the moment of each change): the
        # django-q schedules of the rules are moved out of the way.
        Schedule.objects.filter(name__startswith="brygga-rule-").update(next_run=timezone.now() + timedelta(days=7))
        world.norce.connect.seed_skus([STOCK_ARTICLE])  # the SKU exists in Norce (its stock does not yet)
        services.advance_cursor(world.integration, stock_flow.data_type, stock_flow.direction, timezone.now())
        # The catalogue is in Norce already: stock does not wait for a first products run.
        services.advance_cursor(world.integration, products_flow.data_type, products_flow.direction, timezone.now())

        cluster = Child(
            "qcluster",
            [sys.executable, "manage.py", "qcluster"],
            child_env(Q_WORKERS="2", RATE_LIMITS="true"),
            VAR / "bench-master-qcluster.log",
        )
        warm = measure_stock_change(world, rule.pk, 500)
        log(f"[{key}] warm-up (cluster start, tokens): {warm['seconds']}s")
        wait_flow_idle(stock_flow)
        samples = []
        for i in range(runs):
            time.sleep(1.0)
            sample = measure_stock_change(world, rule.pk, 1001 + i)
            samples.append(sample)
            log(
                f"[{key}] run {i + 1}/{runs}: {sample['seconds']}s (task started {sample['to_task_start']}s, "
                f"import at {sample['to_import']}s)"
            )
            if not wait_flow_idle(stock_flow):
                log(f"[{key}] the stock flow did not go idle")
        times = [s["seconds"] for s in samples if s["seconds"] is not None]
        median = statistics.median(times) if times else None
        worst = max(times) if times else None

        # Once more while a products full file of the whole catalogue runs in the other worker.
        wait_flow_idle(stock_flow)
        full_task = services.run_flow_now(products_flow.pk, params={"mode": "full"})
        full_began = time.time()
        deadline = time.time() + 120
        while time.time() < deadline:
            run = ResyncRun.objects.filter(flow=products_flow).order_by("-pk").first()
            if run and run.pages_done >= 10:
                break
            time.sleep(0.2)
        run = ResyncRun.objects.filter(flow=products_flow).order_by("-pk").first()
        phase_before = f"{run.status}, page {run.pages_done}/{run.total_pages}" if run else "not started"
        busy = measure_stock_change(world, rule.pk, 2001, timeout=300)
        run = ResyncRun.objects.filter(flow=products_flow).order_by("-pk").first()
        phase_after = f"{run.status}, page {run.pages_done}/{run.total_pages}" if run else "not started"
        busy.update(full_file_during=phase_before, full_file_after=phase_after)
        log(f"[{key}] during the full file ({phase_before} → {phase_after}): {busy['seconds']}s")
        wait_flow_idle(stock_flow)
        full_deadline = time.time() + 60 + 1.5 * full_file_articles / FORTNOX_PAGE / 4.9
        while time.time() < full_deadline:
            run = ResyncRun.objects.filter(flow=products_flow).order_by("-pk").first()
            if run and run.status not in ResyncRun.ACTIVE:
                break
            time.sleep(0.5)
        run = ResyncRun.objects.filter(flow=products_flow).order_by("-pk").first()
        full_seconds = (run.finished_at.timestamp() - full_began) if run and run.finished_at else None
        log(
            f"[{key}] full file in the cluster: {run.status if run else '-'} after "
            f"{full_seconds if full_seconds is None else round(full_seconds, 1)}s (task {full_task.pk})"
        )
        counts = world.counters()
        result = {
            "case": key,
            "runs": samples,
            "warm_up": warm,
            "pipeline_median_seconds": median,
            "pipeline_max_seconds": worst,
            "schedule_interval_seconds": interval,
            "computed_mean_seconds": round(median + interval / 2, 1) if median is not None else None,
            "computed_worst_seconds": round(worst + interval, 1) if worst is not None else None,
            "stock_settings": {
                "batch_size": settings.batch_size,
                "max_wait_seconds": settings.max_wait_seconds,
                "job_wait_seconds": settings.job_wait_seconds,
            },
            "norce_job_delay_seconds": world.norce.connect.job_delay,
            "during_full_file": busy,
            "full_file_articles": full_file_articles,
            "full_file_in_cluster": {
                "status": run.status if run else None,
                "seconds": round(full_seconds, 1) if full_seconds else None,
                "norce_skus": world.norce.connect.counts()["skus"],
            },
            "norce_429": counts["norce_429"],
            "fortnox_429": counts["fortnox_429"],
            "complete": bool(times) and len(times) == runs and busy["seconds"] is not None,
        }
    finally:
        if cluster:
            cluster.stop(timeout=5)
        world.close()
        gc.collect()
    result["case_seconds"] = round(time.time() - began, 1)
    return result
