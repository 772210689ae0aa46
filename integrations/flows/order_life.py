"""Deliveries, invoices and cancellations ERP → webshop: what became of each order in the ERP,
told to the webshop once per ERP document.

A run polls the fulfilment source since the flow's cursor (minus an overlap), or reads the
events a webhook named (`event_keys`), or works on named records (`entity_ids`: a retry).
Each event is stored on one Entity (data type "fulfilment", source id the event's key) before
anything is sent, then sent at the webshop's pace in slices of TASK_SLICE_SECONDS:

1. the webshop order is found through the orders flow (the ERP document the order is linked
   to, else the order key the document carries); a document of no webshop order, or of a
   document the order is no longer linked to (an extra invoice), is skipped;
2. it waits until the webshop was told the order is confirmed (that tells the webshop the
   ERP's number for it, which a delivery note names);
3. a send whose answer was lost is not repeated blindly: the webshop is asked whether it
   holds the record; when it cannot tell, a person decides (Retry this record sends it);
4. the send is marked (committed) before it goes out, and a Reference (event key → the
   ERP document, the webshop's note or invoice number) is saved when it is done.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import FLOW_SETTINGS, STAFF_ACTION, SyncError, answer_lost, register
from core.ports import FULFILMENT_SOURCE, ORDER_LIFE_TARGET, ORDER_SOURCE, FulfilmentSource, OrderLifeTarget
from core.records import Cancellation, Delivery, Invoiced, LifeRecord
from integrations import services
from integrations.flows import order_records
from integrations.flows.order_life_records import (
    DATA_TYPE,
    DIRECTION,
    KIND_NAMES,
    KIND_ORDER,
    store_event,
    stored_record,
)
from integrations.flows.order_life_settings import OrderLifeSettings, parse_settings
from integrations.flows.order_settings import OrderFlowSettings
from integrations.flows.order_settings import parse_settings as parse_order_settings
from integrations.models import Entity, LogEntry, Reference, Task

ORDER = order_records.DATA_TYPE
# How long a record waits for its order's confirmation before it looks again.
CONFIRMATION_RECHECK_SECONDS = 30

SENT = register("order_life.sent", "The webshop was told", "Nothing to do.", info=True)
ALREADY_HELD = register(
    "order_life.already_held",
    "The webshop already held it (an earlier send whose answer was lost had landed)",
    "Nothing to do: it was not sent again.",
    info=True,
)
NO_ORDER = register(
    "order_life.no_order",
    "The ERP document belongs to no webshop order Brygga knows",
    "Nothing to do for documents made in the ERP by hand. If it is a webshop order's, check that its "
    "reference field carries the order's key (the orders flow's reference_field and reference_prefix), "
    "then press Retry this record.",
    info=True,
)
SUPERSEDED = register(
    "order_life.superseded",
    "The ERP document is not the one the order is linked to",
    "Nothing to do: an extra or replaced invoice (e.g. after 'Create a new invoice anyway' or 'Credit the "
    "extra invoice') says nothing about the order; the document the order is linked to is told.",
    info=True,
)
KIND_OFF = register(
    "order_life.kind_not_sent",
    "The flow does not send this kind of record",
    "Add it to the flow's 'send' setting (deliveries, invoices, cancellations), then press Retry this record.",
    info=True,
)
WAITS_FOR_CONFIRMATION = register(
    "order_life.waits_for_confirmation",
    "Waiting until the webshop was told the order is confirmed",
    "Nothing to do: it goes on once the orders flow has sent the order's status (at the webshop's pace).",
    info=True,
)
DOCUMENT_GONE = register(
    "order_life.document_gone",
    "The ERP document is gone or no longer what it was read as",
    "Nothing to do: what the document is now (e.g. cancelled instead of invoiced) is read as its own event.",
    info=True,
)
NOT_LINKED = register(
    "order_life.order_not_linked",
    "The webshop order has no ERP document linked yet",
    "Transient: the orders flow links the order's invoice (it may be waiting for the ERP to commit it); this "
    "record is retried. If it stays, look at the order's record.",
    permanent=False,
)
SEND_UNCONFIRMED = register(
    "order_life.send_unconfirmed",
    "An earlier send got no clear answer and the webshop cannot tell whether it holds the record",
    "Look at the order in the webshop's admin. If the delivery note or invoice named in the message is there, "
    "add a Reference (data type fulfilment, this record's source id → the document) so it is never sent "
    "again; if it is not there, press 'Retry this record': a retry by a person sends it once.",
)


def parse_settings_or_error(raw) -> OrderLifeSettings:
    try:
        return parse_settings(raw)
    except ValueError as exc:
        raise SyncError(FLOW_SETTINGS.code, f"Deliveries, invoices and cancellations flow settings: {exc}") from exc


def run(task: Task, ctx) -> None:
    """Run the flow for a task: `entity_ids` (retries), `event_keys` (a webhook named events),
    `pending` (a slice handed over), else a poll since the cursor (`mode` "full": everything)."""
    settings = parse_settings_or_error(task.flow.settings)
    params = task.params or {}
    life = OrderLife(ctx, settings)
    if params.get("entity_ids"):
        todo = [int(i) for i in params["entity_ids"]]
    elif params.get("event_keys"):
        todo = life.read_named([str(key) for key in params["event_keys"]])
    elif params.get("pending"):
        todo = services.pending_entity_ids(ctx.integration, DATA_TYPE)
    else:
        life.poll(full=params.get("mode") == "full")
        todo = services.pending_entity_ids(ctx.integration, DATA_TYPE)
    life.send_all(todo)


class OrderLife:
    """Read the ERP's events and tell the webshop each once."""

    def __init__(self, ctx, settings: OrderLifeSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.integration = ctx.integration
        self.orders = self._order_settings()

    def _order_settings(self) -> OrderFlowSettings:
        """The orders flow's settings: where it wrote the order's key, and whether it tells the
        webshop the order is confirmed."""
        flow = services.flow_for(self.integration, ORDER)
        try:
            return parse_order_settings(flow.settings if flow else None)
        except ValueError:
            return OrderFlowSettings()

    @property
    def source(self) -> FulfilmentSource:
        return self.ctx.port(FULFILMENT_SOURCE)

    @property
    def target(self) -> OrderLifeTarget:
        return self.ctx.port(ORDER_LIFE_TARGET)

    # reading -------------------------------------------------------------------------
    def poll(self, *, full: bool = False) -> None:
        """Store every event changed since the cursor (minus the overlap); then move the cursor."""
        cursor = None if full else services.get_cursor(self.integration, DATA_TYPE, DIRECTION)
        if cursor is not None:
            since = cursor - timedelta(minutes=self.settings.poll_overlap_minutes)
        elif full:
            since = None
        else:
            # A new flow tells what happens from now on (and the day before), not the ERP's whole
            # history; move the cursor back in admin to tell older documents too.
            since = self.integration.order_exclusion_date or (self.ctx.task.flow.created_at - timedelta(days=1))
        started = timezone.now()
        events = self.source.life_events(
            since,
            kinds=self.settings.kinds,
            reference_field=self.orders.reference_field,
            invoice_when=self.settings.invoice_when,
        )
        for event in events:
            store_event(flow=self.ctx.task.flow, event=event)
            self.ctx.heartbeat()
        services.advance_cursor(self.integration, DATA_TYPE, DIRECTION, started)

    def read_named(self, keys: list[str]) -> list[int]:
        """The events a webhook named, read as the ERP holds them now; a key already told is
        not read again (a replayed notice)."""
        ids = []
        for key in keys:
            known = Entity.objects.filter(integration=self.integration, data_type=DATA_TYPE, source_id=key).first()
            if known is not None and known.status in (Entity.Status.SYNCED, Entity.Status.SKIPPED):
                continue
            event = self.source.life_event(
                key, reference_field=self.orders.reference_field, invoice_when=self.settings.invoice_when
            )
            if event is None:
                # A notice names a record that has nothing to tell (yet): a sales order changed
                # but not cancelled, an invoice not yet released. Only a record Brygga knew and
                # did not tell is worth a line: it is gone from the ERP.
                if known is not None:
                    self.ctx.log(
                        LogEntry.Level.INFO,
                        f"{self.source.name} has no delivery, invoice or cancellation {key} (any more)",
                        code=DOCUMENT_GONE.code,
                        data_type=DATA_TYPE,
                        reference=key,
                    )
                continue
            entity, _ = store_event(flow=self.ctx.task.flow, event=event)
            ids.append(entity.pk)
        return ids

    # sending -------------------------------------------------------------------------
    def send_all(self, ids: list[int]) -> None:
        """Send in the order an order lives (deliveries, invoices, cancellations), for one slice."""
        kinds = dict(Entity.objects.filter(pk__in=ids).values_list("pk", "payload__kind"))
        todo = sorted(set(ids) & set(kinds), key=lambda pk: (KIND_ORDER.get(kinds[pk], 9), pk))
        deadline = time.monotonic() + services.slice_seconds()
        for position, entity_id in enumerate(todo):
            self.process(entity_id)
            self.ctx.heartbeat()
            if time.monotonic() >= deadline and position + 1 < len(todo):
                self.ctx.hand_over({"pending": True})
                return

    def process(self, entity_id: int) -> None:
        self.ctx.process_claimed(entity_id, self._process, what="fulfilment record")

    def _process(self, entity: Entity) -> None:
        told = Reference.objects.filter(
            integration=self.integration, data_type=DATA_TYPE, source_id=entity.source_id
        ).first()
        if told is not None:
            self._settle(entity)
            Entity.objects.filter(pk=entity.pk).update(target_id=told.target_id, synced_at=timezone.now())
            self.ctx.skip(
                entity,
                f"{entity.label or entity.source_id} was already told to {self.target.name} ({told.target_id})",
                code=ALREADY_HELD.code,
                status=Entity.Status.SYNCED,
            )
            return
        kind, record = self._record(entity)
        if record is None:
            return
        if kind not in self.settings.kinds:
            self.ctx.skip(
                entity,
                f"{entity.label}: the flow does not send {KIND_NAMES.get(kind, kind).lower()}s",
                code=KIND_OFF.code,
            )
            return
        source_id = self._webshop_order(entity, record)
        if source_id is None:
            return
        if entity.create_unconfirmed_at is not None and self._held_already(entity, record, source_id):
            self._save_reference(entity, record)
            self.ctx.succeed(
                entity,
                f"{self.target.name} already held {entity.label} of order {source_id}; it was not sent again",
                target_id=record.document,
                code=ALREADY_HELD.code,
            )
            return
        kept = self._send(entity, record, source_id)
        self._save_reference(entity, record)
        self.ctx.succeed(
            entity,
            f"{self.target.name} told: order {source_id} — {self._describe(record)}",
            target_id=record.document,
            code=SENT.code,
        )
        if kept is not None:
            self.ctx.log(LogEntry.Level.WARNING, kept.message, code=kept.code, hint=kept.hint, entity=entity)

    def _record(self, entity: Entity) -> tuple[str, LifeRecord | None]:
        """The stored record; a document that could not be read is read again when retried
        (it may have been corrected in the ERP), and still failing it fails the record."""
        kind, record, error = stored_record(entity)
        if error is None:
            return kind, record
        if entity.attempts > 1:
            event = self.source.life_event(
                entity.source_id, reference_field=self.orders.reference_field, invoice_when=self.settings.invoice_when
            )
            if event is None:
                self.ctx.skip(
                    entity,
                    f"{entity.label}: {self.source.name} no longer holds it as it was read",
                    code=DOCUMENT_GONE.code,
                )
                return kind, None
            entity, _ = store_event(flow=self.ctx.task.flow, event=event)
            if event.record is not None:
                return event.kind, event.record
            error = event.error
        assert error is not None
        raise error

    def _webshop_order(self, entity: Entity, record: LifeRecord) -> str | None:
        """The webshop's key of the order (ClientOrderRef), or None when the record was skipped
        or waits (then that is done here)."""
        order = None
        if record.erp_order:
            link = Reference.objects.filter(integration=self.integration, data_type=ORDER, target_id=record.erp_order)
            linked = link.first()
            if linked is not None:
                order = Entity.objects.filter(
                    integration=self.integration, data_type=ORDER, source_id=linked.source_id
                ).first()
                if order is None:
                    return linked.source_id
        if order is None:
            order = self._order_by_key(record.order_reference)
            if order is None:
                self.ctx.skip(
                    entity,
                    f"{entity.label} ({record.order_reference or 'no order key'}) belongs to no webshop order "
                    f"Brygga knows; nothing was told",
                    code=NO_ORDER.code,
                )
                return None
            kept = Reference.objects.filter(integration=self.integration, data_type=ORDER, source_id=order.source_id)
            linked_document = next(iter(kept.values_list("target_id", flat=True)), "") or order.target_id
            if not linked_document:
                raise SyncError(
                    NOT_LINKED.code,
                    f"Order {order.reference} has no {self.source.name} document linked yet",
                    retry_after=60,
                )
            if record.erp_order and linked_document != record.erp_order:
                self.ctx.skip(
                    entity,
                    f"{entity.label} is not the document order {order.reference} is linked to "
                    f"({linked_document}); nothing was told",
                    code=SUPERSEDED.code,
                )
                return None
        if self._waits_for_confirmation(entity, order):
            return None
        return order.source_id

    def _order_by_key(self, order_reference: str) -> Entity | None:
        key = order_reference.strip()
        prefix = self.orders.reference_prefix
        if prefix and key.startswith(prefix):
            key = key[len(prefix) :]
        if not key:
            return None
        orders = Entity.objects.filter(integration=self.integration, data_type=ORDER)
        return orders.filter(reference=key).order_by("pk").first() or orders.filter(source_id=key).first()

    def _waits_for_confirmation(self, entity: Entity, order: Entity) -> bool:
        if not self.orders.send_status_to_commerce or order.acknowledged_at is not None:
            return False
        if order.last_error_code in self.ctx.port(ORDER_SOURCE).refused_status_codes:
            return False  # the status was refused for good: waiting would be for ever
        self.ctx.wait(
            entity,
            seconds=CONFIRMATION_RECHECK_SECONDS,
            code=WAITS_FOR_CONFIRMATION.code,
            message=f"{entity.label}: waits until {self.target.name} was told order {order.reference} is confirmed",
        )
        return True

    def _held_already(self, entity: Entity, record: LifeRecord, source_id: str) -> bool:
        """After a send with no clear answer: True when the webshop holds the record, False when
        it may be sent. When the webshop cannot tell, only a person's retry sends it."""
        held = self.target.already_told(record, source_id=source_id)
        if held is not None:
            return held
        mark = entity.create_unconfirmed_at
        if self._person_retried(entity, mark):
            return False
        raise SyncError(
            SEND_UNCONFIRMED.code,
            f"{entity.label} of order {source_id} was sent to {self.target.name} at "
            f"{timezone.localtime(mark):%Y-%m-%d %H:%M:%S} without a clear answer, and "
            f"{self.target.name} cannot tell whether it holds it; it is not sent again by itself",
            permanent=True,
        )

    def _person_retried(self, entity: Entity, mark) -> bool:
        """A person pressed Retry this record (or retried the task) after the unclear send."""
        task = self.ctx.task
        if task.trigger == Task.Trigger.RETRY and task.created_at > mark:
            return True
        return LogEntry.objects.filter(entity=entity, code=STAFF_ACTION.code, created_at__gt=mark).exists()

    def _send(self, entity: Entity, record: LifeRecord, source_id: str) -> SyncError | None:
        """Send once, the intent marked (committed) first: a worker killed mid-call, or an answer
        lost, leaves the mark, and the next attempt asks the webshop before sending again.

        Returns the error of a follow-up that failed after the webshop kept the record
        (details `record_kept`), to be logged; the record itself is told."""
        now = timezone.now()
        Entity.objects.filter(pk=entity.pk).update(create_started_at=now, create_unconfirmed_at=now)
        entity.create_started_at = entity.create_unconfirmed_at = now
        try:
            if isinstance(record, Delivery):
                self.target.send_delivery(record, source_id=source_id, set_status=self.settings.set_delivery_status)
            elif isinstance(record, Invoiced):
                self.target.send_invoice(record, source_id=source_id, suppress_psp_call=self.settings.suppress_psp_call)
            else:
                self.target.send_cancellation(record, source_id=source_id)
        except SyncError as exc:
            if exc.details.get("record_kept"):
                self._settle(entity)
                return exc
            if not answer_lost(exc):
                self._settle(entity)
                raise
            raise SyncError(
                exc.code,
                f"{exc.message}. {self.target.name} may hold {entity.label} already: before sending it again "
                f"Brygga asks {self.target.name}",
                hint=exc.hint,
                permanent=False,
                retry_after=exc.retry_after,
                status=exc.status,
                details={**exc.details, "send_unconfirmed": True},
            ) from exc
        self._settle(entity)
        return None

    def _settle(self, entity: Entity) -> None:
        if entity.create_unconfirmed_at is not None:
            Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
            entity.create_unconfirmed_at = None

    def _save_reference(self, entity: Entity, record: LifeRecord) -> None:
        try:
            with transaction.atomic():
                Reference.objects.create(
                    integration=self.integration,
                    data_type=DATA_TYPE,
                    source_id=entity.source_id,
                    target_id=record.document[:100],
                )
        except IntegrityError:
            pass  # saved by an earlier attempt of this same record

    @staticmethod
    def _describe(record: LifeRecord) -> str:
        if isinstance(record, Delivery):
            parcels = f", parcels {', '.join(record.parcels)}" if record.parcels else ""
            state = "delivered" if record.complete else "partly delivered"
            return f"delivery note {record.document} ({state} {record.delivered_on}{parcels})"
        if isinstance(record, Invoiced):
            return f"invoice {record.document}, {record.total} {record.currency} ({len(record.lines)} lines)"
        assert isinstance(record, Cancellation)
        return f"cancelled ({record.document})"
