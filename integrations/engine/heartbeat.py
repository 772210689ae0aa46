"""A running task's sign of life: its heartbeat, and the leases of the records it holds."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from integrations.engine.queueing import _conf
from integrations.models import Entity, Task

log = logging.getLogger("brygga.engine")


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
