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
(BENCH_MASTER_DB, default brygga_bench_master, recreated at start). Figures are printed
as a table and written to var/bench-master.json. Nothing is asserted.

Runtime measured on 2 CPUs: ≈ 10 minutes with --quick (1M without limits 3.5 min, the
100k full files 0.5 and 1 min, incremental 100k 4 min, stock latency 1.2 min), plus
≈ 8 minutes for 1M with limits on (2,000 Fortnox pages at 5 a second).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import (
    DEFAULT_DATABASE_URL,
    ROOT,
    VAR,
    Child,
    bench_database_url,
    build_integration,
    child_env,
    log,
    recreate_database,
    setup_django,
)

MASTER_DB = os.environ.get("BENCH_MASTER_DB") or "brygga_bench_master"
DEFAULT_SIZES = (100_000, 1_000_000)
FORTNOX_PAGE = 500  # articles per Fortnox list page (the API's maximum, used by the client)
STOCK_ARTICLE = "G00000042"  # the article whose stock the latency case changes
SPOT_CHECKS = 25
RSS_GOAL_MB = 250


def quick_default() -> bool:
    return os.environ.get("BENCH_QUICK", "").lower() in ("1", "true", "yes")


# --- simulators and the integration ----------------------------------------------------------
class World:
    """Fresh simulators and an integration with the four master-data flows."""

    def __init__(
        self,
        *,
        name: str,
        articles: int,
        limits: bool,
        seeded_before: timedelta | None = None,
        with_schedules: bool = False,
    ) -> None:
        from integrations.demo import add_master_data_flows
        from integrations.engine.tokens import store_tokens
        from simulators.fortnox.server import FortnoxSimulator
        from simulators.norce.server import NorceSimulator

        self.fortnox = FortnoxSimulator()
        self.fortnox.limiter.enabled = limits
        if seeded_before is not None:  # the catalogue was last changed a while ago (outside the overlap)
            real_clock = self.fortnox.clock
            self.fortnox.clock = lambda: real_clock() - seeded_before
        self.seed = self.fortnox.seed_generated(articles)
        if seeded_before is not None:
            del self.fortnox.clock  # the class's clock again
        self.norce = NorceSimulator(seed=1)
        self.norce.connect_limiter.enabled = limits
        self.fortnox.start()
        self.norce.start()
        self.integration, erp = build_integration(
            name=name, norce_url=self.norce.url, fortnox_url=self.fortnox.url, flow_settings={}
        )
        store_tokens(erp, self.fortnox.issue_tokens("fortnox-client"))
        self.flows = add_master_data_flows(self.integration, with_schedules=with_schedules)
        self.articles = articles

    def counters(self) -> dict[str, Any]:
        with self.fortnox.lock:
            fortnox_seen = list(self.fortnox.requests_seen)
            fortnox_429 = self.fortnox.status_counts.get(429, 0)
        with self.norce.lock:
            norce_seen = list(self.norce.requests_seen)
            norce_429 = self.norce.status_counts.get(429, 0)
        with self.norce.connect.lock:
            imports = len(self.norce.connect.imports)
        return {
            "fortnox_api": sum(1 for _, _, path in fortnox_seen if path.startswith("/3/")),
            "fortnox_token": sum(1 for _, _, path in fortnox_seen if path.startswith("/oauth")),
            "fortnox_429": fortnox_429,
            "connect": sum(1 for _, _, path in norce_seen if path.startswith("/commerce/connect/")),
            "connect_job_get": sum(1 for _, _, path in norce_seen if "/Job/Get" in path),
            "norce_token": sum(1 for _, _, path in norce_seen if path.startswith("/identity/")),
            "norce_429": norce_429,
            "imports": imports,
        }

    def verify(self, *, sample: int = SPOT_CHECKS) -> dict[str, Any]:
        """Norce's SKUs against the Fortnox catalogue: count, and a spot check of some SKUs."""
        segment = self.fortnox.segments[0]
        connect = self.norce.connect
        with connect.lock:
            skus = len(connect.skus)
            active = sum(1 for sku in connect.skus.values() if sku.get("Status") == 1)
        rng = random.Random(7)
        indices = sorted({0, segment.count - 1, *(rng.randrange(segment.count) for _ in range(sample))})
        mismatches: list[str] = []
        for index in indices:
            article = segment.article(index)
            number = article["ArticleNumber"]
            sku = connect.sku(number)
            if sku is None:
                mismatches.append(f"{number}: missing")
                continue
            name = ((sku.get("Cultures") or {}).get("sv-SE") or {}).get("ErpName")
            problems = [
                what
                for what, ok in (
                    ("EanCode", sku.get("EanCode") == article["EAN"]),
                    ("ErpName", name == article["Description"]),
                    ("Status", sku.get("Status") == 1),
                )
                if not ok
            ]
            if problems:
                mismatches.append(f"{number}: {', '.join(problems)} differ")
        return {
            "norce_skus": skus,
            "norce_active": active,
            "fortnox_articles": self.articles,
            "spot_checked": len(indices),
            "mismatches": mismatches[:10],
            "equal": skus == self.articles and active == self.articles and not mismatches,
        }

    def close(self) -> None:
        self.fortnox.stop()
        self.norce.stop()
        self.norce.connect.close()  # its stored payloads (the full file is hundreds of MB)


# --- the resync process ----------------------------------------------------------------------
def _status_kb(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    name, value = line.split(":", 1)
                    values[name] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return values


class RunWatcher(threading.Thread):
    """Notes when the flow's full file changes phase (ResyncRun.status) and how far it has read."""

    def __init__(self, flow_id: int) -> None:
        super().__init__(name="bench-run-watcher", daemon=True)
        self.flow_id = flow_id
        self.phases: dict[str, float] = {}
        self.pages = 0
        self.halt = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from integrations.models import ResyncRun

        try:
            while not self.halt.wait(0.25):
                row = (
                    ResyncRun.objects.filter(flow_id=self.flow_id)
                    .order_by("-pk")
                    .values("status", "pages_done")
                    .first()
                )
                if row:
                    self.phases.setdefault(row["status"], time.time())
                    self.pages = row["pages_done"]
        finally:
            connection.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)


def run_resync(
    integration_id: int, flow_id: int, *, full: bool, rate_limits: bool, key: str, timeout: float
) -> dict[str, Any]:
    """`manage.py resync <id> products [--full] --no-progress` in its own process, measured."""
    args = [sys.executable, "manage.py", "resync", str(integration_id), "products", "--no-progress"]
    if full:
        args.append("--full")
    log_path = VAR / f"bench-master-{key}.log"
    env = child_env(RATE_LIMITS="true" if rate_limits else "false")
    watcher = RunWatcher(flow_id) if full else None
    with open(log_path, "wb") as out:
        started = time.time()
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        if watcher:
            watcher.start()
        peak_hwm = peak_rss = 0
        timed_out = False
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                kb = _status_kb(process.pid)
                peak_hwm = max(peak_hwm, kb.get("VmHWM", 0))
                peak_rss = max(peak_rss, kb.get("VmRSS", 0))
                if time.time() - started > timeout:
                    timed_out = True
                    os.killpg(process.pid, signal.SIGKILL)
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.1)
        except BaseException:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise
        finally:
            if watcher:
                watcher.stop()
        wall = time.time() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    output = log_path.read_text(errors="replace")
    phases = {}
    if watcher and watcher.phases:
        marks = sorted(watcher.phases.items(), key=lambda kv: kv[1])
        ends = [t for _, t in marks[1:]] + [started + wall]
        phases = {
            name: round(end - (started if i == 0 else at), 1)
            for i, ((name, at), end) in enumerate(zip(marks, ends))
            if name not in ("done", "failed")
        }
    return {
        "exit_code": process.returncode,
        "timed_out": timed_out,
        "wall_seconds": round(wall, 2),
        # VmHWM: the kernel's high-water mark of the process's resident set since its exec (read
        # until it exits). ru_maxrss is not used: Linux carries the parent's RSS at fork into it.
        "peak_rss_mb": round(peak_hwm / 1024, 1),
        "sampled_vmrss_max_mb": round(peak_rss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "phases_seconds": phases,
        "output_tail": output[-1500:],
        "log": str(log_path.relative_to(ROOT)),
    }


def resync_case(key: str, title: str, *, n: int, full: bool, limits: bool) -> dict[str, Any]:
    from integrations.flows.master_settings import parse_settings
    from integrations.models import ConnectJob

    began = time.time()
    log(f"[{key}] {title}: seeding {n:,} articles")
    world = World(name=f"Bench master {key}", articles=n, limits=limits)
    try:
        flow = world.flows["products_to_commerce"]
        batch_size = parse_settings(flow.kind, flow.settings).batch_size
        before = world.counters()
        if limits:
            timeout = 240 + 1.5 * n / FORTNOX_PAGE / 4.9
        else:  # an incremental run also confirms every record in the database when its job ends
            timeout = 180 + n / (1000 if full else 250)
        log(
            f"[{key}] manage.py resync {world.integration.pk} products{' --full' if full else ''} "
            f"(rate limits {'on' if limits else 'off'}, timeout {timeout:.0f}s)"
        )
        measured = run_resync(world.integration.pk, flow.pk, full=full, rate_limits=limits, key=key, timeout=timeout)
        world.norce.connect.wait_idle(timeout=120)
        after = world.counters()
        calls = {name: after[name] - before[name] for name in after}
        verified = world.verify()
        jobs: dict[str, int] = {}
        for status in ConnectJob.objects.filter(flow=flow).values_list("status", flat=True):
            jobs[status] = jobs.get(status, 0) + 1
        expected_imports = 1 if full else math.ceil(n / batch_size)
        result = {
            "case": key,
            "title": title,
            "n": n,
            "full_file": full,
            "rate_limits": limits,
            "batch_size": "whole feed" if full else batch_size,
            **measured,
            "items_per_second": round(n / measured["wall_seconds"], 1) if measured["wall_seconds"] else None,
            "fortnox_calls": calls["fortnox_api"],
            "fortnox_pages_expected": math.ceil(n / FORTNOX_PAGE),
            "connect_imports": calls["imports"],
            "connect_imports_expected": expected_imports,
            "connect_calls": calls["connect"],
            "connect_job_gets": calls["connect_job_get"],
            "norce_429": calls["norce_429"],
            "fortnox_429": calls["fortnox_429"],
            "token_calls": {"fortnox": calls["fortnox_token"], "norce": calls["norce_token"]},
            "jobs": jobs,
            "verify": verified,
            "complete": measured["exit_code"] == 0 and verified["equal"],
            "case_seconds": None,
        }
        log(
            f"[{key}] {measured['wall_seconds']:.1f}s, exit {measured['exit_code']}, peak RSS "
            f"{measured['peak_rss_mb']} MB, {calls['imports']} import(s), {calls['connect']} Connect call(s), "
            f"Norce {verified['norce_skus']:,} SKUs, equal={verified['equal']}"
        )
        if measured["exit_code"] != 0:
            log(f"[{key}] resync output:\n{measured['output_tail']}")
    finally:
        world.close()
        del world
        gc.collect()
    result["case_seconds"] = round(time.time() - began, 1)
    return result


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
    world.fortnox.set_stock(STOCK_ARTICLE, value)
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
    from django.db import connection

    with connection.cursor() as cursor:
        # Full-file spools are named after the run's id in the shared var/spool: start far from other databases'.
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('integrations_resyncrun', 'id'), %s)",
            [random.randrange(10**8, 2 * 10**9)],
        )
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
        "machine": {
            "cpus": os.cpu_count(),
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
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
