"""Running a Task: claim it, run its flow, record the outcome and queue what comes next."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import FLOW_SETTINGS, INTEGRATION_PAUSED, TASK_INTERRUPTED, UNEXPECTED, SyncError
from integrations import registry
from integrations.engine.context import FlowContext, reconnect_error, stopped_connector
from integrations.engine.heartbeat import Heartbeat
from integrations.engine.queueing import _conf, _drop_retry_schedules, create_task, enqueue, worker_name
from integrations.models import Connector, Entity, LogEntry, Task

log = logging.getLogger("brygga.engine")

# Task-level "errors" that only mean "not now": not logged, and not counted against attempts.
QUIET_CODES = {"integration.paused", "task.busy", "connector.reconnect_needed"}


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
