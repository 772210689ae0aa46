"""What staff do about an order's invoices: see them, ask for a new one anyway, credit an extra one."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import (
    ORDER_CREATE_ANYWAY,
    ORDER_CREDIT_UNCONFIRMED,
    ORDER_DUPLICATE_INVOICE,
    ORDER_EXTRA_CREDITED,
    SyncError,
    answer_lost,
)
from core.ports import INVOICE_TARGET, ORDER_SOURCE, InvoiceTarget
from core.records import Invoice
from integrations import services
from integrations.engine.clients import connector_for, port_for
from integrations.flows.order_records import (
    DATA_TYPE,
    order_reference,
    parse_settings_or_error,
    read_stored_order,
    superseded_invoices,
)
from integrations.flows.order_settings import OrderFlowSettings
from integrations.models import Entity, LogEntry, Reference, Task


def _ports(entity: Entity) -> tuple[OrderFlowSettings, str, InvoiceTarget]:
    """The flow's settings, the order's matching key and the ERP, for one stored order."""
    flow = services.flow_for(entity.integration, DATA_TYPE)
    settings = parse_settings_or_error(flow.settings if flow else {})
    source = port_for(connector_for(entity.integration_id, ORDER_SOURCE), ORDER_SOURCE)
    erp = port_for(connector_for(entity.integration_id, INVOICE_TARGET), INVOICE_TARGET)
    expected = order_reference(read_stored_order(source, entity, settings), settings)
    return settings, expected, erp


def live_invoices_for(*, entity_id: int) -> list[Invoice]:
    """The live ERP invoices carrying this order's reference, oldest first (for the confirmation page)."""
    entity = Entity.objects.select_related("integration").get(pk=entity_id, data_type=DATA_TYPE)
    settings, expected, erp = _ports(entity)
    return erp.live_invoices(reference=expected, reference_field=settings.reference_field, document=settings.document)


def request_new_invoice(*, entity_id: int, superseded: list[str], actor: str) -> Task | None:
    """Staff confirmed: create a new invoice for the order although `superseded` are live.

    Idempotent: while an equal request waits, pressing again queues nothing (None).
    Refused (ValueError) when the order is by now linked to an invoice the staff
    member was not shown, e.g. the one an earlier press created.
    """
    numbers = sorted({str(n).strip() for n in superseded if str(n).strip()})
    if not numbers:
        raise ValueError("No existing invoice was named; use 'Retry this record' instead")
    with transaction.atomic():
        entity = Entity.objects.select_for_update().get(pk=entity_id, data_type=DATA_TYPE)
        reference = Reference.objects.filter(
            integration_id=entity.integration_id, data_type=DATA_TYPE, source_id=entity.source_id
        ).first()
        if reference is not None and reference.target_id not in numbers:
            raise ValueError(
                f"Order {entity.reference} is now linked to invoice {reference.target_id}, not to "
                f"{', '.join(numbers)}; nothing was done. Reload the page to see the current invoices."
            )
        if reference is None and entity.status != Entity.Status.SYNCED:
            earlier = (
                LogEntry.objects.filter(entity=entity, code=ORDER_CREATE_ANYWAY.code)
                .order_by("-created_at", "-pk")
                .values_list("details", flat=True)
                .first()
            )
            if earlier is not None and set(numbers) <= {str(n) for n in (earlier or {}).get("superseded") or []}:
                return None  # the same request is already on its way
        if reference is not None:
            services.forget_references([reference], actor=actor)
        Entity.objects.filter(pk=entity.pk).update(
            status=Entity.Status.PENDING, last_error_code="", last_error_message=""
        )
        flow = services.flow_for(entity.integration, DATA_TYPE)
        # Queued when this transaction commits, so the task reads the line below.
        task = services.create_task(
            integration=entity.integration, flow=flow, trigger=Task.Trigger.RETRY, params={"entity_ids": [entity.pk]}
        )
        services.record_staff_action(
            entity=entity,
            code=ORDER_CREATE_ANYWAY.code,
            actor=actor,
            level=LogEntry.Level.WARNING,
            details={"superseded": numbers},
            task=task,
            message=f"{actor or 'Staff'} asked for a new invoice for order {entity.reference} although "
            f"{'invoice' if len(numbers) == 1 else 'invoices'} {', '.join(numbers)} "
            f"{'is' if len(numbers) == 1 else 'are'} live in "
            f"{connector_for(entity.integration_id, INVOICE_TARGET).get_system_display()}",
        )
        return task


def credit_extra_invoice(*, entity_id: int, number: str, actor: str) -> str:
    """Staff confirmed: cancel (unbooked) or credit (booked) the extra invoice `number` of an order.

    Idempotent: the invoice is read from the ERP first, and one already cancelled or credited is
    not touched again (pressing twice never makes a second credit). The row lock on the order
    serialises two presses at once. When the ERP's answer to the credit is lost, pressing again
    is refused until the connector's commit wait has passed, then the invoice is read back.
    Refused (ValueError) for the invoice the order is linked to, or one that does not carry
    the order's reference. Returns what was done.
    """
    number = str(number).strip()
    unclear: SyncError | None = None
    with transaction.atomic():
        entity = Entity.objects.select_for_update().select_related("integration").get(pk=entity_id, data_type=DATA_TYPE)
        reference = Reference.objects.filter(
            integration_id=entity.integration_id, data_type=DATA_TYPE, source_id=entity.source_id
        ).first()
        if reference is None:
            raise ValueError(f"Order {entity.reference} is linked to no invoice, so none is extra; nothing was done.")
        if reference.target_id == number:
            raise ValueError(f"Invoice {number} is the one order {entity.reference} is linked to; it is not credited.")
        settings, expected, erp = _ports(entity)
        last_unclear = (
            LogEntry.objects.filter(entity=entity, code=ORDER_CREDIT_UNCONFIRMED.code, details__invoice=number)
            .order_by("-created_at")
            .first()
        )
        if last_unclear is not None:
            ready = last_unclear.created_at + timedelta(seconds=erp.commit_wait)
            if ready > timezone.now():
                raise ValueError(
                    f"{erp.name} gave no clear answer to the credit of invoice {number} at "
                    f"{timezone.localtime(last_unclear.created_at):%H:%M:%S}; it may still be saving it. "
                    f"Press again after {timezone.localtime(ready):%H:%M:%S}: Brygga then reads the "
                    "invoice and credits it only if it is still live."
                )
        invoice = erp.get_invoice(number, reference_field=settings.reference_field, document=settings.document)
        if invoice.reference != expected:
            raise ValueError(
                f"Invoice {number} does not carry order {entity.reference}'s reference ({expected}); nothing was done."
            )
        done = ""
        try:
            if not invoice.live:
                done = "was already cancelled or credited"
            elif invoice.booked:
                credited = erp.credit_invoice(number)
                done = f"was credited by credit invoice {credited or '?'}"
            else:
                erp.cancel_invoice(number)
                done = "was cancelled (it was not booked yet)"
        except SyncError as exc:
            if not answer_lost(exc):
                raise
            unclear = exc
            services.record_staff_action(
                entity=entity,
                code=ORDER_CREDIT_UNCONFIRMED.code,
                actor=actor,
                level=LogEntry.Level.WARNING,
                details={"invoice": number, "error": exc.code},
                message=f"{actor or 'Staff'} pressed 'Credit the extra invoice' for {erp.name} invoice {number} "
                f"of order {entity.reference}, but {erp.name} gave no clear answer ({exc.message})",
            )
        if unclear is None:
            live = [
                i.number
                for i in erp.live_invoices(
                    reference=expected, reference_field=settings.reference_field, document=settings.document
                )
            ]
            remaining = [n for n in live if n != reference.target_id and n not in superseded_invoices(entity)]
            if not remaining and entity.last_error_code == ORDER_DUPLICATE_INVOICE.code:
                Entity.objects.filter(pk=entity.pk).update(
                    status=Entity.Status.SYNCED, last_error_code="", last_error_message=""
                )
            services.record_staff_action(
                entity=entity,
                code=ORDER_EXTRA_CREDITED.code,
                actor=actor,
                details={"invoice": number, "kept": reference.target_id, "outcome": done, "remaining": remaining},
                message=f"{actor or 'Staff'} pressed 'Credit the extra invoice': {erp.name} invoice {number} "
                f"of order {entity.reference} {done}; invoice {reference.target_id} stays linked"
                + (f"; still extra: {', '.join(remaining)}" if remaining else ""),
            )
    if unclear is not None:
        ready = timezone.now() + timedelta(seconds=erp.commit_wait)
        raise ValueError(
            f"{erp.name} gave no clear answer ({unclear.message}); it may still credit invoice {number}. "
            f"Press again after {timezone.localtime(ready):%H:%M:%S}: Brygga then reads the invoice "
            "and credits it only if it is still live."
        )
    return done
