"""Collecting master data (step 1 of integrations.flows.master): read what changed in the source
since the cursor, map it and store it on the records' Entities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.ports import CATALOGUE_TARGET, MASTER_DATA_SOURCE
from core.records import changed_fields
from integrations import services
from integrations.flows.master_settings import FlowSettings
from integrations.flows.master_source import SourceBatch, read_source, record_mapping_error
from integrations.models import Entity, Flow, LogEntry


@dataclass
class CollectStats:
    read: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    forced: int = 0  # unchanged, but sent again because the task asked for it (force)


def store_batch(ctx, flow: Flow, batch: SourceBatch, *, force: bool = False) -> CollectStats:
    """Write one mapped page onto its Entities; changed records become pending.

    With `force`, unchanged records become pending too (unless a job carrying exactly this
    content is on its way): the send step then sends them whole."""
    stats = CollectStats(read=batch.read)
    data_type = flow.data_type
    ids = [r.source_id for r in batch.records] + [e[0] for e in batch.errors if e[0]]
    existing = {
        e.source_id: e
        for e in Entity.objects.filter(integration_id=flow.integration_id, data_type=data_type, source_id__in=ids)
    }
    now = timezone.now()
    new: list[Entity] = []
    changed: list[Entity] = []
    for record in batch.records:
        digest = record.hash
        payload = {**record.payload(), "flow_id": flow.pk}
        entity = existing.get(record.source_id)
        if entity is None:
            new.append(
                Entity(
                    integration_id=flow.integration_id,
                    data_type=data_type,
                    source_id=record.source_id,
                    reference=record.reference[:100],
                    label=record.label[:200],
                    payload=payload,
                    payload_hash=digest,
                    received_via="poll",
                    status=Entity.Status.PENDING,
                )
            )
            continue
        in_flight = entity.status in (Entity.Status.SENT, Entity.Status.PROCESSING)
        if (
            entity.payload_hash == digest
            and entity.status != Entity.Status.NEEDS_ATTENTION
            and (not force or in_flight)
        ):
            stats.unchanged += 1
            continue
        confirmed = (entity.sent_payload or {}).get("fields") or {}
        same = entity.sent_hash == digest or (entity.sent_hash and not changed_fields(record.fields, confirmed))
        entity.payload, entity.payload_hash = payload, digest
        entity.reference, entity.label = record.reference[:100], record.label[:200]
        if same and force:
            entity.status = Entity.Status.PENDING
            entity.last_error_code = entity.last_error_message = ""
            stats.forced += 1
        elif same:
            entity.status = Entity.Status.SYNCED  # back to what the target already has
            stats.unchanged += 1
        else:
            entity.status = Entity.Status.PENDING
            entity.last_error_code = entity.last_error_message = ""
            stats.changed += 1
        entity.updated_at = now
        changed.append(entity)
    with transaction.atomic():
        if new:
            Entity.objects.bulk_create(new, ignore_conflicts=True)
            stats.changed += len(new)
        if changed:
            Entity.objects.bulk_update(
                changed,
                [
                    "payload",
                    "payload_hash",
                    "status",
                    "reference",
                    "label",
                    "last_error_code",
                    "last_error_message",
                    "updated_at",
                ],
            )
        for source_id, reference, error in batch.errors:
            record_mapping_error(ctx, flow, existing.get(source_id), source_id, reference, error)
            stats.failed += 1
    return stats


def collect(
    ctx, flow: Flow, settings: FlowSettings, *, since=None, use_cursor: bool = True, force: bool = False
) -> CollectStats:
    """Read changes since the cursor (minus the overlap) and store them; move the cursor.
    With `force`, every record read is made pending, changed or not."""
    started = timezone.now()
    if since is None and use_cursor:
        cursor = services.get_cursor(flow.integration, flow.data_type, flow.direction)
        since = cursor - timedelta(minutes=settings.overlap_minutes) if cursor else None
    source, target = ctx.port(MASTER_DATA_SOURCE), ctx.port(CATALOGUE_TARGET)
    total = CollectStats()
    for batch in read_source(flow, settings, source, target, since=since):
        stats = store_batch(ctx, flow, batch, force=force)
        total.read += stats.read
        total.changed += stats.changed
        total.unchanged += stats.unchanged
        total.failed += stats.failed
        total.forced += stats.forced
        ctx.heartbeat()
    services.advance_cursor(flow.integration, flow.data_type, flow.direction, started)
    ctx.skipped += total.unchanged
    if total.read:
        text = (
            f"Read {total.read} from {source.name}: {total.changed} changed, {total.unchanged} unchanged, "
            f"{total.failed} with errors"
        )
        if total.forced:
            text += f"; {total.forced} unchanged sent again as asked (resend)"
        elif total.unchanged and not total.changed:
            text += f'; nothing to send: {target.name} already has this content ("Rewind and resend" sends it anyway)'
        ctx.log(
            LogEntry.Level.INFO,
            text,
            data_type=flow.data_type,
            details={"since": since.isoformat() if since else None, **total.__dict__},
        )
    return total
