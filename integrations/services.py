"""The engine: create, run, retry and sweep Tasks; claim records; write the audit trail.

Background functions (integrations.jobs) are thin and call into here with ids.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import (
    CONNECTOR_MISSING,
    FLOW_SETTINGS,
    INTEGRATION_PAUSED,
    RECONNECT_NEEDED,
    REFERENCE_DELETED,
    STAFF_ACTION,
    TASK_BUSY,
    TASK_INTERRUPTED,
    TASK_STUCK,
    UNEXPECTED,
    SyncError,
    lookup,
)
from integrations import registry
from integrations.engine.clients import client_for, connector_for, port_for
from integrations.models import Connector, Entity, Flow, Integration, LogEntry, Task, TimeHistory

log = logging.getLogger("brygga.engine")

RUN_TASK = "integrations.jobs.run_task"
# Task-level "errors" that only mean "not now": not logged, and not counted against attempts.
QUIET_CODES = {"integration.paused", "task.busy", "connector.reconnect_needed"}
# How often a task waiting for a connector to be reconnected looks again (reconnecting in admin
# hands the waiting tasks out at once).
RECONNECT_RECHECK_SECONDS = 60


def _conf(name: str) -> Any:
    return settings.BRYGGA[name]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- queueing ---------------------------------------------------------------------
def priority_cluster() -> str:
    """The cluster serving the priority queue, or "" when everything shares one queue."""
    return str(_conf("PRIORITY_CLUSTER") or "")


def queue_of(task: Task) -> str | None:
    """The cluster whose queue runs `task`: the priority one for a flow's on-time poll, else the
    ordinary one (None)."""
    priority = priority_cluster()
    if priority and task.trigger == Task.Trigger.SCHEDULE and task.flow_id is not None:
        kind = Flow.objects.filter(pk=task.flow_id).values_list("kind", flat=True).first()
        if kind and registry.flow_spec(kind).polls_on_time:
            return priority
    return None


def enqueue(task_id: int, *, at: datetime | None = None) -> None:
    """Hand a task to django-q2 now, or at `at` through a one-off schedule, on its queue."""
    from django_q.models import Schedule
    from django_q.tasks import async_task

    task = Task.objects.filter(pk=task_id).only("pk", "trigger", "flow_id").first()
    if task is None:
        return
    cluster = queue_of(task)
    if at is None or at <= timezone.now():
        q_id = async_task(
            RUN_TASK,
            task_id,
            task_name=f"brygga-task-{task_id}",
            group="brygga",
            **({"cluster": cluster} if cluster else {}),
        )
        Task.objects.filter(pk=task_id).update(q_task_id=str(q_id or ""))
    else:
        Schedule.objects.create(
            func=RUN_TASK,
            args=repr((task_id,)),
            name=f"{_retry_schedule_prefix(task_id)}{at.timestamp():.0f}",
            schedule_type=Schedule.ONCE,
            repeats=-1,
            next_run=at,
            cluster=cluster,
        )


def _retry_schedule_prefix(task_id: int) -> str:
    return f"brygga-retry-{task_id}-"


def _drop_retry_schedules(task_id: int) -> None:
    """The task is running: one-off schedules still waiting to start it (from a retry the
    sweeper or another path already handed out) would only start it again for nothing."""
    from django_q.models import Schedule

    Schedule.objects.filter(name__startswith=_retry_schedule_prefix(task_id), schedule_type=Schedule.ONCE).delete()


def create_task(
    *,
    integration: Integration,
    flow: Flow | None,
    trigger: str,
    params: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Task:
    """Create a queued Task and enqueue it once the surrounding transaction commits."""
    task = Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=trigger,
        params=params or {},
        max_attempts=_conf("TASK_MAX_ATTEMPTS"),
        next_retry_at=at,
    )
    transaction.on_commit(lambda: enqueue(task.pk, at=at))
    return task


def flow_for(integration: Integration, data_type: str) -> Flow | None:
    """The integration's flow that syncs `data_type`."""
    kinds = [kind for kind, spec in registry.FLOWS.items() if spec.data_type == data_type]
    return integration.flows.filter(kind__in=kinds).first()


def run_flow_now(flow_id: int, *, trigger: str = Task.Trigger.MANUAL, params: dict[str, Any] | None = None) -> Task:
    flow = Flow.objects.select_related("integration").get(pk=flow_id)
    with transaction.atomic():
        return create_task(
            integration=flow.integration, flow=flow, trigger=trigger, params=params or {"mode": "incremental"}
        )


def retry_task(task_id: int) -> Task:
    """Run a finished task's failed records again (or the whole task if it had none)."""
    task = Task.objects.select_related("integration", "flow").get(pk=task_id)
    failed = list(
        task.logs.filter(level=LogEntry.Level.ERROR, entity__isnull=False)
        .exclude(entity__status=Entity.Status.SYNCED)
        .values_list("entity_id", flat=True)
        .distinct()
    )
    params = {"entity_ids": failed} if failed else dict(task.params)
    with transaction.atomic():
        Entity.objects.filter(pk__in=failed).update(status=Entity.Status.PENDING)
        return create_task(integration=task.integration, flow=task.flow, trigger=Task.Trigger.RETRY, params=params)


def retry_entity(entity_id: int) -> Task:
    entity = Entity.objects.select_related("integration").get(pk=entity_id)
    flow_id = (entity.payload or {}).get("flow_id") if isinstance(entity.payload, dict) else None
    flow = (Flow.objects.filter(pk=flow_id, integration=entity.integration).first() if flow_id else None) or flow_for(
        entity.integration, entity.data_type
    )
    with transaction.atomic():
        Entity.objects.filter(pk=entity_id).exclude(status=Entity.Status.SYNCED).update(status=Entity.Status.PENDING)
        # An invoiced record whose follow-up (Norce status) was refused is sent again.
        Entity.objects.filter(pk=entity_id, status=Entity.Status.SYNCED).update(
            last_error_code="", last_error_message=""
        )
        return create_task(
            integration=entity.integration, flow=flow, trigger=Task.Trigger.RETRY, params={"entity_ids": [entity_id]}
        )


# --- running ----------------------------------------------------------------------
@dataclass
class FlowContext:
    """What a flow runner gets besides the task: counters, logging and record claiming."""

    task: Task
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    retry_entity_ids: list[int] = field(default_factory=list)
    retry_after: float | None = None
    # Records that must wait (not failed, no attempt) and when the earliest may go on.
    waiting_entity_ids: list[int] = field(default_factory=list)
    wait_until: datetime | None = None
    # Params of a task that continues this one's work at once (a slice handed over).
    hand_over_params: dict[str, Any] | None = None

    @property
    def integration(self) -> Integration:
        return self.task.integration

    def connector(self, role: str) -> Connector:
        connector = Connector.objects.filter(integration_id=self.task.integration_id, role=role).first()
        if connector is None:
            raise SyncError(CONNECTOR_MISSING.code, f"{self.integration} has no {role} connector")
        return connector

    def client(self, role: str):
        connector = self.connector(role)
        return client_for(connector)

    def port(self, capability: str) -> Any:
        """The adapter of the integration's connector that serves `capability` (core.ports)."""
        return port_for(connector_for(self.task.integration_id, capability), capability)

    def heartbeat(self) -> None:
        beat(self.task.pk)

    def log(
        self,
        level: str,
        message: str,
        *,
        code: str = "",
        hint: str = "",
        entity: Entity | None = None,
        reference: str = "",
        data_type: str = "",
        details: dict[str, Any] | None = None,
    ) -> LogEntry:
        return LogEntry.objects.create(
            integration_id=self.task.integration_id,
            task=self.task,
            flow_id=self.task.flow_id,
            entity=entity,
            level=level,
            code=code,
            message=message,
            hint=hint,
            details=details or {},
            reference=reference or (entity.reference if entity else ""),
            data_type=data_type or (entity.data_type if entity else ""),
        )

    # record claiming -------------------------------------------------------------
    def _lease(self, records, **changes: Any) -> bool:
        """Lease the matching record to this task unless a live lease of another task holds it.

        A lease, not an open transaction, so no database lock is held while API calls
        wait for a rate limit; a dead worker's lease simply expires.
        """
        now = timezone.now()
        return bool(
            records.filter(
                Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(claimed_by_task=self.task.pk)
            ).update(lease_until=now + lease_length(), claimed_by_task=self.task.pk, **changes)
        )

    def claim(self, entity_id: int) -> Entity | None:
        """Claim a record to sync it. None if another live worker holds it or it is done."""
        records = Entity.objects.filter(pk=entity_id).exclude(status__in=[Entity.Status.SYNCED, Entity.Status.SKIPPED])
        if not self._lease(records, status=Entity.Status.PROCESSING, attempts=F("attempts") + 1):
            return None
        return Entity.objects.get(pk=entity_id)

    def claim_synced(self, entity_id: int) -> bool:
        """Lease an already synced record for a follow-up call (telling the source)."""
        return self._lease(
            Entity.objects.filter(pk=entity_id, status=Entity.Status.SYNCED, acknowledged_at__isnull=True)
        )

    @contextmanager
    def holding(self, entity_id: int, *, wait: float = 30.0) -> Iterator[None]:
        """Hold a record's lease for a short critical section (e.g. creating one customer),
        waiting up to `wait` seconds for another worker to let go."""
        deadline = time.monotonic() + wait
        while not self._lease(Entity.objects.filter(pk=entity_id)):
            if time.monotonic() > deadline:
                raise SyncError(TASK_BUSY.code, "Another worker is still working on the same record", retry_after=10)
            time.sleep(0.1)
        try:
            yield
        finally:
            Entity.objects.filter(pk=entity_id, claimed_by_task=self.task.pk).update(
                lease_until=None, claimed_by_task=None
            )

    def succeed(self, entity: Entity, message: str, *, target_id: str, code: str = "") -> None:
        Entity.objects.filter(pk=entity.pk).update(
            status=Entity.Status.SYNCED,
            target_id=target_id,
            synced_at=timezone.now(),
            lease_until=None,
            claimed_by_task=None,
            last_error_code="",
            last_error_message="",
        )
        entity.status, entity.target_id = Entity.Status.SYNCED, target_id
        self.log(LogEntry.Level.EXPORTED, message, code=code, entity=entity)
        self.succeeded += 1

    def skip(self, entity: Entity, message: str, *, code: str = "", status: str = Entity.Status.SKIPPED) -> None:
        Entity.objects.filter(pk=entity.pk).update(status=status, lease_until=None, claimed_by_task=None)
        self.log(LogEntry.Level.SKIPPED, message, code=code, entity=entity)
        self.skipped += 1

    def fail(self, entity: Entity, error: SyncError) -> None:
        """Record a failure on one record; transient ones are retried with the task.

        An error that stopped a whole connector (it must be reconnected) is not the record's:
        the record goes back to pending, no attempt counted, and the task stops to wait.
        """
        stopped = stopped_connector(self.task.integration_id, error)
        if stopped is not None:
            self.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, details=error.details)
            Entity.objects.filter(pk=entity.pk).update(
                status=Entity.Status.PENDING,
                lease_until=None,
                claimed_by_task=None,
                attempts=Greatest(F("attempts") - 1, Value(0)),
            )
            raise reconnect_error(stopped)
        status = Entity.Status.NEEDS_ATTENTION if error.permanent else Entity.Status.FAILED
        Entity.objects.filter(pk=entity.pk).update(
            status=status,
            lease_until=None,
            claimed_by_task=None,
            last_error_code=error.code,
            last_error_message=error.message[:2000],
        )
        self.log(
            LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, entity=entity, details=error.details
        )
        self.failed += 1
        if not error.permanent:
            self.retry_entity_ids.append(entity.pk)
            if error.retry_after:
                self.retry_after = max(self.retry_after or 0, error.retry_after)

    def release(self, entity: Entity) -> None:
        Entity.objects.filter(pk=entity.pk, claimed_by_task=self.task.pk).update(lease_until=None, claimed_by_task=None)

    def wait(self, entity: Entity, *, seconds: float, code: str, message: str, hint: str = "") -> None:
        """The record cannot go on yet (e.g. an unclear create must first be given time to
        commit): it goes back to pending without counting an attempt, and the task is
        queued again for when the earliest waiting record may go on — also no attempt."""
        Entity.objects.filter(pk=entity.pk).update(
            status=Entity.Status.PENDING,
            lease_until=None,
            claimed_by_task=None,
            attempts=Greatest(F("attempts") - 1, Value(0)),
        )
        self.log(LogEntry.Level.INFO, message, code=code, hint=hint, entity=entity)
        self.waiting_entity_ids.append(entity.pk)
        until = timezone.now() + timedelta(seconds=max(0.0, seconds))
        self.wait_until = until if self.wait_until is None else min(self.wait_until, until)

    def hand_over(self, params: dict[str, Any]) -> None:
        """End this task's slice: when it finishes, a new task with `params` continues at once
        (so no task runs into the queue's timeout, and other work gets a worker in between)."""
        self.hand_over_params = dict(params)


def stopped_connector(integration_id: int, error: SyncError | None = None) -> Connector | None:
    """The integration's connector that must be reconnected, if any (and, with `error`, only if
    the error came from it or from its state)."""
    connectors = Connector.objects.filter(integration_id=integration_id, reconnect_needed_at__isnull=False)
    if error is not None:
        named = (error.details or {}).get("connector_id")
        if named is None and error.code != "connector.reconnect_needed":
            return None
        if named is not None:
            connectors = connectors.filter(pk=named)
    return connectors.first()


def reconnect_error(connector: Connector) -> SyncError:
    return SyncError(
        RECONNECT_NEEDED.code,
        f"{connector.get_system_display()} must be connected again: "
        f"{connector.reconnect_reason or 'it refused access'}",
        hint=lookup_hint("connector.reconnect_needed"),
        retry_after=RECONNECT_RECHECK_SECONDS,
        details={"connector_id": connector.pk},
    )


def lookup_hint(code: str) -> str:
    entry = lookup(code)
    return entry.hint if entry else ""


def resume_after_reconnect(connector_id: int) -> int:
    """The connector works again: hand out at once the tasks that waited for it. Returns how many."""
    connector = Connector.objects.get(pk=connector_id)
    if connector.needs_reconnect:
        return 0
    waiting = list(
        Task.objects.filter(
            integration_id=connector.integration_id, status=Task.Status.QUEUED, error_code="connector.reconnect_needed"
        ).values_list("pk", flat=True)
    )
    for task_id in waiting:
        Task.objects.filter(pk=task_id, status=Task.Status.QUEUED).update(next_retry_at=None)
        enqueue(task_id)
    return len(waiting)


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    delay = _conf("TASK_BACKOFF_BASE") * (2 ** max(0, attempt - 1))
    if retry_after:
        delay = max(delay, retry_after)
    return min(delay, _conf("TASK_BACKOFF_MAX"))


class Heartbeat:
    """While a task runs, a thread of the worker beats its row and renews the leases of the
    records it holds, whether or not the task's own loop gets round to it (a call waiting on a
    rate limit or a slow API). A dead worker stops beating: its task is found stuck and its
    records free after `TASK_STUCK_AFTER` seconds, not after a fixed long lease.

    Not started inside an open transaction (the thread's own connection could not see the
    task row, and would wait for its lock).
    """

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        # At least three beats fit in the time after which a silent task counts as stuck.
        self.interval = min(float(_conf("TASK_HEARTBEAT_SECONDS")), float(_conf("TASK_STUCK_AFTER")) / 3)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.interval > 0 and not transaction.get_connection().in_atomic_block:
            self._thread = threading.Thread(target=self._run, name=f"brygga-heartbeat-{self.task_id}", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        from django.db import connections

        try:
            while not self._stop.wait(self.interval):
                try:
                    beat(self.task_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                    log.warning("heartbeat of task %s failed", self.task_id, exc_info=True)
        finally:
            connections.close_all()


def lease_length() -> timedelta:
    """How long a record's lease lasts without a heartbeat renewing it."""
    return timedelta(seconds=float(_conf("TASK_STUCK_AFTER")))


def beat(task_id: int) -> None:
    """The running task is alive: stamp its row and renew the leases of the records it holds."""
    now = timezone.now()
    if Task.objects.filter(pk=task_id, status=Task.Status.RUNNING).update(heartbeat_at=now):
        Entity.objects.filter(claimed_by_task=task_id, lease_until__gt=now).update(lease_until=now + lease_length())


def execute_task(task_id: int) -> str:
    """Claim a queued task, run its flow, and record the outcome. Returns the final status.

    The queue's timeout (django-q2 raises ``SystemExit`` in the worker) and a worker being
    stopped end the run here too: the row is queued again at once and the records the task
    held are let go, so a task's row never outlives its worker.
    """
    now = timezone.now()
    claimed = Task.objects.filter(pk=task_id, status=Task.Status.QUEUED).update(
        status=Task.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        attempts=F("attempts") + 1,
        worker=worker_name()[:100],
        next_retry_at=None,
    )
    if not claimed:
        return "not-claimed"
    _drop_retry_schedules(task_id)
    task = Task.objects.select_related("integration", "flow").get(pk=task_id)
    ctx = FlowContext(task=task)
    error: SyncError | None = None
    with Heartbeat(task_id):
        try:
            if not task.integration.is_active:
                raise SyncError(INTEGRATION_PAUSED.code, f"{task.integration} is paused", retry_after=300)
            stopped = stopped_connector(task.integration_id)
            if stopped is not None:
                raise reconnect_error(stopped)
            if task.flow is None or not task.flow.enabled:
                raise SyncError(
                    FLOW_SETTINGS.code,
                    "The task's flow is missing or disabled",
                    hint="Enable the flow in admin, then retry the task.",
                )
            registry.flow_runner(task.flow.kind)(task, ctx)
        except SyncError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - anything unexpected becomes a transient, logged failure
            log.exception("task %s crashed", task_id)
            error = SyncError(
                UNEXPECTED.code,
                f"{type(exc).__name__}: {exc}",
                details={"traceback": traceback.format_exc()[-4000:]},
            )
        except BaseException as exc:  # the queue's timeout, or the worker told to stop
            _interrupted(task, ctx, exc)
            raise
    return _finish(task, ctx, error)


def _interrupted(task: Task, ctx: FlowContext, exc: BaseException) -> None:
    """Hand an interrupted run back to the queue: what it did counts, the rest runs again."""
    error = SyncError(
        TASK_INTERRUPTED.code,
        f"The run was stopped before it finished ({type(exc).__name__}: {exc})"[:500],
        hint="Nothing to do: the task was queued again and goes on where it stopped. If it happens "
        "every time, the work is too big for one run of the queue's timeout (Q_TIMEOUT).",
        retry_after=1,
    )
    try:
        Entity.objects.filter(claimed_by_task=task.pk).update(lease_until=None, claimed_by_task=None)
        _finish(task, ctx, error)
    except BaseException:  # noqa: BLE001 - the sweeper requeues it if even this fails
        log.exception("task %s could not be handed back after %s", task.pk, type(exc).__name__)


def _finish(task: Task, ctx: FlowContext, error: SyncError | None) -> str:
    now = timezone.now()
    updates: dict[str, Any] = {
        "count_total": F("count_total") + ctx.succeeded + ctx.failed + ctx.skipped,
        "count_succeeded": F("count_succeeded") + ctx.succeeded,
        "count_failed": F("count_failed") + ctx.failed,
        "count_skipped": F("count_skipped") + ctx.skipped,
        "heartbeat_at": now,
    }
    retry_params: dict[str, Any] | None = None
    retry_after = ctx.retry_after
    if error is not None and error.code not in QUIET_CODES:
        stopped = stopped_connector(task.integration_id, error)
        if stopped is not None:  # the run met a connector that must be reconnected: wait, don't fail
            ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, details=error.details)
            error = reconnect_error(stopped)
    if error is not None:
        updates.update(error_code=error.code, error_message=error.message[:2000])
        if error.code not in QUIET_CODES:
            ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, details=error.details)
        if not error.permanent:
            retry_params = task.params
            retry_after = max(retry_after or 0, error.retry_after or 0) or None
    elif ctx.retry_entity_ids:
        retry_params = {**task.params, "entity_ids": sorted(set(ctx.retry_entity_ids))}
        updates.update(error_code="", error_message=f"{len(ctx.retry_entity_ids)} record(s) will be retried")

    waiting = sorted(set(ctx.waiting_entity_ids))
    until = (ctx.wait_until - now).total_seconds() if ctx.wait_until else 0.0
    quiet = error is not None and error.code in QUIET_CODES
    if error is None and waiting and not ctx.retry_entity_ids:
        # Only records that wait: queued again for their time, and that is no attempt.
        retry_params = {**task.params, "entity_ids": waiting}
        retry_after, quiet = max(0.0, until), True
        updates.update(
            error_code="",
            error_message=f"{len(waiting)} record(s) wait until {timezone.localtime(ctx.wait_until):%H:%M:%S}",
        )
    elif waiting and retry_params is not None and "entity_ids" in retry_params:
        retry_params = {**retry_params, "entity_ids": sorted(set(retry_params["entity_ids"]) | set(waiting))}
        retry_after = max(retry_after or 0, until) or None

    if retry_params is not None and (quiet or task.attempts < task.max_attempts):
        delay = (retry_after or 0) if quiet else backoff_delay(task.attempts, retry_after)
        at = now + timedelta(seconds=delay)
        updates.update(status=Task.Status.QUEUED, next_retry_at=at, params=retry_params)
        if quiet:
            # Waiting (paused, its turn not come, records waiting) is no attempt: give back the one the
            # claim counted, so a long wait never leaves a task without retries for its first real failure.
            updates["attempts"] = Greatest(F("attempts") - 1, Value(0))
        Task.objects.filter(pk=task.pk).update(**updates)
        enqueue(task.pk, at=at)
        return Task.Status.QUEUED

    if error is not None:
        status = Task.Status.NEEDS_ATTENTION if error.permanent else Task.Status.FAILED
    elif ctx.retry_entity_ids:  # attempts exhausted on transient record errors
        earlier_ok = Task.objects.values_list("count_succeeded", flat=True).get(pk=task.pk)
        status = Task.Status.PARTLY_FAILED if earlier_ok + ctx.succeeded else Task.Status.FAILED
    elif ctx.failed == 0:
        status = Task.Status.SUCCEEDED
    elif ctx.succeeded or ctx.skipped:
        status = Task.Status.PARTLY_FAILED
    else:
        status = Task.Status.NEEDS_ATTENTION
    updates.update(status=status, finished_at=now, next_retry_at=None)
    Task.objects.filter(pk=task.pk).update(**updates)
    if waiting:
        # Attempts ran out on other records; the waiting ones still go on, in a task of their own.
        create_task(
            integration=task.integration,
            flow=task.flow,
            trigger=Task.Trigger.RETRY,
            params={**task.params, "entity_ids": waiting},
            at=ctx.wait_until,
        )
    if ctx.hand_over_params is not None and status in (Task.Status.SUCCEEDED, Task.Status.PARTLY_FAILED):
        # The slice is done and this row finished, so the next slice starts at once and finds no
        # running task of the flow ahead of it.
        _continue_with(task, ctx.hand_over_params)
    return status


def _continue_with(task: Task, params: dict[str, Any]) -> None:
    """Start the follow-up with `params` now: one already waiting (e.g. for this task to end)
    is handed out at once, otherwise a new one is queued."""
    waiting = [
        other
        for other in Task.objects.filter(
            flow_id=task.flow_id, trigger=Task.Trigger.FOLLOW_UP, status=Task.Status.QUEUED
        ).exclude(pk=task.pk)
        if all(other.params.get(k) == v for k, v in params.items())
    ]
    if not waiting:
        create_task(integration=task.integration, flow=task.flow, trigger=Task.Trigger.FOLLOW_UP, params=params)
        return
    for other in waiting:
        Task.objects.filter(pk=other.pk, status=Task.Status.QUEUED).update(next_retry_at=None)
        enqueue(other.pk)


def slice_seconds() -> float:
    """How long one task works before handing over to a new one (well under the queue's timeout)."""
    return float(_conf("TASK_SLICE_SECONDS"))


# --- sweeping ---------------------------------------------------------------------
def sweep(*, stuck_after: int | None = None) -> dict[str, int]:
    """Re-queue stuck running tasks and due retries that nobody picked up."""
    now = timezone.now()
    stuck_after = _conf("TASK_STUCK_AFTER") if stuck_after is None else stuck_after
    stuck = list(
        Task.objects.filter(
            status=Task.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=stuck_after)
        ).values_list("pk", flat=True)
    )
    requeued = 0
    for task_id in stuck:
        if Task.objects.filter(pk=task_id, status=Task.Status.RUNNING).update(
            status=Task.Status.QUEUED, next_retry_at=None
        ):
            LogEntry.objects.create(
                integration_id=Task.objects.values_list("integration_id", flat=True).get(pk=task_id),
                task_id=task_id,
                level=LogEntry.Level.WARNING,
                code=TASK_STUCK.code,
                message=f"Task #{task_id} stopped reporting progress (worker died?) and was queued again",
                hint="Nothing to do: records already in the target system are recognised, not created twice.",
            )
            enqueue(task_id)
            requeued += 1
    # Due retries whose one-off schedule was lost, and tasks queued but never handed out: only
    # those with no message waiting in a queue and no schedule still to fire, so a long queue is
    # never flooded with copies of what is already in it.
    overdue = now - timedelta(seconds=float(_conf("TASK_LOST_AFTER")))
    due = list(
        Task.objects.filter(status=Task.Status.QUEUED)
        .filter(Q(next_retry_at__lt=overdue) | Q(next_retry_at__isnull=True, created_at__lt=overdue))
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    live = tasks_with_live_message(due, overdue_since=now - timedelta(seconds=settings.Q_CLUSTER["retry"]))
    lost = [task_id for task_id in due if task_id not in live][:500]
    for task_id in lost:
        _drop_retry_schedules(task_id)  # an overdue one that never fired: handed out here instead
        enqueue(task_id)
    return {"stuck": requeued, "due": len(lost)}


def tasks_with_live_message(candidates: Iterable[int], *, overdue_since: datetime) -> set[int]:
    """The tasks among `candidates` that will be handed out without help: a message for them
    waits in (or is being worked from) a queue, or a one-off schedule is still to fire.

    Reads the queues of the brokers django-q2 keeps in the database and in Redis. With any
    other broker, whose queue cannot be read, a task counts as live until it is overdue since
    `overdue_since` (the broker's redelivery time, after which django-q2 would have handed a
    message out again).
    """
    from django_q.models import Schedule

    wanted = set(candidates)
    if not wanted:
        return set()
    live: set[int] = set()
    # A one-off schedule is still to fire unless it is overdue by as long as a queued task may go
    # unstarted: django-q2's scheduler looks about every 30 s, but only in a cluster that lives that
    # long (one restarted more often than that never fires a schedule).
    fires_from = timezone.now() - timedelta(seconds=float(_conf("TASK_LOST_AFTER")))
    for name in Schedule.objects.filter(
        name__startswith="brygga-retry-", schedule_type=Schedule.ONCE, next_run__gte=fires_from
    ).values_list("name", flat=True):
        try:
            live.add(int(name.split("-")[2]))
        except (IndexError, ValueError):
            continue
    waiting = _queued_task_ids()
    if waiting is None:
        waiting = set(
            Task.objects.filter(pk__in=wanted)
            .filter(Q(next_retry_at__gte=overdue_since) | Q(next_retry_at__isnull=True, created_at__gte=overdue_since))
            .values_list("pk", flat=True)
        )
    return (live | waiting) & wanted


def _queued_task_ids() -> set[int] | None:
    """Brygga task ids with a message in the ordinary or the priority queue (None: cannot tell)."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    ids: set[int] = set()
    born = None
    for cluster in {None, priority_cluster() or None}:
        broker = get_broker(cluster)
        kind = type(broker).__name__
        if kind == "ORM":
            messages = broker.get_connection().filter(key=broker.list_key)
            if born is None:
                born = _oldest_live_cluster_birth()
            if born is not None:
                # A message the ORM broker handed out is locked until `retry` seconds after that
                # moment. Handed out before every cluster alive now was born, it is held by a
                # cluster that died (killed with it in its internal queue): django-q2 would hand it
                # out only when the lock runs out, so it counts as lost. (Clocks of the hosts are
                # assumed in step to well under the time a cluster takes to start.)
                handed_out_before = born + timedelta(seconds=settings.Q_CLUSTER["retry"])
                messages = messages.exclude(lock__gt=timezone.now(), lock__lt=handed_out_before)
            payloads = messages.values_list("payload", flat=True)
        elif kind == "Redis":
            payloads = broker.connection.lrange(broker.list_key, 0, -1)
        else:
            return None
        for payload in payloads:
            try:
                package = SignedPackage.loads(payload)
            except Exception:  # noqa: BLE001 - a foreign or broken message is not ours
                continue
            if package.get("func") == RUN_TASK and package.get("args"):
                try:
                    ids.add(int(package["args"][0]))
                except (TypeError, ValueError):
                    continue
    return ids


def _oldest_live_cluster_birth() -> datetime | None:
    """When the oldest django-q2 cluster that reports in now started; with none alive, now (so a
    message held by any cluster is held by a dead one); None when the statistics cannot be read."""
    from django_q.status import Stat

    try:
        births = [stat.tob for stat in Stat.get_all() if getattr(stat, "tob", None)]
    except Exception:  # noqa: BLE001 - unreadable statistics: assume every holder is alive
        log.warning("cluster statistics unreadable; messages handed out count as live")
        return None
    return min(births) if births else timezone.now()


# --- cursors ----------------------------------------------------------------------
def get_cursor(integration: Integration, data_type: str, direction: str) -> datetime | None:
    row = TimeHistory.objects.filter(integration=integration, data_type=data_type, direction=direction).first()
    return row.last_loaded_at if row else None


def advance_cursor(integration: Integration, data_type: str, direction: str, moment: datetime) -> None:
    """Move the cursor forward to `moment` (never backwards: staff move it back by hand)."""
    row, _ = TimeHistory.objects.get_or_create(integration=integration, data_type=data_type, direction=direction)
    TimeHistory.objects.filter(pk=row.pk).filter(Q(last_loaded_at__isnull=True) | Q(last_loaded_at__lt=moment)).update(
        last_loaded_at=moment, updated_at=timezone.now()
    )


# --- connectors -------------------------------------------------------------------
def test_connection(connector_id: int) -> tuple[bool, str]:
    """Make one real API call with the connector's credentials and remember the outcome."""
    connector = Connector.objects.get(pk=connector_id)
    if registry.system(connector.system) is None:
        ok, message = False, f"No client for {connector.get_system_display()} yet"
    else:
        try:
            ok, message = True, client_for(connector).test_connection()
        except SyncError as exc:
            ok, message = False, f"[{exc.code}] {exc.message}" + (f" — {exc.hint}" if exc.hint else "")
    Connector.objects.filter(pk=connector_id).update(
        last_test_at=timezone.now(), last_test_ok=ok, last_test_message=message[:2000]
    )
    if ok:
        resume_after_reconnect(connector_id)
    return ok, message


def set_connector_credentials(connector_id: int, values: dict[str, str]) -> None:
    """Merge the non-empty values into the connector's encrypted credentials."""
    with transaction.atomic():
        connector = Connector.objects.select_for_update().get(pk=connector_id)
        credentials = dict(connector.credentials)
        changed = {k: v for k, v in values.items() if v and credentials.get(k) != v}
        if not changed:
            return
        credentials.update(changed)
        connector.credentials = credentials
        # A cached access token belongs to the old credentials; a refresh token is kept
        # (Fortnox) since only a new consent replaces it.
        connector.tokens = {k: v for k, v in connector.tokens.items() if k == "refresh_token"}
        connector.token_expires_at = None
        connector.save(update_fields=["credentials", "tokens", "token_expires_at", "updated_at"])


def pending_entity_ids(integration: Integration, data_type: str, ids: Iterable[int] | None = None) -> list[int]:
    qs = Entity.objects.filter(
        integration=integration,
        data_type=data_type,
        status__in=[Entity.Status.PENDING, Entity.Status.FAILED, Entity.Status.PROCESSING],
    )
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return list(qs.order_by("pk").values_list("pk", flat=True))


def forget_references(references, *, actor: str = "") -> int:
    """Delete references so the next sync links or creates the target record anew.

    The matching records go back to pending with their create mark cleared. Before
    creating, the next run looks the source up in the target system (a flow decides
    how), so a target record that is still live is linked again, not duplicated.
    Each deletion is logged on the record's timeline with the staff member's name.
    """
    count = 0
    with transaction.atomic():
        for ref in list(references):
            entity = Entity.objects.filter(
                integration_id=ref.integration_id, data_type=ref.data_type, source_id=ref.source_id
            ).first()
            if entity is not None:
                Entity.objects.filter(pk=entity.pk).update(
                    status=Entity.Status.PENDING,
                    target_id="",
                    create_started_at=None,
                    acknowledged_at=None,
                    synced_at=None,
                    lease_until=None,
                    claimed_by_task=None,
                    last_error_code="",
                    last_error_message="",
                )
            by = f" by {actor}" if actor else ""
            LogEntry.objects.create(
                integration_id=ref.integration_id,
                entity=entity,
                level=LogEntry.Level.WARNING,
                data_type=ref.data_type,
                reference=entity.reference if entity is not None else ref.source_id,
                code=REFERENCE_DELETED.code,
                actor=actor[:150],
                details={"source_id": ref.source_id, "target_id": ref.target_id},
                message=f"Reference {ref.data_type} {ref.source_id} → {ref.target_id} deleted{by}; the next sync "
                f"looks it up in the target system and links a live record again, or creates a new one",
                hint="If that was not intended, add the reference again before the next sync.",
            )
            ref.delete()
            count += 1
    return count


def record_staff_action(
    *,
    entity: Entity,
    message: str,
    actor: str,
    code: str = STAFF_ACTION.code,
    level: str = LogEntry.Level.INFO,
    details: dict[str, Any] | None = None,
    task: Task | None = None,
) -> LogEntry:
    """A line on the record's timeline saying what a staff member did, with their name (and the
    task it queued, if any)."""
    return LogEntry.objects.create(
        integration_id=entity.integration_id,
        entity=entity,
        level=level,
        data_type=entity.data_type,
        reference=entity.reference or entity.source_id,
        code=code,
        message=message,
        actor=actor[:150],
        details=details or {},
        task=task,
    )


def queue_follow_up(flow: Flow, params: dict[str, Any], *, at: datetime | None = None) -> Task | None:
    """A follow-up task for the flow with `params`, unless an equal one is already waiting
    to run by then (so events, polls and continuations never pile up)."""
    at = at or timezone.now()
    waiting = (
        Task.objects.filter(flow=flow, trigger=Task.Trigger.FOLLOW_UP, status=Task.Status.QUEUED)
        .filter(Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=at))
        .values_list("params", flat=True)
    )
    if any(all(queued.get(k) == v for k, v in params.items()) for queued in waiting):
        return None
    with transaction.atomic():
        return create_task(
            integration=flow.integration,
            flow=flow,
            trigger=Task.Trigger.FOLLOW_UP,
            params=dict(params),
            at=at if at > timezone.now() else None,
        )
