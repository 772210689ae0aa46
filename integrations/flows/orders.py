"""Orders → ERP invoices: push, event and poll store orders; each becomes exactly one
invoice (flows.invoicing); a follow-up task tells the webshop."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.utils import timezone

from core.errors import ORDER_ACKNOWLEDGED, ORDER_FOUND_BY_POLL, ORDER_MALFORMED, TASK_BUSY, SyncError
from core.ports import ORDER_SOURCE, OrderSource
from integrations import services
from integrations.flows.invoicing import OrderPipeline
from integrations.flows.order_records import (
    DATA_TYPE,
    DIRECTION,
    freight_articles,
    parse_settings_or_error,
    store_order,
)
from integrations.flows.order_settings import OrderFlowSettings
from integrations.flows.reconcile import queue_reconciliation, reconcile_invoices
from integrations.models import Entity, Integration, LogEntry, Task


def run(task: Task, ctx) -> None:
    """Run the orders flow for a task.

    A task names its orders (`entity_ids` from a push or a retry, `fetch_refs` from
    events) or polls the webshop since the cursor and then works through every order still
    waiting (pending, or failed and due for a retry); a scheduled poll leaves that work to
    a follow-up (`pending`). A follow-up task (`acknowledge`) tells the webshop about
    invoiced orders at the webshop's own pace, and one (`reconcile`) looks for an order
    invoiced twice.
    """
    settings = parse_settings_or_error(task.flow.settings)
    params = task.params or {}
    if params.get("acknowledge"):
        acknowledge_orders(ctx, settings)
        return
    if params.get("reconcile"):
        reconcile_invoices(ctx, settings)
        return
    named = list(params.get("entity_ids") or [])
    if params.get("fetch_refs"):
        named += fetch_orders(ctx, settings, [str(ref) for ref in params["fetch_refs"]])
    if named:
        todo = sorted(set(named))
    elif params.get("pending"):
        todo = services.pending_entity_ids(ctx.integration, DATA_TYPE)
    else:
        poll_orders(ctx, settings, full=params.get("mode") == "full")
        if task.trigger == Task.Trigger.SCHEDULE:
            # A scheduled poll only stores what it found, so it is short and runs on time (on the
            # priority queue, when there is one); a follow-up on the ordinary queue invoices.
            if services.pending_entity_ids(ctx.integration, DATA_TYPE):
                ctx.hand_over({"pending": True})
            return
        todo = services.pending_entity_ids(ctx.integration, DATA_TYPE)
    pipeline = OrderPipeline(ctx, settings)
    for entity_id in todo:
        pipeline.process(entity_id)
        ctx.heartbeat()
    if pipeline.recheck_at is not None:
        # An invoice was created after an unclear earlier create: should that one still commit
        # (later than the commit wait), the reconciliation finds the pair and flags it.
        queue_reconciliation(task.flow, at=pipeline.recheck_at)
    if settings.send_status_to_commerce and unacknowledged(ctx.integration, ctx.port(ORDER_SOURCE)).exists():
        queue_acknowledgements(task)


def unacknowledged(integration: Integration, source: OrderSource):
    """Invoiced orders the webshop has not been told about (and not refused for good)."""
    return (
        Entity.objects.filter(
            integration=integration, data_type=DATA_TYPE, status=Entity.Status.SYNCED, acknowledged_at__isnull=True
        )
        .exclude(target_id="")
        .exclude(last_error_code__in=source.refused_status_codes)
    )


def status_follow_ups(flow_id: int, status: str):
    """The flow's follow-up tasks that send order statuses, in `status`."""
    return Task.objects.filter(flow_id=flow_id, trigger=Task.Trigger.FOLLOW_UP, status=status, params__acknowledge=True)


def queue_acknowledgements(task: Task) -> None:
    """Make sure one follow-up task is waiting to send order statuses to the webshop.

    The webshop may allow far fewer requests than the ERP (Norce Connect 60 a minute,
    Fortnox about five times that); sending statuses apart from invoicing keeps invoices
    flowing at the ERP's pace while the statuses follow at the webshop's.
    """
    if not status_follow_ups(task.flow_id, Task.Status.QUEUED).exists():
        services.create_task(
            integration=task.integration, flow=task.flow, trigger=Task.Trigger.FOLLOW_UP, params={"acknowledge": True}
        )


def acknowledge_orders(ctx, settings: OrderFlowSettings, *, batch: int = 100) -> None:
    """Send `Confirmed` with the invoice number for every invoiced, unacknowledged order.

    One follow-up task runs per flow at a time, so a second one never ties up another
    worker waiting on the webshop's limit. It sends for one slice (`TASK_SLICE_SECONDS`, well
    under the queue's timeout) and then hands over to a new task that starts the moment
    this one's row is finished; so does a follow-up that waited for it.
    """
    if status_follow_ups(ctx.task.flow_id, Task.Status.RUNNING).exclude(pk=ctx.task.pk).exists():
        raise SyncError(TASK_BUSY.code, "Another follow-up task is sending order statuses", retry_after=5)
    source = ctx.port(ORDER_SOURCE)
    deadline = time.monotonic() + services.slice_seconds()
    while True:
        ids = list(unacknowledged(ctx.integration, source).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        for entity_id in ids:
            acknowledge_order(ctx, source, entity_id)
            ctx.heartbeat()
            if time.monotonic() >= deadline:
                ctx.hand_over({"acknowledge": True})
                return
    if status_follow_ups(ctx.task.flow_id, Task.Status.QUEUED).exclude(pk=ctx.task.pk).exists():
        ctx.hand_over({"acknowledge": True})  # what arrived meanwhile goes out at once


def acknowledge_order(ctx, source: OrderSource, entity_id: int) -> None:
    """Send one order status. The record is leased (not locked in an open transaction)
    while the call waits for the webshop's limit; a worker that dies leaves it to be sent again."""
    if not ctx.claim_synced(entity_id):
        return
    entity = Entity.objects.get(pk=entity_id)
    try:
        source.confirm_order(entity.source_id, document=entity.target_id)
    except SyncError as exc:
        ctx.release(entity)
        if not exc.permanent:
            raise  # the task retries the rest later
        Entity.objects.filter(pk=entity.pk).update(last_error_code=exc.code, last_error_message=exc.message[:2000])
        ctx.log(
            LogEntry.Level.ERROR,
            f"Invoice {entity.target_id} exists, but {source.name} refused the order status: {exc.message}",
            code=exc.code,
            hint=exc.hint,
            entity=entity,
        )
        ctx.failed += 1
        return
    Entity.objects.filter(pk=entity.pk).update(acknowledged_at=timezone.now(), lease_until=None, claimed_by_task=None)
    ctx.log(
        LogEntry.Level.EXPORTED,
        f"{source.name} told: order {entity.reference} Confirmed with invoice {entity.target_id}",
        code=ORDER_ACKNOWLEDGED.code,
        entity=entity,
    )
    ctx.succeeded += 1


def fetch_orders(ctx, settings: OrderFlowSettings, refs: list[str]) -> list[int]:
    """Fetch orders named by events and store them (unless already known)."""
    source = ctx.port(ORDER_SOURCE)
    ids = []
    for ref in refs:
        known = Entity.objects.filter(integration=ctx.integration, data_type=DATA_TYPE, source_id=str(ref)).first()
        if known is not None:
            ids.append(known.pk)
            continue
        raw = source.fetch_order(str(ref))
        order = source.read_order(raw, received_via="event", freight_articles=freight_articles(settings))
        entity, _ = store_order(
            integration=ctx.integration,
            source_id=order.source_id,
            payload=raw,
            received_via="event",
            reference=order.order_no,
            label=order.buyer.display_name,
        )
        ids.append(entity.pk)
    return ids


def poll_orders(ctx, settings: OrderFlowSettings, *, full: bool = False) -> None:
    """Fail-safe poll: store every order changed since the cursor (minus an overlap)."""
    integration = ctx.integration
    cursor = None if full else services.get_cursor(integration, DATA_TYPE, DIRECTION)
    since = (
        (cursor - timedelta(minutes=settings.poll_overlap_minutes))
        if cursor
        else (integration.order_exclusion_date or timezone.now() - timedelta(days=7))
    )
    started = timezone.now()
    source = ctx.port(ORDER_SOURCE)
    newest: datetime | None = None
    for polled in source.orders_changed_since(since, freight_articles=freight_articles(settings)):
        order = polled.order
        if order is None:
            error = polled.error or SyncError(ORDER_MALFORMED.code, "the order could not be read")
            ctx.log(
                LogEntry.Level.ERROR,
                f"Order from {source.name} could not be read: {error.message}",
                code=error.code,
                hint=error.hint,
                data_type=DATA_TYPE,
                reference=polled.reference,
            )
            continue
        entity, created = store_order(
            integration=integration,
            source_id=order.source_id,
            payload=polled.payload,
            received_via="poll",
            reference=order.order_no,
            label=order.buyer.display_name,
        )
        if created:
            ctx.log(
                LogEntry.Level.INFO,
                f"Order {order.order_no} found by the fail-safe poll (push and event missed)",
                code=ORDER_FOUND_BY_POLL.code,
                entity=entity,
            )
        stamp = polled.changed_at
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    # Every order up to here is stored (committed), so the cursor may pass them.
    services.advance_cursor(integration, DATA_TYPE, DIRECTION, min(newest, started) if newest else started)
