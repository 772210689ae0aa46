"""Measuring an orders run: the limiters' windows and stamps, progress, CPU snapshots, API calls, rates."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import procstat
from bench.harness import BENCH_DB, Child

FORTNOX_LIMIT, FORTNOX_WINDOW = 25, 5.0
NORCE_CONNECT_LIMIT, NORCE_CONNECT_WINDOW = 60, 60.0
VERSION = re.compile(r"v\d+|\d+(\.\d+)+")  # a path segment naming an API version (v3, 4.0), not an id
STEADY_FROM = 20  # the steady part of a limited run starts at this invoice (1-based)


# --- measuring ------------------------------------------------------------------------
def recording_window(window):
    """The simulator's window (sliding or fixed, same limit and span), also noting when it refused
    a request and how early that request was."""

    class RecordingWindow(type(window)):
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

    def holds(self) -> int:
        """How often the window was seen filled with copies of one moment (every worker held back)."""
        return sum(1 for copies in self.seen.values() if copies > 1)


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
    erp_requests: int
    norce_requests: int
    erp_rejected: int
    erp_429: int
    norce_rejected: int
    norce_429: int


def snapshot(cluster: Child, web: Child, erp, norce, own_backend: int | None, database: str = BENCH_DB) -> Snapshot:
    """CPU so far, and the requests, refusals and 429s the ERP simulator `erp` and Norce's have seen."""
    cluster_cpu, processes = procstat.group_cpu(cluster.pid)
    with erp.lock:
        erp_requests, erp_429 = len(erp.requests_seen), erp.status_counts.get(429, 0)
    with norce.lock:
        norce_requests, norce_429 = len(norce.requests_seen), norce.status_counts.get(429, 0)
    return Snapshot(
        at=time.time(),
        cluster_cpu=cluster_cpu,
        cluster_processes=processes,
        web_cpu=procstat.process_cpu(web.pid),
        postgres=procstat.postgres_backends(database, exclude={own_backend} if own_backend else set()),
        bench_cpu=time.process_time(),
        erp_requests=erp_requests,
        norce_requests=norce_requests,
        erp_rejected=erp.limiter.rejected,
        erp_429=erp_429,
        norce_rejected=norce.connect_limiter.rejected,
        norce_429=norce_429,
    )


def endpoint(method: str, path: str) -> str:
    """A request as method and path shape: the API version kept, ids numbered ("GET /3/invoices/{n}",
    "POST /v1/customerinvoice/{n}/action/release", "GET /v1/inventory/{n}")."""
    parts = path.split("/")  # ["", "3", "invoices", "12"]

    def is_id(index: int, part: str) -> bool:
        if part.isdigit():
            return True
        return index > 2 and any(c.isdigit() for c in part) and not VERSION.fullmatch(part)

    shape = "/".join(parts[:2] + ["{n}" if is_id(i, part) else part for i, part in enumerate(parts[2:], 2)])
    return f"{method} {shape}"


def api_calls(simulator, start: int) -> dict[str, int]:
    """Requests the simulator saw since index `start` (its control API left out), by endpoint()."""
    with simulator.lock:
        seen = simulator.requests_seen[start:]
    counts: dict[str, int] = {}
    for _, method, path in seen:
        if path.startswith("/_sim/"):
            continue
        key = endpoint(method, path)
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
