"""Orders → ERP invoices: push, event and poll store orders; each becomes exactly one
invoice; a follow-up task tells Norce."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookkeeping.vat import check_line_vat
from connectors.fortnox.client import invoice_is_live
from connectors.fortnox.errors import ARTICLE_NOT_FOUND
from connectors.fortnox.mapping import customer_payload, invoice_matches_order, invoice_payload, order_reference
from connectors.norce.errors import ORDER_NOT_FOUND
from connectors.norce.mapping import order_from_query, order_from_request
from core.errors import (
    CONNECTOR_MISSING,
    FLOW_SETTINGS,
    ORDER_ACKNOWLEDGED,
    ORDER_ALREADY_SYNCED,
    ORDER_CREATE_ANYWAY,
    ORDER_CREATE_UNCONFIRMED,
    ORDER_CREDIT_UNCONFIRMED,
    ORDER_DUPLICATE_INVOICE,
    ORDER_DUPLICATE_TARGET,
    ORDER_EXCLUDED,
    ORDER_EXTRA_CREDITED,
    ORDER_FOUND_BY_POLL,
    ORDER_INVOICE_FOUND,
    ORDER_INVOICED,
    ORDER_MISSING_DATA,
    ORDER_RECONCILED,
    ORDER_RELINKED,
    ORDER_TOTAL_MISMATCH,
    ORDER_VAT_ROUNDING,
    TASK_BUSY,
    UNEXPECTED,
    SyncError,
    answer_lost,
)
from core.records import Order, Party
from integrations import services
from integrations.engine.clients import client_for
from integrations.flows.order_settings import OrderFlowSettings, parse_settings
from integrations.models import Entity, Flow, Integration, LogEntry, Reference, Task

log = logging.getLogger("brygga.flows.orders")

DATA_TYPE = "order"
DIRECTION = "commerce_to_erp"
CUSTOMER = "order_customer"


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def store_order(
    *,
    integration: Integration,
    source_id: str,
    payload: dict[str, Any],
    received_via: str,
    reference: str = "",
    label: str = "",
) -> tuple[Entity, bool]:
    """Keep an order durably (idempotent on its source id). Returns (entity, created).

    A pushed OrderRequest is richer than a Query 2.0 order (it carries UnitVat), so it
    replaces a polled payload on a record that is not yet synced; nothing else does.
    """
    digest = payload_hash(payload)
    entity, created = Entity.objects.get_or_create(
        integration=integration,
        data_type=DATA_TYPE,
        source_id=source_id,
        defaults={
            "payload": payload,
            "payload_hash": digest,
            "received_via": received_via,
            "reference": reference or source_id,
            "label": label[:200],
        },
    )
    if (
        not created
        and received_via == "push"
        and entity.received_via != "push"
        and entity.status != Entity.Status.SYNCED
    ):
        Entity.objects.filter(pk=entity.pk).update(payload=payload, payload_hash=digest, received_via="push")
        entity.payload, entity.received_via = payload, "push"
    return entity, created


def query_options(connector, settings: OrderFlowSettings) -> dict[str, Any]:
    """Tenant-specific lookups for reading Query 2.0 orders, from the Norce connector's settings."""
    options: dict[str, Any] = {}
    for key in ("currency_ids", "country_ids"):
        if connector.settings.get(key):
            options[key] = connector.settings[key]
    freight = [p for p in [settings.freight_article, *connector.settings.get("freight_part_nos", [])] if p]
    if freight:
        options["freight_part_nos"] = freight
    return options


def parse_order(entity: Entity, options: dict[str, Any]) -> Order:
    if entity.received_via == "push":
        return order_from_request(entity.payload)
    return order_from_query(entity.payload, **options)


def run(task: Task, ctx) -> None:
    """Run the orders flow for a task.

    A task names its orders (`entity_ids` from a push or a retry, `fetch_refs` from
    events) or polls Norce since the cursor and then works through every order still
    waiting (pending, or failed and due for a retry); a scheduled poll leaves that work to
    a follow-up (`pending`). A follow-up task (`acknowledge`) tells Norce about invoiced
    orders at Norce's own pace.
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
    if settings.send_status_to_norce and unacknowledged(ctx.integration).exists():
        queue_acknowledgements(task)


def unacknowledged(integration: Integration):
    """Invoiced orders Norce has not been told about (and not refused for good)."""
    return (
        Entity.objects.filter(
            integration=integration, data_type=DATA_TYPE, status=Entity.Status.SYNCED, acknowledged_at__isnull=True
        )
        .exclude(target_id="")
        .exclude(last_error_code="norce.status_rejected")
    )


def status_follow_ups(flow_id: int, status: str):
    """The flow's follow-up tasks that send order statuses, in `status`."""
    return Task.objects.filter(flow_id=flow_id, trigger=Task.Trigger.FOLLOW_UP, status=status, params__acknowledge=True)


def queue_acknowledgements(task: Task) -> None:
    """Make sure one follow-up task is waiting to send order statuses to Norce.

    Norce Connect allows 60 requests a minute, Fortnox about five times that; sending
    statuses apart from invoicing keeps invoices flowing at Fortnox's pace while the
    statuses follow at Norce's.
    """
    if not status_follow_ups(task.flow_id, Task.Status.QUEUED).exists():
        services.create_task(
            integration=task.integration, flow=task.flow, trigger=Task.Trigger.FOLLOW_UP, params={"acknowledge": True}
        )


def acknowledge_orders(ctx, settings: OrderFlowSettings, *, batch: int = 100) -> None:
    """Send `Confirmed` with the invoice number for every invoiced, unacknowledged order.

    One follow-up task runs per flow at a time, so a second one never ties up another
    worker waiting on Norce's limit. It sends for one slice (`TASK_SLICE_SECONDS`, well
    under the queue's timeout) and then hands over to a new task that starts the moment
    this one's row is finished; so does a follow-up that waited for it.
    """
    if status_follow_ups(ctx.task.flow_id, Task.Status.RUNNING).exclude(pk=ctx.task.pk).exists():
        raise SyncError(TASK_BUSY.code, "Another follow-up task is sending order statuses", retry_after=5)
    norce = ctx.client("commerce")
    # Order statuses may use the whole Connect window (60 a minute), including the requests a
    # long import may not touch (CONNECT_PRIORITY_RESERVE): they are what that reserve is for.
    norce.priority = True
    deadline = time.monotonic() + services.slice_seconds()
    while True:
        ids = list(unacknowledged(ctx.integration).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        for entity_id in ids:
            acknowledge_order(ctx, norce, entity_id)
            ctx.heartbeat()
            if time.monotonic() >= deadline:
                ctx.hand_over({"acknowledge": True})
                return
    if status_follow_ups(ctx.task.flow_id, Task.Status.QUEUED).exclude(pk=ctx.task.pk).exists():
        ctx.hand_over({"acknowledge": True})  # what arrived meanwhile goes out at once


def acknowledge_order(ctx, norce, entity_id: int) -> None:
    """Send one order status. The record is leased (not locked in an open transaction)
    while the call waits for Norce's limit; a worker that dies leaves it to be sent again."""
    if not ctx.claim_synced(entity_id):
        return
    entity = Entity.objects.get(pk=entity_id)
    try:
        norce.send_order_status(entity.source_id, erp_order_no=entity.target_id, status="Confirmed")
    except SyncError as exc:
        ctx.release(entity)
        if not exc.permanent:
            raise  # the task retries the rest later
        Entity.objects.filter(pk=entity.pk).update(last_error_code=exc.code, last_error_message=exc.message[:2000])
        ctx.log(
            LogEntry.Level.ERROR,
            f"Invoice {entity.target_id} exists, but Norce refused the order status: {exc.message}",
            code=exc.code,
            hint=exc.hint,
            entity=entity,
        )
        ctx.failed += 1
        return
    Entity.objects.filter(pk=entity.pk).update(acknowledged_at=timezone.now(), lease_until=None, claimed_by_task=None)
    ctx.log(
        LogEntry.Level.EXPORTED,
        f"Norce told: order {entity.reference} Confirmed with invoice {entity.target_id}",
        code=ORDER_ACKNOWLEDGED.code,
        entity=entity,
    )
    ctx.succeeded += 1


def parse_settings_or_error(raw: dict[str, Any] | None) -> OrderFlowSettings:
    try:
        return parse_settings(raw)
    except ValueError as exc:
        raise SyncError(FLOW_SETTINGS.code, f"Orders flow settings: {exc}") from exc


def fetch_orders(ctx, settings: OrderFlowSettings, refs: list[str]) -> list[int]:
    """Fetch orders named by events through Query 2.0 and store them (unless already known)."""
    norce = ctx.client("commerce")
    options = query_options(norce.connector, settings)
    ids = []
    for ref in refs:
        known = Entity.objects.filter(integration=ctx.integration, data_type=DATA_TYPE, source_id=str(ref)).first()
        if known is not None:
            ids.append(known.pk)
            continue
        raw = norce.get_order(str(ref))
        if raw is None:
            raise SyncError(ORDER_NOT_FOUND.code, f"Order {ref} is not (yet) in Norce's Query API", permanent=False)
        order = order_from_query(raw, **options)
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
    norce = ctx.client("commerce")
    options = query_options(norce.connector, settings)
    newest: datetime | None = None
    for raw in norce.orders_since(since):
        try:
            order = order_from_query(raw, **options)
        except SyncError as exc:
            ctx.log(
                LogEntry.Level.ERROR,
                f"Order from Query could not be read: {exc.message}",
                code=exc.code,
                hint=exc.hint,
                data_type=DATA_TYPE,
                reference=str(raw.get("OrderNo") or raw.get("Id") or ""),
            )
            continue
        entity, created = store_order(
            integration=integration,
            source_id=order.source_id,
            payload=raw,
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
        stamp = _order_stamp(raw)
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    # Every order up to here is stored (committed), so the cursor may pass them.
    services.advance_cursor(integration, DATA_TYPE, DIRECTION, min(newest, started) if newest else started)


def _order_stamp(raw: dict[str, Any]) -> datetime | None:
    value = raw.get("Updated") or raw.get("Created")
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class OrderPipeline:
    """Turn one stored order into exactly one ERP invoice (the follow-up task tells Norce)."""

    def __init__(self, ctx, settings: OrderFlowSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.integration: Integration = ctx.integration
        self._erp = None
        self._query_options: dict[str, Any] | None = None
        # When to look again for an extra invoice (set when an order was invoiced after an
        # unclear create of its own, which may still commit).
        self.recheck_at: datetime | None = None

    @property
    def erp(self):
        if self._erp is None:
            self._erp = self.ctx.client("erp")
        return self._erp

    def process(self, entity_id: int) -> None:
        entity = self.ctx.claim(entity_id)
        if entity is None:
            return  # another worker holds it, or it is already done
        try:
            self._process(entity)
        except SyncError as exc:
            self.ctx.fail(entity, exc)
        except Exception as exc:  # noqa: BLE001 - one bad order never blocks the others
            log.exception("order %s crashed", entity.reference)
            self.ctx.fail(entity, SyncError(UNEXPECTED.code, f"{type(exc).__name__}: {exc}"))

    def _process(self, entity: Entity) -> None:
        existing = Reference.objects.filter(
            integration=self.integration, data_type=DATA_TYPE, source_id=entity.source_id
        ).first()
        if (
            existing is not None
            and entity.last_error_code == "order.duplicate_invoice"
            and self._still_invoiced_twice(entity, existing.target_id)
        ):
            return
        if existing is not None:
            Entity.objects.filter(pk=entity.pk).update(
                target_id=existing.target_id, synced_at=entity.synced_at or timezone.now()
            )
            self.ctx.skip(
                entity,
                f"Order {entity.reference} already has invoice {existing.target_id}",
                code=ORDER_ALREADY_SYNCED.code,
                status=Entity.Status.SYNCED,
            )
            return
        if self._waits_for_commit(entity):
            return
        if self._query_options is None:
            self._query_options = query_options(self.ctx.connector("commerce"), self.settings)
        order = parse_order(entity, self._query_options)
        exclusion = self.integration.order_exclusion_date
        if exclusion and order.placed_at and order.placed_at < exclusion:
            self.ctx.skip(
                entity,
                f"Order {order.order_no} was placed {order.placed_at:%Y-%m-%d %H:%M}, before the "
                f"integration's exclusion date",
                code=ORDER_EXCLUDED.code,
            )
            return
        for line in order.lines:
            check_line_vat(line)
        invoice = self._find_earlier_invoice(entity, order)
        if invoice is not None:
            number = str(invoice["DocumentNumber"])
            self._save_reference(entity, number, origin=Reference.Origin.LOOKUP)
            self._check_totals(entity, order, invoice)
            self.ctx.succeed(
                entity,
                f"Order {order.order_no} linked to Fortnox invoice {number}",
                target_id=number,
                code=ORDER_INVOICED.code,
            )
            return
        customer_number = self._customer_number(order.buyer, order)
        had_unclear_create = entity.create_started_at is not None
        invoice = self._create_invoice(entity, order, customer_number)
        number = str(invoice["DocumentNumber"])
        self._save_reference(entity, number)
        if had_unclear_create:
            at = timezone.now() + timedelta(seconds=self.erp.commit_wait)
            self.recheck_at = at if self.recheck_at is None else max(self.recheck_at, at)
        self._check_totals(entity, order, invoice)
        self.ctx.succeed(
            entity, f"Order {order.order_no} → Fortnox invoice {number}", target_id=number, code=ORDER_INVOICED.code
        )

    # exactly once ------------------------------------------------------------------
    def _still_invoiced_twice(self, entity: Entity, kept: str) -> bool:
        """A retry of an order flagged as invoiced twice: it stays flagged while the extra invoice
        is live (only crediting it, or Fortnox, clears the flag), so a retry never hides it."""
        if self._query_options is None:
            self._query_options = query_options(self.ctx.connector("commerce"), self.settings)
        order = parse_order(entity, self._query_options)
        left_behind = superseded_invoices(entity)
        live = [
            str(i.get("DocumentNumber"))
            for i in self.erp.live_invoices(self.settings.reference_field, order_reference(order, self.settings))
        ]
        extra = [n for n in live if n != kept and n not in left_behind]
        if not extra:
            return False
        details = duplicate_details(entity) or {}
        self.ctx.fail(
            entity,
            SyncError(
                ORDER_DUPLICATE_INVOICE.code,
                f"Order {entity.reference} still has {len(extra) + 1} live invoices in Fortnox: "
                f"{kept} (linked) and {', '.join(extra)} (extra)",
                hint=f"Press 'Credit the extra invoice' on the order to cancel or credit {', '.join(extra)}; "
                f"invoice {kept} stays linked.",
                details={**details, "kept": kept, "extra": extra, "live": live},
            ),
        )
        return True

    def _waits_for_commit(self, entity: Entity) -> bool:
        """An earlier create of this order got no clear answer and the ERP may still be
        committing it: until its commit wait has passed, a lookup cannot be trusted to
        show it, so the record waits (no attempt spent) instead of looking or creating."""
        if entity.create_unconfirmed_at is None:
            return False
        ready = entity.create_unconfirmed_at + timedelta(seconds=self.erp.commit_wait)
        remaining = (ready - timezone.now()).total_seconds()
        if remaining <= 0:
            return False
        self.ctx.wait(
            entity,
            seconds=remaining,
            code=ORDER_CREATE_UNCONFIRMED.code,
            message=f"Order {entity.reference}: the invoice create sent at "
            f"{timezone.localtime(entity.create_unconfirmed_at):%H:%M:%S} got no clear answer and "
            f"Fortnox may still be saving it; nothing is created for the order before "
            f"{timezone.localtime(ready):%H:%M:%S}, when Brygga looks it up first",
        )
        return True

    def _find_earlier_invoice(self, entity: Entity, order: Order) -> dict[str, Any] | None:
        """A live invoice for the order already in Fortnox, to link instead of creating one.

        Every record without a reference is looked up, except a brand-new one: the
        first attempt at an order Brygga never started invoicing and never linked
        (no create mark, no earlier attempt, no deleted reference) cannot have an
        invoice made by Brygga, and skipping the lookup keeps an order at one
        Fortnox call. Invoices staff chose to leave behind ("Create a new invoice
        anyway") are not linked again.
        """
        if not self.settings.look_up_new_orders and not may_have_invoice(entity):
            return None
        live = self.erp.live_invoices(self.settings.reference_field, order_reference(order, self.settings))
        left_behind = superseded_invoices(entity)
        found = next((invoice for invoice in live if str(invoice.get("DocumentNumber")) not in left_behind), None)
        if found is None:
            return None
        number = found.get("DocumentNumber")
        if entity.create_started_at is not None:
            self.ctx.log(
                LogEntry.Level.INFO,
                f"Invoice {number} for order {order.order_no} already existed in "
                "Fortnox (an earlier attempt created it); it was linked, not created again",
                code=ORDER_INVOICE_FOUND.code,
                entity=entity,
            )
        else:
            self.ctx.log(
                LogEntry.Level.INFO,
                f"Order {order.order_no} had no reference, but Fortnox has live invoice "
                f"{number} for it ({_invoice_summary(found)}); it was linked again and no invoice was "
                "created",
                code=ORDER_RELINKED.code,
                entity=entity,
                details={"invoice": str(number)},
            )
        return found

    def _create_invoice(self, entity: Entity, order: Order, customer_number: str) -> dict[str, Any]:
        payload = invoice_payload(order, customer_number=customer_number, settings=self.settings)
        try:
            return self._post_invoice(entity, payload)
        except SyncError as exc:
            if exc.code == "fortnox.article_not_found":
                return self._handle_unknown_article(entity, order, customer_number, exc)
            raise

    def _post_invoice(self, entity: Entity, payload: dict[str, Any]) -> dict[str, Any]:
        """POST one invoice, with the intent written (committed) first.

        If we die, or the answer is lost, after Fortnox created the invoice, the next attempt
        sees the marks: it waits out the commit wait, then looks the invoice up instead of
        creating one. A clear answer (created, or refused) clears the unconfirmed mark.
        """
        now = timezone.now()
        Entity.objects.filter(pk=entity.pk).update(create_started_at=now, create_unconfirmed_at=now)
        entity.create_started_at = entity.create_unconfirmed_at = now
        try:
            invoice = self.erp.create_invoice(payload)
        except SyncError as exc:
            if not answer_lost(exc):
                Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
                entity.create_unconfirmed_at = None
                raise
            wait = self.erp.commit_wait
            raise SyncError(
                exc.code,
                f"{exc.message}. Fortnox may still create the invoice for order {entity.reference}: nothing "
                f"is created for it before {timezone.localtime(now + timedelta(seconds=wait)):%H:%M:%S} "
                "(the connector's commit wait), and then Brygga looks it up before creating anything",
                hint=exc.hint,
                retry_after=wait,
                status=exc.status,
                details={**exc.details, "create_unconfirmed": True, "commit_wait_seconds": wait},
            ) from exc
        Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
        entity.create_unconfirmed_at = None
        return invoice

    def _handle_unknown_article(
        self, entity: Entity, order: Order, customer_number: str, error: SyncError
    ) -> dict[str, Any]:
        product_parts = sorted({line.part_no for line in order.lines if line.kind == "product" and line.part_no})
        known = self.erp.known_articles(product_parts)
        missing = [part for part in product_parts if part not in known]
        if self.settings.unknown_article == "description_row" and missing:
            if self.settings.freight_article:
                known.add(self.settings.freight_article)
            payload = invoice_payload(
                order, customer_number=customer_number, settings=self.settings, known_articles=known
            )
            self.ctx.log(
                LogEntry.Level.WARNING,
                f"Order {order.order_no}: article(s) {', '.join(missing)} not in Fortnox; invoiced as text rows",
                code=ARTICLE_NOT_FOUND.code,
                entity=entity,
                hint="Create the articles in Fortnox to get stock and statistics right.",
            )
            return self._post_invoice(entity, payload)
        names = ", ".join(missing) if missing else "(named by Fortnox)"
        raise SyncError(
            ARTICLE_NOT_FOUND.code,
            f"Order {order.order_no}: article {names} does not exist in Fortnox. Fortnox said: {error.message}",
            details={**error.details, "missing_articles": missing},
        )

    def _save_reference(self, entity: Entity, number: str, *, origin: str = Reference.Origin.SYNC) -> None:
        if entity.create_unconfirmed_at is not None:  # linked by lookup: the create is settled
            Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
            entity.create_unconfirmed_at = None
        try:
            with transaction.atomic():
                Reference.objects.create(
                    integration=self.integration,
                    data_type=DATA_TYPE,
                    source_id=entity.source_id,
                    target_id=number,
                    origin=origin,
                )
        except IntegrityError:
            other = Reference.objects.get(integration=self.integration, data_type=DATA_TYPE, source_id=entity.source_id)
            if other.target_id != number:
                raise SyncError(
                    ORDER_DUPLICATE_TARGET.code,
                    f"Order {entity.reference} is already linked to invoice "
                    f"{other.target_id}, but invoice {number} was also found for it",
                    hint="Cancel the extra invoice in Fortnox; the reference keeps the first one.",
                ) from None

    def _check_totals(self, entity: Entity, order: Order, invoice: dict[str, Any]) -> None:
        if "Total" not in invoice:
            return
        ok, explanation = invoice_matches_order(invoice, order)
        if ok and explanation:  # e.g. VAT rounded per rate instead of per row: gross still exact
            self.ctx.log(
                LogEntry.Level.INFO,
                f"Order {order.order_no}: {explanation}",
                code=ORDER_VAT_ROUNDING.code,
                entity=entity,
            )
        elif not ok:
            self.ctx.log(
                LogEntry.Level.WARNING,
                f"Order {order.order_no}: {explanation}",
                code=ORDER_TOTAL_MISMATCH.code,
                entity=entity,
                hint="Compare the invoice with the order; usually a rounding or VAT setting in Fortnox.",
            )

    # customers ---------------------------------------------------------------------
    def _customer_key(self, party: Party) -> tuple[str, str, str]:
        """(reference key, Fortnox search field, value) for a buyer, per the flow's matching rules."""
        if party.kind == "company":
            match = self.settings.company_customer_match
            if match == "organisation_number" and party.organisation_number:
                return f"org:{party.organisation_number}", "organisationnumber", party.organisation_number
            if match in ("organisation_number", "email") and party.email:
                return f"email:{party.email.lower()}", "email", party.email
        else:
            match = self.settings.private_customer_match
            if match == "email" and party.email:
                return f"email:{party.email.lower()}", "email", party.email
        if self.settings.default_customer_number:
            return "default", "", ""
        raise SyncError(
            ORDER_MISSING_DATA.code,
            f"The buyer ({party.display_name or 'no name'}) has no "
            f"{'organisation number or e-mail' if party.kind == 'company' else 'e-mail'} to find the customer by",
            hint="Add it to the order in Norce, or set default_customer_number on the flow, then retry.",
        )

    def _customer_number(self, party: Party, order: Order) -> str:
        key, field_name, value = self._customer_key(party)
        if key == "default":
            return self.settings.default_customer_number
        ref = Reference.objects.filter(integration=self.integration, data_type=CUSTOMER, source_id=key).first()
        if ref is not None:
            return ref.target_id
        # One worker at a time per customer key, so a new buyer is created once. A lease on
        # the customer's Entity row, not a transaction: no lock is held while Fortnox
        # calls wait for the rate limit.
        lock_row, _ = Entity.objects.get_or_create(
            integration=self.integration,
            data_type=CUSTOMER,
            source_id=key,
            defaults={"reference": value, "label": party.display_name[:200]},
        )
        with self.ctx.holding(lock_row.pk):
            ref = Reference.objects.filter(integration=self.integration, data_type=CUSTOMER, source_id=key).first()
            if ref is not None:
                return ref.target_id
            found = self.erp.find_customer(field_name, value)
            if found is not None:
                number, origin = str(found["CustomerNumber"]), Reference.Origin.LOOKUP
            else:
                payload = customer_payload(party, order.currency or self.settings.currency)
                number, origin = str(self.erp.create_customer(payload)["CustomerNumber"]), Reference.Origin.SYNC
            Reference.objects.create(
                integration=self.integration, data_type=CUSTOMER, source_id=key, target_id=number, origin=origin
            )
            Entity.objects.filter(pk=lock_row.pk).update(
                target_id=number, status=Entity.Status.SYNCED, synced_at=timezone.now(), payload={"key": key}
            )
        return number


# --- a record without a reference, and staff asking for a new invoice anyway -----------
def may_have_invoice(entity: Entity) -> bool:
    """Whether an invoice for this order may already exist in Fortnox, so it must be looked up.

    False only for a brand-new order: its first attempt (the claim counted it), no
    create mark, and never linked (no deleted reference on its timeline).
    """
    if entity.create_started_at is not None or entity.attempts > 1:
        return True
    return LogEntry.objects.filter(entity=entity, code__in=("reference.deleted", "order.create_anyway")).exists()


def superseded_invoices(entity: Entity) -> set[str]:
    """Invoice numbers staff chose to leave behind with "Create a new invoice anyway"."""
    left: set[str] = set()
    for details in LogEntry.objects.filter(entity=entity, code=ORDER_CREATE_ANYWAY.code).values_list(
        "details", flat=True
    ):
        left.update(str(number) for number in (details or {}).get("superseded") or [])
    return left


def _invoice_summary(invoice: dict[str, Any]) -> str:
    parts = [
        f"dated {invoice['InvoiceDate']}" if invoice.get("InvoiceDate") else "",
        f"total {invoice['Total']} {invoice.get('Currency') or ''}".strip() if invoice.get("Total") is not None else "",
    ]
    return ", ".join(p for p in parts if p) or "no date or total given"


def live_invoices_for(*, entity_id: int) -> list[dict[str, Any]]:
    """The live Fortnox invoices carrying this order's reference, oldest first (for the confirmation page)."""
    entity = Entity.objects.select_related("integration").get(pk=entity_id, data_type=DATA_TYPE)
    flow = services.flow_for(entity.integration, DATA_TYPE)
    settings = parse_settings_or_error(flow.settings if flow else {})
    connectors = {c.role: c for c in entity.integration.connectors.all()}
    if "erp" not in connectors or "commerce" not in connectors:
        raise SyncError(CONNECTOR_MISSING.code, f"{entity.integration} lacks its commerce or ERP connector")
    order = parse_order(entity, query_options(connectors["commerce"], settings))
    erp = client_for(connectors["erp"])
    return erp.live_invoices(settings.reference_field, order_reference(order, settings))


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
            f"{'is' if len(numbers) == 1 else 'are'} live in Fortnox",
        )
        return task


# --- reconciliation: one live invoice per order, checked in Fortnox itself ----------------
RECONCILE = "reconcile"  # the cursor's direction (data type "order")
# Fortnox's lastmodified has minute resolution and is compared as "changed after": the window
# reaches back a little before the last run, so an invoice changed in that minute is read again.
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


def queue_due_reconciliations(*, every: timedelta | None = None) -> list[int]:
    """Queue a reconciliation for every active order flow whose last one is older than `every`
    (settings.BRYGGA["ORDER_RECONCILE_MINUTES"]); called by the sweeper each minute."""
    from django.conf import settings as django_settings

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
            integration__connectors__system="fortnox",
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
    """Read every Fortnox invoice changed since the last run and flag each order that has more
    than one live invoice carrying its reference (an unclear create that committed late, a
    create by hand). The order goes to needs attention naming both invoices; staff credit the
    extra one from admin ("Credit the extra invoice"). Nothing is created or changed in Fortnox."""
    integration = ctx.integration
    erp = ctx.client("erp")
    started = timezone.now()
    cursor = services.get_cursor(integration, DATA_TYPE, RECONCILE)
    since = (cursor - RECONCILE_OVERLAP) if cursor else started - RECONCILE_FIRST_LOOKBACK
    field, prefix = settings.reference_field, settings.reference_prefix
    numbers_by_order: dict[str, set[str]] = {}
    read = 0
    for item in erp.invoices_changed_since(since):
        read += 1
        value = str(item.get(field) or "").strip()
        if not value or (prefix and not value.startswith(prefix)) or not invoice_is_live(item):
            continue
        numbers_by_order.setdefault(value[len(prefix) :], set()).add(str(item.get("DocumentNumber")))
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
        # The list said "another one": ask Fortnox for the order's live invoices exactly.
        live = [str(i.get("DocumentNumber")) for i in erp.live_invoices(field, f"{prefix}{order_no}")]
        extra = [n for n in live if n != kept and n not in left_behind]
        if extra and flag_duplicate(ctx, entity=entity, kept=kept, extra=extra, live=live):
            flagged += 1
        ctx.heartbeat()
    if not held_back or cursor is None or started - cursor > RECONCILE_MAX_HOLD:
        services.advance_cursor(integration, DATA_TYPE, RECONCILE, started)
    ctx.log(
        LogEntry.Level.INFO,
        f"Reconciled {read} Fortnox invoice(s) changed since "
        f"{timezone.localtime(since):%Y-%m-%d %H:%M}: {flagged} order(s) with an extra live invoice",
        code=ORDER_RECONCILED.code,
        data_type=DATA_TYPE,
        details={"read": read, "flagged": flagged},
    )


def flag_duplicate(ctx, *, entity: Entity, kept: str, extra: list[str], live: list[str]) -> bool:
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
        and entity.last_error_code == "order.duplicate_invoice"
    ):
        return False
    several = len(extra) > 1
    message = (
        f"Order {entity.reference} has {len(extra) + 1} live invoices in Fortnox: {kept} (linked) and "
        f"{', '.join(extra)} (extra)"
    )
    hint = (
        f"Open the order and press 'Credit the extra invoice' to cancel or credit invoice"
        f"{'s' if several else ''} {', '.join(extra)} in Fortnox; invoice {kept} stays linked. Check in Fortnox "
        "first that the customer was not sent or paid the extra one."
    )
    Entity.objects.filter(pk=entity.pk).update(
        status=Entity.Status.NEEDS_ATTENTION,
        last_error_code="order.duplicate_invoice",
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


def duplicate_details(entity: Entity) -> dict[str, Any] | None:
    """The last duplicate found for the order ({"kept", "extra", "live"}), if any."""
    details = (
        LogEntry.objects.filter(entity=entity, code=ORDER_DUPLICATE_INVOICE.code)
        .order_by("-created_at", "-pk")
        .values_list("details", flat=True)
        .first()
    )
    return details or None


def credit_extra_invoice(*, entity_id: int, number: str, actor: str) -> str:
    """Staff confirmed: cancel (unbooked) or credit (booked) the extra invoice `number` of an order.

    Idempotent: the invoice is read from Fortnox first, and one already cancelled or credited is
    not touched again (pressing twice never makes a second credit). The row lock on the order
    serialises two presses at once. When Fortnox's answer to the credit is lost, pressing again
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
        connectors = {c.role: c for c in entity.integration.connectors.all()}
        if "erp" not in connectors or "commerce" not in connectors:
            raise SyncError(CONNECTOR_MISSING.code, f"{entity.integration} lacks its commerce or ERP connector")
        erp = client_for(connectors["erp"])
        last_unclear = (
            LogEntry.objects.filter(entity=entity, code=ORDER_CREDIT_UNCONFIRMED.code, details__invoice=number)
            .order_by("-created_at")
            .first()
        )
        if last_unclear is not None:
            ready = last_unclear.created_at + timedelta(seconds=erp.commit_wait)
            if ready > timezone.now():
                raise ValueError(
                    f"Fortnox gave no clear answer to the credit of invoice {number} at "
                    f"{timezone.localtime(last_unclear.created_at):%H:%M:%S}; it may still be saving it. "
                    f"Press again after {timezone.localtime(ready):%H:%M:%S}: Brygga then reads the "
                    "invoice and credits it only if it is still live."
                )
        flow = services.flow_for(entity.integration, DATA_TYPE)
        settings = parse_settings_or_error(flow.settings if flow else {})
        expected = order_reference(parse_order(entity, query_options(connectors["commerce"], settings)), settings)
        invoice = erp.get_invoice(number)
        if str(invoice.get(settings.reference_field) or "").strip() != expected:
            raise ValueError(
                f"Invoice {number} does not carry order {entity.reference}'s reference ({expected}); nothing was done."
            )
        done = ""
        try:
            if not invoice_is_live(invoice):
                done = "was already cancelled or credited"
            elif invoice.get("Booked") is True or str(invoice.get("Booked")).lower() == "true":
                credited = erp.credit_invoice(number)
                done = f"was credited by credit invoice {credited.get('CreditInvoiceReference') or '?'}"
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
                message=f"{actor or 'Staff'} pressed 'Credit the extra invoice' for Fortnox invoice {number} of order "
                f"{entity.reference}, but Fortnox gave no clear answer ({exc.message})",
            )
        if unclear is None:
            live = [str(i.get("DocumentNumber")) for i in erp.live_invoices(settings.reference_field, expected)]
            remaining = [n for n in live if n != reference.target_id and n not in superseded_invoices(entity)]
            if not remaining and entity.last_error_code == "order.duplicate_invoice":
                Entity.objects.filter(pk=entity.pk).update(
                    status=Entity.Status.SYNCED, last_error_code="", last_error_message=""
                )
            services.record_staff_action(
                entity=entity,
                code=ORDER_EXTRA_CREDITED.code,
                actor=actor,
                details={"invoice": number, "kept": reference.target_id, "outcome": done, "remaining": remaining},
                message=f"{actor or 'Staff'} pressed 'Credit the extra invoice': Fortnox invoice {number} of order "
                f"{entity.reference} {done}; invoice {reference.target_id} stays linked"
                + (f"; still extra: {', '.join(remaining)}" if remaining else ""),
            )
    if unclear is not None:
        ready = timezone.now() + timedelta(seconds=erp.commit_wait)
        raise ValueError(
            f"Fortnox gave no clear answer ({unclear.message}); it may still credit invoice {number}. "
            f"Press again after {timezone.localtime(ready):%H:%M:%S}: Brygga then reads the invoice "
            "and credits it only if it is still live."
        )
    return done
