"""What a flow runner works with: the FlowContext (counters, logging, record claiming) and
the connector that must be reconnected before work can go on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import CONNECTOR_MISSING, RECONNECT_NEEDED, TASK_BUSY, UNEXPECTED, SyncError, lookup
from integrations.engine.clients import client_for, connector_for, port_for
from integrations.engine.heartbeat import beat, lease_length
from integrations.models import Connector, Entity, Integration, LogEntry, Task

log = logging.getLogger("brygga.engine")

# How often a task waiting for a connector to be reconnected looks again (reconnecting in admin
# hands the waiting tasks out at once).
RECONNECT_RECHECK_SECONDS = 60


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
    _ports: dict[str, Any] = field(default_factory=dict, repr=False)

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
        """The adapter of the integration's connector that serves `capability` (core.ports), built
        once per task (one connector read, one client) and shared by everything the task runs."""
        if capability not in self._ports:
            self._ports[capability] = port_for(connector_for(self.task.integration_id, capability), capability)
        return self._ports[capability]

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

    def process_claimed(self, entity_id: int, work: Callable[[Entity], None], *, what: str) -> None:
        """Claim the record and do `work` on it; a SyncError, or a crash, fails that record alone
        (coded, retried per its error) so one bad record never blocks the others. A record
        another worker holds, or one already done, is left alone."""
        entity = self.claim(entity_id)
        if entity is None:
            return
        try:
            work(entity)
        except SyncError as exc:
            self.fail(entity, exc)
        except Exception as exc:  # noqa: BLE001 - one bad record never blocks the others
            log.exception("%s %s crashed", what, entity.reference or entity.source_id)
            self.fail(entity, SyncError(UNEXPECTED.code, f"{type(exc).__name__}: {exc}"))

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
