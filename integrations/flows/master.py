"""Master data from the ERP into the webshop's catalogue: products, prices, stock, customers.

A run has three steps, each safe to repeat:

1. **collect** — read what changed in the master-data source since the Time History cursor
   (minus an overlap), map each item to the catalogue target's record and store it on its
   Entity. A record whose mapped content equals what the target last confirmed stays as it
   is; a changed one becomes pending.
2. **send** — pending records go out in batches (size and maximum wait per flow). Each
   item carries only the fields that differ from what the target confirmed (for Norce
   Connect the header's ``…FieldsThatAreSet`` lists exactly those). Every import's job id
   is kept as a ConnectJob with the request.
3. **follow** — jobs are followed until they end (checked, or learnt from an event); the
   outcome is written on each record (integrations.flows.connect_jobs).

Nothing is lost between the steps: a record stays pending (or sent) until a job that
carried its current content succeeded, and an import is an upsert, so sending again
after a crash does no harm.

Prices and stock depend on the products: a catalogue ignores a price or stock row for a SKU
it does not have, so such rows wait for the products import that creates the SKU (see
`waiting_for_products`) and go as soon as that job has ended.

A task with ``force`` (rewind and resend) sends every record it reads with all its
fields, even when the target already confirmed that content.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import FLOW_SETTINGS, SyncError
from core.ports import CATALOGUE_TARGET, MASTER_DATA_SOURCE, CatalogueTarget
from core.records import changed_fields
from integrations import resync, services
from integrations.flows import connect_jobs
from integrations.flows.master_collect import collect, store_batch
from integrations.flows.master_settings import FlowSettings, parse_settings
from integrations.flows.master_source import SourceBatch, mapped, record_mapping_error
from integrations.flows.products_first import SENDABLE, held_back, ready
from integrations.models import ConnectJob, Entity, Flow, LogEntry, Task

log = logging.getLogger("brygga.flows.master")

# Flows whose calls may use the target's reserved share of its limit (Norce: CONNECT_PRIORITY_RESERVE).
PRIORITY_KINDS = {"stock_to_commerce"}


# -- sending -----------------------------------------------------------------------------------
def _log_held_back(ctx, flow: Flow) -> None:
    held = held_back(flow)
    count = held.count()
    if not count:
        return
    sample = list(held.order_by("pk").values_list("reference", flat=True)[:5])
    more = f" and {count - len(sample)} more" if count > len(sample) else ""
    ctx.log(
        LogEntry.Level.INFO,
        f"{count} record(s) wait for their products to reach the webshop ({', '.join(sample)}"
        f"{more}); they are sent when the products import has ended",
        data_type=flow.data_type,
        details={"waiting": count},
    )


def _claim(ctx, flow: Flow, limit: int) -> list[Entity]:
    now = timezone.now()
    ids = list(
        ready(flow)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    Entity.objects.filter(pk__in=ids, status__in=SENDABLE).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(status=Entity.Status.PROCESSING, lease_until=now + services.lease_length(), claimed_by_task=ctx.task.pk)
    return list(
        Entity.objects.filter(pk__in=ids, claimed_by_task=ctx.task.pk, status=Entity.Status.PROCESSING).order_by("pk")
    )


def _release(entities: Iterable[Entity], status: str, error: SyncError | None = None) -> None:
    updates: dict[str, Any] = {"status": status, "lease_until": None, "claimed_by_task": None}
    if error is not None:
        updates.update(last_error_code=error.code, last_error_message=error.message[:2000])
    Entity.objects.filter(pk__in=[e.pk for e in entities]).update(**updates)


def wait_for_more(flow: Flow, settings: FlowSettings) -> float:
    """Seconds to wait for more changes before sending (0 = send now)."""
    if settings.max_wait_seconds <= 0:
        return 0.0
    pending = ready(flow)
    if pending.count() >= settings.batch_size:
        return 0.0
    oldest = pending.aggregate(at=Min("updated_at"))["at"]
    if oldest is None:
        return 0.0
    return max(0.0, (oldest + timedelta(seconds=settings.max_wait_seconds) - timezone.now()).total_seconds())


def send_pending(
    ctx,
    flow: Flow,
    settings: FlowSettings,
    target: CatalogueTarget,
    *,
    full_fields: Iterable[int] = (),
    every_field: bool = False,
    deadline: float | None = None,
) -> int:
    """Send every pending record of the flow in batches; returns the number of records sent.

    Records in `full_fields` (entity ids) are sent with all their fields (an explicit retry);
    with `every_field`, every record is."""
    full: set[int] | None = None if every_field else set(full_fields)
    sent = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return sent
        entities = _claim(ctx, flow, settings.batch_size)
        if not entities:
            return sent
        by_method: dict[str, list[Entity]] = {}
        for entity in entities:
            by_method.setdefault(entity.payload.get("method") or "", []).append(entity)
        for method, group in by_method.items():
            sent += _send_group(ctx, flow, target, method, group, full)
        ctx.heartbeat()


def _send_group(
    ctx, flow: Flow, target: CatalogueTarget, method: str, entities: list[Entity], full: set[int] | None
) -> int:
    """Send one batch of one method. `full`: the records to send whole (None: all of them)."""
    if not target.knows(method):
        error = SyncError(FLOW_SETTINGS.code, f"Record has no {target.name} import method ({method!r})")
        _release(entities, Entity.Status.NEEDS_ATTENTION, error)
        return 0
    # One header for the batch: the union of what changed in its records.
    keys: set[str] = set()
    for entity in entities:
        fields = entity.payload.get("fields") or {}
        confirmed = (entity.sent_payload or {}).get("fields") or {}
        whole = full is None or entity.pk in full or not entity.sent_hash
        keys |= set(fields) if whole else changed_fields(fields, confirmed)
    if not keys:  # nothing differs from what the target confirmed
        for entity in entities:
            Entity.objects.filter(pk=entity.pk).update(
                status=Entity.Status.SYNCED, lease_until=None, claimed_by_task=None, sent_hash=entity.payload_hash
            )
        return 0
    try:
        accepted = target.send(method, [entity.payload for entity in entities], keys)
    except SyncError as error:
        if not error.permanent:
            _release(entities, Entity.Status.FAILED, error)
            raise
        _release(entities, Entity.Status.NEEDS_ATTENTION, error)
        LogEntry.objects.bulk_create(
            [
                LogEntry(
                    integration_id=flow.integration_id,
                    task=ctx.task,
                    flow=flow,
                    entity=e,
                    level=LogEntry.Level.ERROR,
                    data_type=flow.data_type,
                    reference=e.reference,
                    code=error.code,
                    message=error.message,
                    hint=error.hint,
                )
                for e in entities
            ]
        )
        ctx.failed += len(entities)
        return 0
    sent = [
        [entity.pk, entity.payload_hash, {k: fields[k] for k in sorted(keys) if k in fields}]
        for entity, fields in ((e, e.payload.get("fields") or {}) for e in entities)
    ]
    with transaction.atomic():
        job, _ = ConnectJob.objects.update_or_create(
            integration_id=flow.integration_id,
            job_id=accepted.job_id,
            defaults=dict(
                flow=flow,
                task=ctx.task,
                method=method,
                item_count=len(entities),
                header=accepted.header,
                sent=sent,
                request_body=gzip.compress(accepted.body, compresslevel=5),
                status=ConnectJob.Status.QUEUED,
                messages=[{"SeverityId": 2, "Message": m} for m in accepted.messages],
            ),
        )
        Entity.objects.filter(pk__in=[e.pk for e in entities], claimed_by_task=ctx.task.pk).update(
            status=Entity.Status.SENT, lease_until=None, claimed_by_task=None, target_id=f"job:{accepted.job_id}"
        )
    ctx.log(
        LogEntry.Level.INFO,
        f"{method}: {len(entities)} record(s) sent as {target.name} job {accepted.job_id}, "
        f"fields {', '.join(sorted(keys))}",
        data_type=flow.data_type,
        details={"job_id": accepted.job_id, "header": accepted.header},
    )
    return len(entities)


# -- the runner --------------------------------------------------------------------------------
def run(task: Task, ctx) -> None:
    flow = task.flow
    settings = parse_flow_settings(flow)
    params = task.params or {}
    target = catalogue_target(ctx, flow)

    if params.get("follow_jobs"):
        connect_jobs.follow(ctx, flow, target, wait=0, job_ids=params.get("job_ids"))
        return
    if params.get("mode") == "full":
        resync.run_full_file_slice(ctx, flow, settings, target)
        return

    deadline = time.monotonic() + services.slice_seconds()
    force = bool(params.get("force"))
    full_fields: list[int] = []
    if params.get("entity_ids"):
        full_fields = [int(i) for i in params["entity_ids"]]
        reread(ctx, flow, settings, full_fields)
        Entity.objects.filter(
            pk__in=full_fields, status__in=[Entity.Status.NEEDS_ATTENTION, Entity.Status.SKIPPED, Entity.Status.SYNCED]
        ).filter(payload__has_key="fields").update(status=Entity.Status.PENDING)
    elif params.get("keys"):
        read_keys(ctx, flow, settings, [str(key) for key in params["keys"]])
    elif not params.get("send_only"):
        collect(ctx, flow, settings, since=_since_param(params), force=force)

    if not full_fields and not force:  # an explicit retry or resend goes at once
        wait = wait_for_more(flow, settings)
        if wait > 0:
            services.queue_follow_up(flow, {"send_only": True}, at=timezone.now() + timedelta(seconds=wait))
            return
    send_pending(ctx, flow, settings, target, full_fields=full_fields, every_field=force, deadline=deadline)
    if ready(flow).exists():
        # Hand over to a continuation so other flows (stock) get a worker in between; a resend's
        # continuation keeps sending whole records.
        services.queue_follow_up(flow, {"send_only": True, **({"force": True} if force else {})}, at=timezone.now())
    _log_held_back(ctx, flow)
    connect_jobs.follow(ctx, flow, target, wait=0 if target.job_events else settings.job_wait_seconds)


def catalogue_target(ctx, flow: Flow) -> CatalogueTarget:
    """The flow's catalogue target; stock may use the share of its limit kept for what must be quick."""
    target: CatalogueTarget = ctx.port(CATALOGUE_TARGET)
    target.use_priority(flow.kind in PRIORITY_KINDS)
    return target


def _since_param(params: dict[str, Any]):
    value = params.get("since")
    return parse_datetime(value) if value else None


def parse_flow_settings(flow: Flow) -> FlowSettings:
    try:
        return parse_settings(flow.kind, flow.settings)
    except ValueError as exc:
        raise SyncError(
            FLOW_SETTINGS.code,
            f"Flow settings: {exc}",
            hint="Correct the flow's settings in admin, then retry the task.",
            permanent=True,
        ) from None


def read_keys(ctx, flow: Flow, settings: FlowSettings, keys: list[str]) -> None:
    """The records a notice named (a webhook): read from the source as it holds them now and
    stored like a poll's page, so only what changed is sent. The cursor does not move: the
    fail-safe poll still reads everything since it."""
    source, target = ctx.port(MASTER_DATA_SOURCE), ctx.port(CATALOGUE_TARGET)
    batch = SourceBatch(1, 1)
    for key in dict.fromkeys(keys):
        item = source.reread(flow.data_type, key, settings)
        if item is not None:
            mapped(flow.data_type, item, settings, target, batch)
    store_batch(ctx, flow, batch)


def reread(ctx, flow: Flow, settings: FlowSettings, entity_ids: list[int]) -> None:
    """Map records again from the source's current data (a retry after fixing the source)."""
    source, target = ctx.port(MASTER_DATA_SOURCE), ctx.port(CATALOGUE_TARGET)
    for entity in Entity.objects.filter(pk__in=entity_ids):
        item = source.reread(flow.data_type, entity.source_id.split("@", 1)[0], settings)
        if item is None:
            continue  # nothing newer to read: the stored record is sent again
        batch = SourceBatch(1, 1)
        mapped(flow.data_type, item, settings, target, batch)
        for _, _, error in batch.errors:
            record_mapping_error(ctx, flow, entity, entity.source_id, entity.reference, error)
        if not batch.records:
            continue
        Entity.objects.filter(pk=entity.pk).update(payload_hash="")  # make the stored content count as changed
        store_batch(ctx, flow, SourceBatch(1, 1, records=batch.records, read=1))
