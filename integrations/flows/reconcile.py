"""Reconciliation: one live invoice per order, checked in the ERP itself."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.utils import timezone

from core.errors import ORDER_DUPLICATE_INVOICE, ORDER_RECONCILED
from core.ports import INVOICE_TARGET
from integrations import registry, services
from integrations.flows.order_records import DATA_TYPE, superseded_invoices
from integrations.flows.order_settings import OrderFlowSettings
from integrations.models import Entity, Flow, Integration, LogEntry, Reference, Task

RECONCILE = "reconcile"  # the cursor's direction (data type "order")
# An ERP's change stamp may have minute resolution and be compared as "changed after" (Fortnox's
# lastmodified): the window reaches back a little before the last run, so an invoice changed in
# that minute is read again.
RECONCILE_OVERLAP = timedelta(minutes=2)
# The first run (no cursor yet) reads a day back.
RECONCILE_FIRST_LOOKBACK = timedelta(days=1)
# Orders still being worked on hold the cursor back so their invoices are read again, but never
# longer than this: an order left without a reference for good does not pin it forever.
RECONCILE_MAX_HOLD = timedelta(hours=6)
IN_FLIGHT = (Entity.Status.PENDING, Entity.Status.PROCESSING, Entity.Status.FAILED)


def reconciliation_tasks(flow_id: int, statuses: list[str]):
    return Task.objects.filter(
        flow_id=flow_id, trigger=Task.Trigger.FOLLOW_UP, status__in=statuses, params__reconcile=True
    )


def queue_reconciliation(flow, *, at: datetime | None = None) -> Task | None:
    """Make sure a reconciliation is queued for the flow (at `at`, or sooner if one already is)."""
    if flow is None:
        return None
    queued = reconciliation_tasks(flow.pk, [Task.Status.QUEUED]).order_by("created_at").first()
    if queued is not None:
        return queued
    return services.create_task(
        integration=flow.integration, flow=flow, trigger=Task.Trigger.FOLLOW_UP, params={"reconcile": True}, at=at
    )


def invoice_target_systems() -> list[str]:
    return [key for key, system in registry.systems().items() if INVOICE_TARGET in system.capabilities]


def queue_due_reconciliations(*, every: timedelta | None = None) -> list[int]:
    """Queue a reconciliation for every active order flow whose last one is older than `every`
    (settings.BRYGGA["ORDER_RECONCILE_MINUTES"]); called by the sweeper each minute."""
    every = every or timedelta(minutes=float(django_settings.BRYGGA.get("ORDER_RECONCILE_MINUTES", 10)))
    if every <= timedelta(0):
        return []
    created: list[int] = []
    flows = (
        Flow.objects.filter(
            kind="orders_to_erp",
            enabled=True,
            integration__status=Integration.Status.ACTIVE,
            integration__connectors__role="erp",
            integration__connectors__system__in=invoice_target_systems(),
        )
        .select_related("integration")
        .distinct()
    )
    for flow in flows:
        latest = reconciliation_tasks(flow.pk, [s for s, _ in Task.Status.choices]).order_by("-created_at").first()
        if latest is not None and (
            latest.status in (Task.Status.QUEUED, Task.Status.RUNNING) or latest.created_at > timezone.now() - every
        ):
            continue
        task = queue_reconciliation(flow)
        if task is not None:
            created.append(task.pk)
    return created


def reconcile_invoices(ctx, settings: OrderFlowSettings) -> None:
    """Read every ERP invoice changed since the last run and flag each order that has more
    than one live invoice carrying its reference (an unclear create that committed late, a
    create by hand). The order goes to needs attention naming both invoices; staff credit the
    extra one from admin ("Credit the extra invoice"). Nothing is created or changed in the ERP."""
    integration = ctx.integration
    erp = ctx.port(INVOICE_TARGET)
    started = timezone.now()
    cursor = services.get_cursor(integration, DATA_TYPE, RECONCILE)
    since = (cursor - RECONCILE_OVERLAP) if cursor else started - RECONCILE_FIRST_LOOKBACK
    field, prefix = settings.reference_field, settings.reference_prefix
    numbers_by_order: dict[str, set[str]] = {}
    read = 0
    for invoice in erp.invoices_changed_since(since, reference_field=field, document=settings.document):
        read += 1
        value = invoice.reference
        if not value or (prefix and not value.startswith(prefix)) or not invoice.live:
            continue
        numbers_by_order.setdefault(value[len(prefix) :], set()).add(invoice.number)
    entities = {
        e.reference: e
        for e in Entity.objects.filter(
            integration=integration, data_type=DATA_TYPE, reference__in=list(numbers_by_order)
        )
    }
    linked = dict(
        Reference.objects.filter(
            integration=integration, data_type=DATA_TYPE, source_id__in=[e.source_id for e in entities.values()]
        ).values_list("source_id", "target_id")
    )
    held_back = False
    flagged = 0
    for order_no, numbers in sorted(numbers_by_order.items()):
        entity = entities.get(order_no)
        if entity is None:
            continue  # not an order of this integration (another shop, or made by hand)
        kept = linked.get(entity.source_id)
        if kept is None:
            if entity.status in IN_FLIGHT:
                held_back = True  # still being invoiced: read its invoices again next time
            continue
        left_behind = superseded_invoices(entity)
        if not (numbers - {kept} - left_behind):
            continue
        # The list said "another one": ask the ERP for the order's live invoices exactly.
        live = [
            i.number
            for i in erp.live_invoices(
                reference=f"{prefix}{order_no}", reference_field=field, document=settings.document
            )
        ]
        extra = [n for n in live if n != kept and n not in left_behind]
        if extra and flag_duplicate(ctx, entity=entity, kept=kept, extra=extra, live=live, erp=erp.name):
            flagged += 1
        ctx.heartbeat()
    if not held_back or cursor is None or started - cursor > RECONCILE_MAX_HOLD:
        services.advance_cursor(integration, DATA_TYPE, RECONCILE, started)
    ctx.log(
        LogEntry.Level.INFO,
        f"Reconciled {read} {erp.name} invoice(s) changed since "
        f"{timezone.localtime(since):%Y-%m-%d %H:%M}: {flagged} order(s) with an extra live invoice",
        code=ORDER_RECONCILED.code,
        data_type=DATA_TYPE,
        details={"read": read, "flagged": flagged},
    )


def flag_duplicate(ctx, *, entity: Entity, kept: str, extra: list[str], live: list[str], erp: str) -> bool:
    """Mark the order as needing attention with every live invoice named; once per extra set."""
    extra = sorted(set(extra), key=lambda n: (len(n), n))
    earlier = (
        LogEntry.objects.filter(entity=entity, code=ORDER_DUPLICATE_INVOICE.code)
        .order_by("-created_at", "-pk")
        .values_list("details", flat=True)
        .first()
    )
    if (
        earlier is not None
        and sorted((earlier or {}).get("extra") or []) == sorted(extra)
        and entity.last_error_code == ORDER_DUPLICATE_INVOICE.code
    ):
        return False
    several = len(extra) > 1
    message = (
        f"Order {entity.reference} has {len(extra) + 1} live invoices in {erp}: {kept} (linked) and "
        f"{', '.join(extra)} (extra)"
    )
    hint = (
        f"Open the order and press 'Credit the extra invoice' to cancel or credit invoice"
        f"{'s' if several else ''} {', '.join(extra)} in {erp}; invoice {kept} stays linked. Check in {erp} "
        "first that the customer was not sent or paid the extra one."
    )
    Entity.objects.filter(pk=entity.pk).update(
        status=Entity.Status.NEEDS_ATTENTION,
        last_error_code=ORDER_DUPLICATE_INVOICE.code,
        last_error_message=message[:2000],
    )
    ctx.log(
        LogEntry.Level.ERROR,
        message,
        code=ORDER_DUPLICATE_INVOICE.code,
        hint=hint,
        entity=entity,
        details={"kept": kept, "extra": extra, "live": live},
    )
    return True
