"""The sweeper: re-queue stuck tasks and tasks whose queue message or schedule was lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.signing import SignedPackage
from django_q.status import Stat

from core.errors import TASK_STUCK
from integrations.engine.queueing import RUN_TASK, _conf, _drop_retry_schedules, enqueue, priority_cluster
from integrations.models import LogEntry, Task

log = logging.getLogger("brygga.engine")


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
    try:
        births = [stat.tob for stat in Stat.get_all() if getattr(stat, "tob", None)]
    except Exception:  # noqa: BLE001 - unreadable statistics: assume every holder is alive
        log.warning("cluster statistics unreadable; messages handed out count as live")
        return None
    return min(births) if births else timezone.now()
