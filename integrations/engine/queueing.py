"""Creating and queueing Tasks: which queue runs a task, handing it to django-q2 (now or
through a one-off schedule), and the ways a task comes about (a flow run now, a retry, a
follow-up)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from integrations import registry
from integrations.models import Entity, Flow, Integration, LogEntry, Task

RUN_TASK = "integrations.jobs.run_task"


def _conf(name: str) -> Any:
    return settings.BRYGGA[name]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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


def pending_entity_ids(integration: Integration, data_type: str, ids: Iterable[int] | None = None) -> list[int]:
    qs = Entity.objects.filter(
        integration=integration,
        data_type=data_type,
        status__in=[Entity.Status.PENDING, Entity.Status.FAILED, Entity.Status.PROCESSING],
    )
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return list(qs.order_by("pk").values_list("pk", flat=True))
