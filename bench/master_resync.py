"""Full-file and incremental products cases: `manage.py resync` in its own process, measured and verified."""

from __future__ import annotations

import gc
import math
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from bench.harness import ROOT, VAR, child_env, log
from bench.master_world import FORTNOX_PAGE, World


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
    integration_id: int,
    flow_id: int,
    *,
    full: bool,
    rate_limits: bool,
    key: str,
    timeout: float,
    data: str = "products",
    log_name: str = "bench-master",
) -> dict[str, Any]:
    """`manage.py resync <id> <data> [--full] --no-progress` in its own process, measured."""
    args = [sys.executable, "manage.py", "resync", str(integration_id), data, "--no-progress"]
    if full:
        args.append("--full")
    log_path = VAR / f"{log_name}-{key}.log"
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


def counter_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """World.counters() after minus before (by-endpoint counts too; endpoints not called left out)."""
    out: dict[str, Any] = {}
    for name, value in after.items():
        if isinstance(value, dict):
            old = before.get(name) or {}
            out[name] = {k: v - old.get(k, 0) for k, v in sorted(value.items()) if v - old.get(k, 0)}
        else:
            out[name] = value - before.get(name, 0)
    return out


def connect_jobs(flow) -> dict[str, int]:
    """The flow's Norce Connect job rows by status."""
    from integrations.models import ConnectJob

    jobs: dict[str, int] = {}
    for status in ConnectJob.objects.filter(flow=flow).values_list("status", flat=True):
        jobs[status] = jobs.get(status, 0) + 1
    return jobs


def resync_case(key: str, title: str, *, n: int, full: bool, limits: bool) -> dict[str, Any]:
    from integrations.flows.master_settings import parse_settings

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
        calls = counter_delta(before, after)
        verified = world.verify()
        jobs = connect_jobs(flow)
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
